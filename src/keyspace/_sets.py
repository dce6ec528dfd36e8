"""Set keys (``SetKey[T]``): a Redis set whose members are the JSON of ``T``.

Redis compares set members (and sorted-set members) byte for byte, so a member
must always be written as the same bytes. pydantic's JSON is deterministic for
scalars, tuples, frozen models and frozen dataclasses; members are checked
before anything is sent and :class:`UnsupportedValueError` is raised for:

- unhashable values (``list``, ``dict``, models that are not ``frozen``): they
  could not be members of the ``set`` (or keys of the ``dict``) ``get()`` returns;
- values holding a ``set``/``frozenset`` of two or more items, or a model with
  two or more extra fields: their JSON order is arbitrary.

Values that are equal in Python but written differently stay distinct members in
Redis: ``1`` and ``1.0`` in a ``SetKey[int | float]``, ``Decimal("1.0")`` and
``Decimal("1.00")``, or one instant in two time zones. ``length()`` counts them
apart, while ``get()`` (a Python ``set``) merges them.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from . import _plan as plan
from ._codec import Codec
from ._errors import OptionsError, UnsupportedValueError
from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle
from ._keys import INHERIT, TTLArg
from ._plan import Batch, Call, Command, Op

__all__ = ["AsyncSetKey", "CollectionOps", "SetOps", "SyncSetKey", "check_count", "encode_member"]

T = TypeVar("T")
R = TypeVar("R")

# Types whose JSON is one deterministic scalar: no further check needed.
_ATOMS = frozenset(
    {str, int, float, bool, type(None), bytes, datetime, date, time, timedelta, Decimal, UUID}
)


def encode_member(codec: Codec[Any], value: object, where: str) -> bytes:
    """Validate a set or sorted-set member and return its JSON, refusing non-canonical values."""
    member = codec.validate(value)
    if type(member) not in _ATOMS:
        try:
            hash(member)
        except TypeError:
            raise UnsupportedValueError(
                f"{where}: a member must be hashable, got {type(member).__name__} {member!r};"
                " use tuples, frozen models or frozen dataclasses"
            ) from None
        reason = _unordered(member)
        if reason is not None:
            raise UnsupportedValueError(
                f"{where}: the member {member!r} holds {reason}, whose JSON order is arbitrary,"
                " so equal members could be stored as different bytes"
            )
    return codec.dump(member)


def _unordered(value: object) -> str | None:
    """Why the JSON of ``value`` may depend on iteration order, or ``None``."""
    if type(value) in _ATOMS or isinstance(value, Enum):
        return None
    items: Iterable[object] = ()
    if isinstance(value, (set, frozenset, dict)):
        if len(value) > 1:
            return f"a {type(value).__name__} of {len(value)} items"
        items = value.values() if isinstance(value, dict) else value
    elif isinstance(value, (tuple, list)):
        items = value
    elif isinstance(value, BaseModel):
        extra = value.__pydantic_extra__ or {}
        if len(extra) > 1:
            return f"{len(extra)} extra fields"
        items = (*value.__dict__.values(), *extra.values())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = (getattr(value, f.name) for f in dataclasses.fields(value))
    for item in items:
        reason = _unordered(item)
        if reason is not None:
            return reason
    return None


def check_count(value: object, what: str, where: str) -> int:
    """``value`` if it is an ``int >= 0``, else :class:`OptionsError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise OptionsError(f"{where}: {what} must be an int >= 0, got {value!r}")
    return value


class CollectionOps(KeyHandle[T]):
    """What set and sorted-set ops share: member encoding and (sliding) reads."""

    __slots__ = ()

    def _member(self, value: object) -> bytes:
        return encode_member(self._node.spec.codec, value, self._node.where)

    def _members(self, values: Iterable[object]) -> list[bytes]:
        """Encoded members, duplicates (after validation) dropped, first occurrence kept."""
        return list(dict.fromkeys(self._member(value) for value in values))

    def _write_first(self, commands: tuple[Command, ...], parse: Callable[[Any], R]) -> Batch[R]:
        """``_write`` whose ``parse`` reads the first reply only."""
        return self._write(commands, lambda replies: parse(replies[0]))

    def _nothing(self, result: R) -> Batch[R]:
        """An op that sends nothing (``add()`` of no members): Redis refuses empty commands."""
        return Batch((), lambda replies: result, self.key, self._kind)

    def _decode_list(self) -> Callable[[Any], list[T]]:
        load = self._loader()
        return lambda reply: [load(member) for member in reply or ()]

    def _default(self) -> Any:
        factory = self._node.spec.default_factory
        return None if factory is None else factory()


class SetOps(CollectionOps[T]):
    """The operations of a set key, as ops (no I/O)."""

    __slots__ = ()

    def _decode_set(self) -> Callable[[Any], set[T]]:
        load = self._loader()
        return lambda reply: {load(member) for member in reply or ()}

    def _decode_one(self) -> Callable[[Any], T | None]:
        load = self._loader()
        return lambda reply: None if reply is None else load(reply)

    def _op_get(self) -> Op[set[T]]:
        members = self._decode_set()
        default = self._default

        def parse(reply: Any) -> set[T]:
            return members(reply) if reply else default()

        return self._read(("SMEMBERS", self.key), parse)

    def _op_set(self, values: Iterable[T], ttl: TTLArg = INHERIT) -> Batch[None]:
        name = self.key
        if isinstance(values, (str, bytes, bytearray)):
            raise UnsupportedValueError(
                f"{self._node.where}: set() takes a collection of members,"
                f" not a {type(values).__name__}"
            )
        members = self._members(values)
        self._ttl(ttl)  # a bad ttl= raises even when the set is empty
        if not members:
            return Batch((("DEL", name),), lambda replies: None, name, self._kind)
        commands = self._with_ttl(name, (("DEL", name), ("SADD", name, *members)), ttl)
        return Batch(commands, lambda replies: None, name, self._kind)

    def _op_add(self, *members: T) -> Op[int]:
        encoded = self._members(members)
        if not encoded:
            return self._nothing(0)
        return self._write_first((("SADD", self.key, *encoded),), int)

    def _op_remove(self, *members: T) -> Op[int]:
        encoded = self._members(members)
        if not encoded:
            return self._nothing(0)
        return Call(("SREM", self.key, *encoded), int, self.key, self._kind)

    def _op_members(self) -> Op[set[T]]:
        return self._read(("SMEMBERS", self.key), self._decode_set())

    def _op_contains(self, member: T) -> Op[bool]:
        return self._read(("SISMEMBER", self.key, self._member(member)), plan.truthy)

    def _op_length(self) -> Op[int]:
        return self._read(("SCARD", self.key), int)

    def _op_random(self) -> Op[T | None]:
        return self._read(("SRANDMEMBER", self.key), self._decode_one())

    def _op_random_many(self, count: int, *, unique: bool = True) -> Op[list[T]]:
        count = check_count(count, "count", f"{self._node.where} random_many()")
        if count == 0:
            return self._nothing([])
        command = ("SRANDMEMBER", self.key, count if unique else -count)
        return self._read(command, self._decode_list())

    def _op_pop(self) -> Op[T | None]:
        return Call(("SPOP", self.key), self._decode_one(), self.key, self._kind)

    def _op_pop_many(self, count: int) -> Op[list[T]]:
        count = check_count(count, "count", f"{self._node.where} pop_many()")
        if count == 0:
            return self._nothing([])
        return Call(("SPOP", self.key, count), self._decode_list(), self.key, self._kind)


class AsyncSetKey(AsyncKey[T], SetOps[T]):
    """A set key of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()

    async def get(self) -> set[T]:
        """Every member (``SMEMBERS``); when missing, a copy of the default (``set()``)."""
        return await self._rt.executor.call(self._op_get())

    async def set(self, values: Iterable[T], ttl: TTLArg = INHERIT) -> None:
        """Replace the whole set and apply its TTL in one MULTI/EXEC; an empty one deletes the key.

        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return await self._rt.executor.call(self._op_set(values, ttl))

    async def add(self, *members: T) -> int:
        """Add members (``SADD``) and apply the key's TTL in one MULTI/EXEC; how many were new."""
        return await self._rt.executor.call(self._op_add(*members))

    async def remove(self, *members: T) -> int:
        """Remove members (``SREM``); how many were there. The TTL is left as it is."""
        return await self._rt.executor.call(self._op_remove(*members))

    async def members(self) -> builtins.set[T]:
        """Every member (``SMEMBERS``); ``set()`` when the key is missing, whatever the default."""
        return await self._rt.executor.call(self._op_members())

    async def contains(self, member: T) -> bool:
        """Whether ``member`` (validated first) is in the set (``SISMEMBER``)."""
        return await self._rt.executor.call(self._op_contains(member))

    async def length(self) -> int:
        """How many members the set has (``SCARD``); 0 when missing."""
        return await self._rt.executor.call(self._op_length())

    async def random(self) -> T | None:
        """One random member, left in place (``SRANDMEMBER``); ``None`` when the set is empty."""
        return await self._rt.executor.call(self._op_random())

    async def random_many(self, count: int, *, unique: bool = True) -> list[T]:
        """Up to ``count`` distinct random members (``SRANDMEMBER``), left in place.

        With ``unique=False``: exactly ``count`` members, maybe repeated (empty if the set is).
        """
        return await self._rt.executor.call(self._op_random_many(count, unique=unique))

    async def pop(self) -> T | None:
        """Remove and return one random member (``SPOP``); ``None`` when the set is empty."""
        return await self._rt.executor.call(self._op_pop())

    async def pop_many(self, count: int) -> list[T]:
        """Remove and return up to ``count`` random members (``SPOP key count``)."""
        return await self._rt.executor.call(self._op_pop_many(count))


class SyncSetKey(SyncKey[T], SetOps[T]):
    """A set key of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> set[T]:
        """Every member (``SMEMBERS``); when missing, a copy of the default (``set()``)."""
        return self._rt.executor.call(self._op_get())

    def set(self, values: Iterable[T], ttl: TTLArg = INHERIT) -> None:
        """Replace the whole set and apply its TTL in one MULTI/EXEC; an empty one deletes the key.

        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return self._rt.executor.call(self._op_set(values, ttl))

    def add(self, *members: T) -> int:
        """Add members (``SADD``) and apply the key's TTL in one MULTI/EXEC; how many were new."""
        return self._rt.executor.call(self._op_add(*members))

    def remove(self, *members: T) -> int:
        """Remove members (``SREM``); how many were there. The TTL is left as it is."""
        return self._rt.executor.call(self._op_remove(*members))

    def members(self) -> builtins.set[T]:
        """Every member (``SMEMBERS``); ``set()`` when the key is missing, whatever the default."""
        return self._rt.executor.call(self._op_members())

    def contains(self, member: T) -> bool:
        """Whether ``member`` (validated first) is in the set (``SISMEMBER``)."""
        return self._rt.executor.call(self._op_contains(member))

    def length(self) -> int:
        """How many members the set has (``SCARD``); 0 when missing."""
        return self._rt.executor.call(self._op_length())

    def random(self) -> T | None:
        """One random member, left in place (``SRANDMEMBER``); ``None`` when the set is empty."""
        return self._rt.executor.call(self._op_random())

    def random_many(self, count: int, *, unique: bool = True) -> list[T]:
        """Up to ``count`` distinct random members (``SRANDMEMBER``), left in place.

        With ``unique=False``: exactly ``count`` members, maybe repeated (empty if the set is).
        """
        return self._rt.executor.call(self._op_random_many(count, unique=unique))

    def pop(self) -> T | None:
        """Remove and return one random member (``SPOP``); ``None`` when the set is empty."""
        return self._rt.executor.call(self._op_pop())

    def pop_many(self, count: int) -> list[T]:
        """Remove and return up to ``count`` random members (``SPOP key count``)."""
        return self._rt.executor.call(self._op_pop_many(count))
