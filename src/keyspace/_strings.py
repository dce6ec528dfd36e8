"""String keys (``Key[T]``): a value stored as JSON, with optimistic updates."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from . import _plan as plan
from ._errors import BindingError, ConflictError, KeyNotFoundError, OptionsError
from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle
from ._keys import INHERIT, MISSING, TTLArg
from ._plan import RETRY, Call, Exec, Flow, Sleep, Watch

if TYPE_CHECKING:
    from ._mapping import KeyspaceDict
    from ._mapping_async import AsyncKeyspaceDict

__all__ = [
    "DEFAULT_ATTEMPTS",
    "AsyncBoundKey",
    "StringOps",
    "SyncBoundKey",
    "backoff",
    "update_many_flow",
]

T = TypeVar("T")

DEFAULT_ATTEMPTS = 100
"""How often ``update()`` retries after losing to a concurrent writer.

50 tasks updating one key needed up to about 40 attempts each here; the
jittered backoff keeps such bursts short."""


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt``: full jitter, capped at 50 ms."""
    return random.uniform(0, min(0.05, 0.001 * 2**attempt))


class StringOps(KeyHandle[T]):
    """The operations of a string key, as ops and flows (no I/O)."""

    __slots__ = ()

    def _op_get(self) -> Call[T]:
        return self._op_read(renew=self._node.spec.sliding)

    def _op_read(self, renew: bool = False) -> Call[T]:
        """GET the value; ``renew`` resets a sliding TTL in the same command (GETEX).

        Reads inside WATCH never renew: GETEX counts as a write to the
        watched key and would make every attempt conflict with itself.
        """
        spec = self._node.spec
        name = self.key
        command: tuple[Any, ...] = ("GET", name)
        if renew:
            ms = self._ttl(INHERIT)
            if ms is not None:
                command = ("GETEX", name, *plan.ex_px(ms))

        def parse(reply: Any) -> T:
            if reply is not None:
                return self._unseal(reply, name)
            if spec.default is MISSING:
                raise KeyNotFoundError(f"key {name!r} does not exist and declares no default")
            value: T = spec.fresh_default()
            return value

        return Call(command, parse, name, self._kind)

    def _op_set(
        self,
        value: object,
        ttl: TTLArg = INHERIT,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> Call[bool]:
        name = self.key
        if nx and xx:
            raise OptionsError(f"set {name!r}: nx and xx exclude each other")
        if keepttl and ttl is not INHERIT:
            raise OptionsError(f"set {name!r}: keepttl and ttl exclude each other")
        data = self._seal(value, name)
        if keepttl:
            expiry: tuple[Any, ...] = ("KEEPTTL",)
        else:
            ms = self._ttl(ttl)
            expiry = () if ms is None else plan.ex_px(ms)
        condition = ("NX",) if nx else ("XX",) if xx else ()
        command = ("SET", name, data, *expiry, *condition)
        return Call(command, plan.truthy, name, self._kind)

    def _op_raw(self) -> Call[bytes | None]:
        return Call(("GET", self.key), plan.as_bytes, self.key, self._kind)

    def _op_the_type(self) -> Call[type | None]:
        name = self.key

        def parse(reply: Any) -> type | None:
            return None if reply is None else type(self._unseal(reply, name))

        return Call(("GET", name), parse, name, self._kind)

    # How a value becomes the stored bytes and back; secrets seal and unseal here.

    def _seal(self, value: Any, name: str) -> bytes:
        """Validate ``value`` (before anything is sent) and encode it for ``name``."""
        return self._node.spec.codec.dump(value)

    def _unseal(self, reply: Any, name: str) -> T:
        """Decode the stored bytes of ``name``."""
        loaded: T = self._node.spec.codec.load(reply, key=name)
        return loaded

    def _family(self) -> dict[str, Any]:
        """What a mapping view over this key family needs (``as_dict()``)."""
        node = self._node
        if self._name is not None or len(node.own_params) != 1:
            raise BindingError(
                f"{node.where}: as_dict() views a key with exactly one unbound placeholder,"
                " such as repo.user(1).messages.message.as_dict()"
            )
        return {
            "prefix": self._prefix,
            "template": node.spec.template,
            "values": self._values,
            "param": node.own_params[0],
            "codec": node.spec.codec,
            "ttl_ms": self._ttl(INHERIT),
            "where": node.where,
        }

    def _flow_update(self, fn: Callable[[T], T], attempts: int) -> Flow[T]:
        """WATCH, read, ``fn``, validate, write in MULTI/EXEC; retry on conflict."""
        name = self.key
        _check_attempts(attempts)
        read = self._op_read()
        for attempt in range(attempts):
            yield Watch((name,))
            current = yield read
            if current is RETRY:
                yield Sleep(backoff(attempt))
                continue
            new = fn(current)
            write = self._op_set(new)
            if (yield Exec((write.command,))) is not None:
                return new
            yield Sleep(backoff(attempt))
        raise ConflictError(
            f"update of {name!r} lost to concurrent writers {attempts} times; retry later"
            " or raise attempts="
        )


class AsyncBoundKey(AsyncKey[T], StringOps[T]):
    """A string key of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()

    async def get(self) -> T:
        """The stored value, validated; a fresh copy of the declared default when missing.

        Raises ``KeyNotFoundError`` when the key is missing and declares no default.
        """
        return await self._rt.executor.call(self._op_get())

    async def set(
        self,
        value: T,
        ttl: TTLArg = INHERIT,
        *,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Validate ``value``, then write it and its TTL in one command.

        Returns whether it was written (``nx``/``xx`` may prevent it).
        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return await self._rt.executor.call(self._op_set(value, ttl, nx, xx, keepttl))

    async def raw(self) -> bytes | None:
        """The stored bytes, undecoded; ``None`` when missing."""
        return await self._rt.executor.call(self._op_raw())

    def as_dict(self) -> AsyncKeyspaceDict[Any, T]:
        """A mapping view over this key family, keyed by its one unbound placeholder.

        ``repo.user(1).messages.message.as_dict()`` maps each ``message_id``
        (parsed back to its type) to the stored message; writes use the key's
        TTL.
        """
        from ._mapping_async import AsyncKeyspaceDict

        return AsyncKeyspaceDict._for_family(self._rt, **self._family())

    async def update(self, fn: Callable[[T], T], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
        """Atomically replace the value with ``fn(current)``; return the new value.

        Optimistic: WATCH the key, read, compute, write in MULTI/EXEC, and
        start over when another client wrote in between (with jittered
        backoff), at most ``attempts`` times, then raise ``ConflictError``.
        ``fn`` may run several times, so it must not have side effects.
        """
        return await self._rt.executor.run(self._flow_update(fn, attempts))


class SyncBoundKey(SyncKey[T], StringOps[T]):
    """A string key of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> T:
        """The stored value, validated; a fresh copy of the declared default when missing.

        Raises ``KeyNotFoundError`` when the key is missing and declares no default.
        """
        return self._rt.executor.call(self._op_get())

    def set(
        self,
        value: T,
        ttl: TTLArg = INHERIT,
        *,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Validate ``value``, then write it and its TTL in one command.

        Returns whether it was written (``nx``/``xx`` may prevent it).
        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return self._rt.executor.call(self._op_set(value, ttl, nx, xx, keepttl))

    def raw(self) -> bytes | None:
        """The stored bytes, undecoded; ``None`` when missing."""
        return self._rt.executor.call(self._op_raw())

    def as_dict(self) -> KeyspaceDict[Any, T]:
        """A mapping view over this key family, keyed by its one unbound placeholder.

        ``repo.user(1).messages.message.as_dict()`` maps each ``message_id``
        (parsed back to its type) to the stored message; writes use the key's
        TTL.
        """
        from ._mapping import KeyspaceDict

        return KeyspaceDict._for_family(self._rt, **self._family())

    def update(self, fn: Callable[[T], T], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
        """Atomically replace the value with ``fn(current)``; return the new value.

        Optimistic: WATCH the key, read, compute, write in MULTI/EXEC, and
        start over when another client wrote in between (with jittered
        backoff), at most ``attempts`` times, then raise ``ConflictError``.
        ``fn`` may run several times, so it must not have side effects.
        """
        return self._rt.executor.run(self._flow_update(fn, attempts))


def update_many_flow(
    keys: Sequence[KeyHandle[Any]], fn: Callable[..., Sequence[Any]], attempts: int
) -> Flow[list[Any]]:
    """``update()`` across several string keys: WATCH all, read all, write all in one EXEC."""
    _check_attempts(attempts)
    handles = [_string_handle(key) for key in keys]
    names = tuple(handle.key for handle in handles)
    for attempt in range(attempts):
        yield Watch(names)
        current = []
        for handle in handles:
            current.append((yield handle._op_read()))
        if RETRY in current:
            yield Sleep(backoff(attempt))
            continue
        new = list(fn(*current))
        if len(new) != len(handles):
            raise OptionsError(f"update of {list(names)}: fn returned {len(new)} values")
        writes = tuple(h._op_set(v).command for h, v in zip(handles, new, strict=True))
        if (yield Exec(writes)) is not None:
            return new
        yield Sleep(backoff(attempt))
    raise ConflictError(
        f"update of {list(names)} lost to concurrent writers {attempts} times; retry later"
        " or raise attempts="
    )


def _check_attempts(attempts: int) -> None:
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise OptionsError(f"update(attempts={attempts!r}): attempts must be an int >= 1")


def _string_handle(key: KeyHandle[Any]) -> StringOps[Any]:
    if not isinstance(key, StringOps):
        raise OptionsError(f"update() works on string keys (Key[T]); {key!r} is not one")
    return key
