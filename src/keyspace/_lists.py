"""List keys (``ListKey[T]``): a Redis list whose members are ``T``, each stored as JSON.

Indexes follow Redis, not Python slices: they may be negative (``-1`` is the
last member) and ``range(start, stop)`` includes ``stop``. Every write that
adds members (``set``, ``push``, ``push_left``) applies the key's TTL in the
same MULTI/EXEC; removals (``pop*``, ``trim``, ``remove``) leave the TTL as it
is. A key declared ``sliding=True`` has its TTL renewed by every read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ._codec import codec_for
from ._errors import OptionsError
from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle
from ._keys import INHERIT, TTLArg
from ._plan import Batch, Call, Command, Op

__all__ = ["AsyncListKey", "ListOps", "SyncListKey"]

T = TypeVar("T")
R = TypeVar("R")

_INT64 = (-(2**63), 2**63 - 1)


def _integer(value: object, what: str) -> int:
    """An index or count argument: an ``int`` (not a ``bool``) that Redis accepts."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionsError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise OptionsError(f"{what} {value} is out of the 64-bit range Redis accepts")
    return value


def _items(reply: Any) -> list[Any]:
    """A multi-member reply (list, tuple or nil) as a list."""
    return [] if reply is None else list(reply)


class ListOps(KeyHandle[T]):
    """The operations of a ``ListKey[T]``, as ops (no I/O)."""

    __slots__ = ()

    # -- helpers ----------------------------------------------------------------------

    def _members(self) -> Callable[[Any], list[T]]:
        load = self._loader()
        return lambda reply: [load(member) for member in _items(reply)]

    def _member(self) -> Callable[[Any], T | None]:
        load = self._loader()
        return lambda reply: None if reply is None else load(reply)

    def _encode(self, values: tuple[Any, ...]) -> list[bytes]:
        dump = self._node.spec.codec.dump
        return [dump(value) for value in values]  # validates every value before sending

    # -- whole list -------------------------------------------------------------------

    def _op_get(self) -> Op[list[T]]:
        default = self._node.spec.default_factory
        members = self._members()

        def parse(reply: Any) -> list[T]:
            if not reply:  # Redis holds no empty list: the key is missing
                return default() if default is not None else []
            return members(reply)

        return self._read(("LRANGE", self.key, 0, -1), parse)

    def _op_set(self, values: Iterable[T], ttl: TTLArg = INHERIT) -> Batch[None]:
        name = self.key
        spec = self._node.spec
        # The whole list first (pydantic's error then says which item is wrong), then each
        # member with the member codec, which is what reads decode.
        whole = codec_for(spec.annotation, strict=spec.codec.strict).validate(values)
        data = self._encode(tuple(whole))
        self._ttl(ttl)  # a bad ttl= raises before anything is sent, also for an empty list
        if not data:
            return Batch((("DEL", name),), _none, name, self._kind)
        commands: tuple[Command, ...] = (("DEL", name), ("RPUSH", name, *data))
        return Batch(self._with_ttl(name, commands, ttl), _none, name, self._kind)

    # -- adding -----------------------------------------------------------------------

    def _push(self, word: str, values: tuple[T, ...]) -> Op[int]:
        data = self._encode(values)
        if not data:  # nothing to write: report the length, leave the TTL alone
            return self._op_length()
        return self._write(((word, self.key, *data),), lambda replies: int(replies[0]))

    def _op_push(self, *values: T) -> Op[int]:
        return self._push("RPUSH", values)

    def _op_push_left(self, *values: T) -> Op[int]:
        return self._push("LPUSH", values)

    # -- removing ---------------------------------------------------------------------

    def _op_pop(self) -> Call[T | None]:
        return Call(("RPOP", self.key), self._member(), self.key, self._kind)

    def _op_pop_left(self) -> Call[T | None]:
        return Call(("LPOP", self.key), self._member(), self.key, self._kind)

    def _op_pop_many(self, count: int, *, left: bool = False) -> Call[list[T]]:
        name = self.key
        if _integer(count, f"pop_many of {name!r}: count") < 1:
            raise OptionsError(f"pop_many of {name!r}: count must be at least 1, got {count}")
        return Call(("LPOP" if left else "RPOP", name, count), self._members(), name, self._kind)

    def _op_blocking_pop(self, timeout: float, *, left: bool = False) -> Call[T | None]:
        name = self.key
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise OptionsError(
                f"blocking_pop of {name!r}: timeout must be a positive number of seconds,"
                f" got {timeout!r} (Redis's 0, wait forever, is not offered: loop instead)"
            )
        member = self._member()

        def parse(reply: Any) -> T | None:
            # (key, member) or [key, member], or nil on timeout.
            return None if reply is None else member(reply[1])

        return Call(("BLPOP" if left else "BRPOP", name, timeout), parse, name, self._kind)

    def _op_trim(self, start: int, stop: int) -> Call[None]:
        name = self.key
        start = _integer(start, f"trim of {name!r}: start")
        stop = _integer(stop, f"trim of {name!r}: stop")
        return Call(("LTRIM", name, start, stop), _none, name, self._kind)

    def _op_remove(self, value: T, count: int = 0) -> Call[int]:
        name = self.key
        count = _integer(count, f"remove of {name!r}: count")
        data = self._node.spec.codec.dump(value)
        return Call(("LREM", name, count, data), int, name, self._kind)

    # -- reading ----------------------------------------------------------------------

    def _op_range(self, start: int = 0, stop: int = -1) -> Op[list[T]]:
        name = self.key
        start = _integer(start, f"range of {name!r}: start")
        stop = _integer(stop, f"range of {name!r}: stop")
        return self._read(("LRANGE", name, start, stop), self._members())

    def _op_index(self, index: int) -> Op[T | None]:
        name = self.key
        index = _integer(index, f"index of {name!r}: index")
        return self._read(("LINDEX", name, index), self._member())

    def _op_length(self) -> Op[int]:
        return self._read(("LLEN", self.key), int)


def _none(reply: Any) -> None:
    return None


class AsyncListKey(AsyncKey[T], ListOps[T]):
    """A ``ListKey[T]`` of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()

    async def get(self) -> list[T]:
        """Every member, in order (``LRANGE 0 -1``); the declared default when missing.

        Without a declared default a missing list reads as ``[]`` (a fresh one).
        """
        return await self._rt.executor.call(self._op_get())

    async def set(self, values: Iterable[T], ttl: TTLArg = INHERIT) -> None:
        """Replace the whole list with ``values`` and apply the TTL, in one MULTI/EXEC.

        Like ``SET``, it replaces whatever the key held, of any Redis type. An
        empty ``values`` deletes the key (Redis holds no empty list). Raises
        pydantic's ``ValidationError`` before anything is sent.
        """
        return await self._rt.executor.call(self._op_set(values, ttl))

    async def push(self, *values: T) -> int:
        """Append ``values`` at the tail (``RPUSH``) and apply the TTL; the new length.

        With no values nothing is written and the current length is returned.
        """
        return await self._rt.executor.call(self._op_push(*values))

    async def push_left(self, *values: T) -> int:
        """Prepend ``values`` one by one at the head (``LPUSH``: the last ends first).

        Applies the TTL; returns the new length. With no values nothing is written.
        """
        return await self._rt.executor.call(self._op_push_left(*values))

    async def pop(self) -> T | None:
        """Remove and return the last member (``RPOP``); ``None`` when the list is empty."""
        return await self._rt.executor.call(self._op_pop())

    async def pop_left(self) -> T | None:
        """Remove and return the first member (``LPOP``); ``None`` when the list is empty."""
        return await self._rt.executor.call(self._op_pop_left())

    async def pop_many(self, count: int, *, left: bool = False) -> list[T]:
        """Remove and return up to ``count`` members from the tail, last first.

        ``RPOP key count``; ``left=True`` takes them from the head, first first (``LPOP``). An empty
        or missing list gives ``[]``. Needs Redis 6.2.
        """
        return await self._rt.executor.call(self._op_pop_many(count, left=left))

    async def blocking_pop(self, timeout: float, *, left: bool = False) -> T | None:
        """Pop the last member (the first with ``left=True``), waiting for one to arrive.

        ``BRPOP`` / ``BLPOP``: waits at most ``timeout`` seconds (a positive
        number; fractions allowed) and returns ``None`` when none arrived. The
        wait holds a connection; the client's ``socket_timeout``, if any, must be
        longer than ``timeout``. Inside a transaction Redis does not block.
        """
        return await self._rt.executor.call(self._op_blocking_pop(timeout, left=left))

    async def range(self, start: int = 0, stop: int = -1) -> list[T]:
        """Members ``start`` to ``stop``, both *inclusive*, as Redis counts (``LRANGE``).

        Negative indexes count from the end; a missing list gives ``[]``.
        """
        return await self._rt.executor.call(self._op_range(start, stop))

    async def index(self, index: int) -> T | None:
        """The member at ``index`` (``LINDEX``; ``-1`` is the last); ``None`` when out of range."""
        return await self._rt.executor.call(self._op_index(index))

    async def length(self) -> int:
        """The number of members (``LLEN``); ``0`` when missing."""
        return await self._rt.executor.call(self._op_length())

    async def trim(self, start: int, stop: int) -> None:
        """Keep only members ``start`` to ``stop``, both inclusive (``LTRIM``).

        The TTL is left as it is; keeping nothing deletes the key.
        """
        return await self._rt.executor.call(self._op_trim(start, stop))

    async def remove(self, value: T, count: int = 0) -> int:
        """Remove members equal to ``value`` (``LREM``); how many were removed.

        ``count`` > 0 removes that many from the head, < 0 from the tail, 0 all.
        ``value`` is validated and matched by its stored JSON.
        """
        return await self._rt.executor.call(self._op_remove(value, count))


class SyncListKey(SyncKey[T], ListOps[T]):
    """A ``ListKey[T]`` of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> list[T]:
        """Every member, in order (``LRANGE 0 -1``); the declared default when missing.

        Without a declared default a missing list reads as ``[]`` (a fresh one).
        """
        return self._rt.executor.call(self._op_get())

    def set(self, values: Iterable[T], ttl: TTLArg = INHERIT) -> None:
        """Replace the whole list with ``values`` and apply the TTL, in one MULTI/EXEC.

        Like ``SET``, it replaces whatever the key held, of any Redis type. An
        empty ``values`` deletes the key (Redis holds no empty list). Raises
        pydantic's ``ValidationError`` before anything is sent.
        """
        return self._rt.executor.call(self._op_set(values, ttl))

    def push(self, *values: T) -> int:
        """Append ``values`` at the tail (``RPUSH``) and apply the TTL; the new length.

        With no values nothing is written and the current length is returned.
        """
        return self._rt.executor.call(self._op_push(*values))

    def push_left(self, *values: T) -> int:
        """Prepend ``values`` one by one at the head (``LPUSH``: the last ends first).

        Applies the TTL; returns the new length. With no values nothing is written.
        """
        return self._rt.executor.call(self._op_push_left(*values))

    def pop(self) -> T | None:
        """Remove and return the last member (``RPOP``); ``None`` when the list is empty."""
        return self._rt.executor.call(self._op_pop())

    def pop_left(self) -> T | None:
        """Remove and return the first member (``LPOP``); ``None`` when the list is empty."""
        return self._rt.executor.call(self._op_pop_left())

    def pop_many(self, count: int, *, left: bool = False) -> list[T]:
        """Remove and return up to ``count`` members from the tail, last first.

        ``RPOP key count``; ``left=True`` takes them from the head, first first (``LPOP``). An empty
        or missing list gives ``[]``. Needs Redis 6.2.
        """
        return self._rt.executor.call(self._op_pop_many(count, left=left))

    def blocking_pop(self, timeout: float, *, left: bool = False) -> T | None:
        """Pop the last member (the first with ``left=True``), waiting for one to arrive.

        ``BRPOP`` / ``BLPOP``: waits at most ``timeout`` seconds (a positive
        number; fractions allowed) and returns ``None`` when none arrived. The
        wait holds a connection; the client's ``socket_timeout``, if any, must be
        longer than ``timeout``. Inside a transaction Redis does not block.
        """
        return self._rt.executor.call(self._op_blocking_pop(timeout, left=left))

    def range(self, start: int = 0, stop: int = -1) -> list[T]:
        """Members ``start`` to ``stop``, both *inclusive*, as Redis counts (``LRANGE``).

        Negative indexes count from the end; a missing list gives ``[]``.
        """
        return self._rt.executor.call(self._op_range(start, stop))

    def index(self, index: int) -> T | None:
        """The member at ``index`` (``LINDEX``; ``-1`` is the last); ``None`` when out of range."""
        return self._rt.executor.call(self._op_index(index))

    def length(self) -> int:
        """The number of members (``LLEN``); ``0`` when missing."""
        return self._rt.executor.call(self._op_length())

    def trim(self, start: int, stop: int) -> None:
        """Keep only members ``start`` to ``stop``, both inclusive (``LTRIM``).

        The TTL is left as it is; keeping nothing deletes the key.
        """
        return self._rt.executor.call(self._op_trim(start, stop))

    def remove(self, value: T, count: int = 0) -> int:
        """Remove members equal to ``value`` (``LREM``); how many were removed.

        ``count`` > 0 removes that many from the head, < 0 from the tail, 0 all.
        ``value`` is validated and matched by its stored JSON.
        """
        return self._rt.executor.call(self._op_remove(value, count))
