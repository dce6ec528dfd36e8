"""Counters (``Counter`` and ``FloatCounter``): a number with atomic increments.

A counter is a Redis string holding the number as text (``42``, ``1.5``), which
is also its JSON, so other programs can read it and ``INCRBY`` /
``INCRBYFLOAT`` can change it atomically. One handle class serves both kinds;
the declared kind decides between integer and float commands. Every write
applies the key's TTL in the same round trip.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AllowInfNan, Field, Strict, TypeAdapter

from . import _plan as plan
from ._errors import CorruptValueError
from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle
from ._keys import INHERIT, TTLArg
from ._plan import Batch, Call

__all__ = ["AsyncCounterKey", "CounterOps", "SyncCounterKey"]

N = TypeVar("N")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# What a counter may hold (INCRBY takes 64-bit integers, INCRBYFLOAT refuses
# infinities and NaN), in lax and in strict mode; and what ``by`` may be: a
# strict number (no bool, and no float for a Counter) whose negation also fits,
# so that decr(by) never overflows on the way.
_VALUES: dict[tuple[type, bool], TypeAdapter[Any]] = {
    (int, False): TypeAdapter(Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]),
    (int, True): TypeAdapter(Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX)]),
    (float, False): TypeAdapter(Annotated[float, AllowInfNan(False)]),
    (float, True): TypeAdapter(Annotated[float, Strict(), AllowInfNan(False)]),
}
_STEPS: dict[type, TypeAdapter[Any]] = {
    int: TypeAdapter(Annotated[int, Strict(), Field(ge=-INT64_MAX, le=INT64_MAX)]),
    float: TypeAdapter(Annotated[float, Strict(), AllowInfNan(False)]),
}


def _number(kind: type, reply: Any) -> Any:
    """An INCRBY/INCRBYFLOAT reply (bytes, str, or a number after redis-py's callbacks)."""
    return kind(reply if isinstance(reply, (int, float)) else plan.as_text(reply))


class CounterOps(KeyHandle[N]):
    """The operations of a ``Counter`` (``N`` is ``int``) or ``FloatCounter`` (``float``)."""

    __slots__ = ()

    @property
    def _number_type(self) -> type:
        number: type = self._node.spec.kind.fixed_type
        return number

    def _op_get(self) -> Call[N]:
        spec = self._node.spec
        name = self.key
        default = spec.default_factory
        command: tuple[Any, ...] = ("GET", name)
        if spec.sliding:
            ms = self._ttl(INHERIT)
            if ms is not None:
                command = ("GETEX", name, *plan.ex_px(ms))

        def parse(reply: Any) -> N:
            if reply is None:
                value: N = default() if default is not None else spec.kind.implicit_default()
                return value
            loaded: N = spec.codec.load(reply, key=name)
            return loaded

        return Call(command, parse, name, self._kind)

    def _op_set(self, value: N, ttl: TTLArg = INHERIT) -> Call[None]:
        name = self.key
        spec = self._node.spec
        checked = _VALUES[self._number_type, spec.codec.strict].validate_python(value)
        data = spec.codec.dump(checked)
        command: tuple[Any, ...] = ("SET", name, data)
        ms = self._ttl(ttl)
        if ms is not None:
            command = (*command, *plan.ex_px(ms))
        return Call(command, _none, name, self._kind)

    def _step(self, by: object, negate: bool) -> Batch[N]:
        name = self.key
        number = self._number_type
        amount = _STEPS[number].validate_python(by)
        command: tuple[Any, ...]
        if number is float:
            command = ("INCRBYFLOAT", name, -amount if negate else amount)
        else:
            command = ("DECRBY" if negate else "INCRBY", name, amount)
        return Batch(
            self._with_ttl(name, (command,)),
            lambda replies: _number(number, replies[0]),
            name,
            self._kind,
            on_error=lambda error: CorruptValueError(
                f"key {name!r} is declared as {self._kind} but holds a value {command[0]}"
                f" cannot add to: {error}"
            ),
        )

    def _op_incr(self, by: N | int = 1) -> Batch[N]:
        return self._step(by, negate=False)

    def _op_decr(self, by: N | int = 1) -> Batch[N]:
        return self._step(by, negate=True)

    def _op_the_type(self) -> Call[type | None]:
        # GET, not TYPE: a string that is not a number is no counter.
        spec = self._node.spec
        name = self.key

        def parse(reply: Any) -> type | None:
            return None if reply is None else type(spec.codec.load(reply, key=name))

        return Call(("GET", name), parse, name, self._kind)


def _none(reply: Any) -> None:
    return None


class AsyncCounterKey(AsyncKey[N], CounterOps[N]):
    """A ``Counter`` or ``FloatCounter`` of a :class:`Repository`; I/O methods are coroutines."""

    __slots__ = ()

    async def get(self) -> N:
        """The stored number; the declared default (``0`` / ``0.0``) when missing.

        Raises ``CorruptValueError`` naming the key when it holds something else.
        """
        return await self._rt.executor.call(self._op_get())

    async def set(self, value: N, ttl: TTLArg = INHERIT) -> None:
        """Validate ``value``, then write it and its TTL in one ``SET``.

        A ``Counter`` takes a 64-bit integer, a ``FloatCounter`` a finite float.
        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return await self._rt.executor.call(self._op_set(value, ttl))

    async def incr(self, by: N | int = 1) -> N:
        """Add ``by`` atomically and apply the TTL, in one MULTI/EXEC; the new value.

        ``INCRBY`` (``INCRBYFLOAT`` for a ``FloatCounter``); a missing counter
        counts from 0. ``by`` must be an ``int`` for a ``Counter`` (a ``bool`` or
        ``float`` raises ``ValidationError``), an ``int`` or finite ``float`` for
        a ``FloatCounter``.
        """
        return await self._rt.executor.call(self._op_incr(by))

    async def decr(self, by: N | int = 1) -> N:
        """Subtract ``by`` atomically and apply the TTL, in one MULTI/EXEC; the new value.

        ``DECRBY`` (``INCRBYFLOAT -by`` for a ``FloatCounter``); ``by`` as for
        :meth:`incr`.
        """
        return await self._rt.executor.call(self._op_decr(by))


class SyncCounterKey(SyncKey[N], CounterOps[N]):
    """A ``Counter`` or ``FloatCounter`` of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> N:
        """The stored number; the declared default (``0`` / ``0.0``) when missing.

        Raises ``CorruptValueError`` naming the key when it holds something else.
        """
        return self._rt.executor.call(self._op_get())

    def set(self, value: N, ttl: TTLArg = INHERIT) -> None:
        """Validate ``value``, then write it and its TTL in one ``SET``.

        A ``Counter`` takes a 64-bit integer, a ``FloatCounter`` a finite float.
        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return self._rt.executor.call(self._op_set(value, ttl))

    def incr(self, by: N | int = 1) -> N:
        """Add ``by`` atomically and apply the TTL, in one MULTI/EXEC; the new value.

        ``INCRBY`` (``INCRBYFLOAT`` for a ``FloatCounter``); a missing counter
        counts from 0. ``by`` must be an ``int`` for a ``Counter`` (a ``bool`` or
        ``float`` raises ``ValidationError``), an ``int`` or finite ``float`` for
        a ``FloatCounter``.
        """
        return self._rt.executor.call(self._op_incr(by))

    def decr(self, by: N | int = 1) -> N:
        """Subtract ``by`` atomically and apply the TTL, in one MULTI/EXEC; the new value.

        ``DECRBY`` (``INCRBYFLOAT -by`` for a ``FloatCounter``); ``by`` as for
        :meth:`incr`.
        """
        return self._rt.executor.call(self._op_decr(by))
