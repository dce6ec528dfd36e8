"""redisimnest's ``Key``: the declaration, and the bound key whose methods are coroutines.

A bound key is a keyspace string-key handle (``keyspace._strings.StringOps``) of a hidden
``Key[RedisimnestValue]``: binding, key names, TTL resolution, ``get`` and ``set`` are the
core's. The commands keyspace's typed API has no op for (or answers differently, such as
``TTL`` returning ``-2``) are small :class:`~keyspace._plan.Call` ops here, sent through the
same executor. Every ``_rin_<method>`` builds the op of ``<method>``, which is how
:class:`Pipeline` queues them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from typing_extensions import Self

from .._errors import DeclarationError
from .._execute import AsyncExecutor
from .._handles import Runtime
from .._keys import INHERIT, TTLArg
from .._plan import Call, Op, as_text
from .._strings import StringOps
from ._redisimnest_values import envelope, stored_type

__all__ = ["FIELD_NAMES", "BoundKey", "Key"]

R = TypeVar("R")

FIELD_NAMES: dict[type, dict[str, str]] = {}
"""Per hidden keyspace cluster: field name -> the attribute name the user declared."""


class Key:
    """Declares a key of a redisimnest cluster, as in redisimnest.

    ``Key('age', 0)`` is the key ``<cluster prefix>:age`` reading as ``0`` when missing;
    ``Key('message:{message_id}', ttl=30)`` has its own placeholder and TTL.

    Args:
        prefix_template: the key's name below its cluster; may hold ``{placeholders}``.
        default: what ``get()`` returns (a fresh copy) when the key is missing; never written.
        ttl: seconds; ``None`` takes the TTL of the nearest cluster that has one.
        ttl_auto_renew: renew the TTL whenever the key is read (in the same command).
        is_secret: not supported (raises ``DeclarationError``).
        is_password: not supported (raises ``DeclarationError``).
    """

    __slots__ = ("_name", "default", "prefix_template", "ttl", "ttl_auto_renew")

    def __init__(
        self,
        prefix_template: str,
        default: Any = None,
        ttl: int | timedelta | None = None,
        ttl_auto_renew: bool = False,
        is_secret: bool = False,
        is_password: bool = False,
    ) -> None:
        if is_secret or is_password:
            raise DeclarationError(
                f"Key({prefix_template!r}): is_secret and is_password keys are not supported by"
                " keyspace.compat.redisimnest; hash or encrypt the value before set()"
            )
        self.prefix_template = prefix_template
        self.default = default
        self.ttl = ttl
        self.ttl_auto_renew = ttl_auto_renew
        self._name: str | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<Key(name='{self._name}' template='{self.prefix_template}')>"


def _count(reply: Any) -> int:
    return int(reply)


def _flag(reply: Any) -> bool:
    return bool(reply) and reply != b"0" and reply != "0"


def _as_is(reply: Any) -> Any:
    return reply


def _set_result(reply: Any) -> bool | None:
    # As redis-py answers SET: True when written, None when NX or XX prevented it.
    return True if reply is True or (reply is not None and as_text(reply) == "OK") else None


def _seconds(time: int | timedelta) -> int:
    return int(time.total_seconds()) if isinstance(time, timedelta) else int(time)


def _milliseconds(time: int | timedelta) -> int:
    return int(time.total_seconds() * 1000) if isinstance(time, timedelta) else int(time)


def _conditions(nx: bool, xx: bool, gt: bool, lt: bool) -> tuple[str, ...]:
    return tuple(word for word, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on)


class BoundKey(StringOps[Any]):
    """A key of a redisimnest cluster at a bound position; its I/O methods are coroutines.

    Results are what redisimnest returns (redis-py's replies): ``exists()`` and ``delete()``
    count keys, ``ttl()`` is ``-2`` for a missing key and ``-1`` for one without expiry.
    """

    __slots__ = ()
    _rt: Runtime[AsyncExecutor]

    def __call__(self, *args: object, **kwargs: object) -> Self:
        """Bind the key's own placeholders: ``message(5)`` or ``message(message_id=5)``."""
        if not args and not kwargs and not self._node.own_params:
            return self
        return super().__call__(*args, **kwargs)

    async def _send(self, op: Op[R]) -> R:
        return await self._rt.executor.call(op)

    @property
    def redis(self) -> Any:
        """The ``redis.asyncio`` client of the root cluster."""
        return self._rt.executor.client

    @property
    def _attribute(self) -> str:
        """The attribute name the key was declared under."""
        field = self._node.spec.name
        return FIELD_NAMES.get(self._node.cluster.spec.cls, {}).get(field, field)

    @property
    def the_ttl(self) -> int | float | None:
        """The TTL in seconds that ``set()`` applies: the key's own or its nearest cluster's."""
        ms = self._ttl(INHERIT)
        if ms is None:
            return None
        return ms // 1000 if ms % 1000 == 0 else ms / 1000

    @property
    def the_type(self) -> Awaitable[type | None]:
        """Awaitable: the type named by the stored envelope; ``None`` when the key is missing,
        holds ``None``, or holds data that is not an envelope."""
        return self._send(self._rin_the_type())

    def describe(self) -> dict[str, Any]:
        """Name, template, placeholders, full key and TTL of this key."""
        spec = self._node.spec
        return {
            "name": self._attribute,
            "prefix": spec.template.text,
            "params": list(spec.template.params),
            "key": self.key,
            "ttl": self.the_ttl,
        }

    def __repr__(self) -> str:
        shown = self._name if self._name is not None else self._node.spec.template.text
        return f"<Key(name={self._attribute!r} key={shown!r})>"

    # -- ops -------------------------------------------------------------------------

    def _rin_get(self) -> Op[Any]:
        return self._op_get()

    def _rin_set(
        self,
        value: Any,
        ex: int | timedelta | None = None,
        px: int | timedelta | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> Op[bool | None]:
        envelope(value)  # TypeError for an unsupported value, before anything is sent
        ttl: TTLArg = INHERIT
        if px:
            ttl = px if isinstance(px, timedelta) else timedelta(milliseconds=px)
        elif ex:
            ttl = ex
        op = self._op_set(value, ttl, nx, xx, keepttl)
        return Call(op.command, _set_result, op.key, op.kind)

    def _rin_raw(self) -> Op[Any]:
        return Call(("GET", self.key), _as_is, self.key, self._kind)

    def _rin_the_type(self) -> Op[type | None]:
        return Call(("GET", self.key), stored_type, self.key, self._kind)

    def _rin_delete(self) -> Op[int]:
        return Call(("DEL", self.key), _count)

    def _rin_unlink(self) -> Op[int]:
        return Call(("UNLINK", self.key), _count)

    def _rin_exists(self) -> Op[int]:
        return Call(("EXISTS", self.key), _count)

    def _rin_touch(self) -> Op[int]:
        # The in-memory Redis (fakeredis) has no TOUCH, nor access times to update.
        memory = type(self._rt.executor.client).__module__.startswith("fakeredis")
        return Call(("EXISTS" if memory else "TOUCH", self.key), _count)

    def _rin_type(self) -> Op[Any]:
        return Call(("TYPE", self.key), _as_is)

    def _rin_persist(self) -> Op[bool]:
        return Call(("PERSIST", self.key), _flag)

    def _rin_ttl(self) -> Op[int]:
        return Call(("TTL", self.key), _count)

    def _rin_pttl(self) -> Op[int]:
        return Call(("PTTL", self.key), _count)

    def _rin_expiretime(self) -> Op[int]:
        return Call(("EXPIRETIME", self.key), _count)

    def _rin_expire(
        self,
        time: int | timedelta,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Op[bool]:
        command = ("EXPIRE", self.key, _seconds(time), *_conditions(nx, xx, gt, lt))
        return Call(command, _flag)

    def _rin_pexpire(
        self,
        time: int | timedelta,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Op[bool]:
        command = ("PEXPIRE", self.key, _milliseconds(time), *_conditions(nx, xx, gt, lt))
        return Call(command, _flag)

    def _rin_expireat(
        self,
        when: int | datetime,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Op[bool]:
        at = int(when.timestamp()) if isinstance(when, datetime) else int(when)
        return Call(("EXPIREAT", self.key, at, *_conditions(nx, xx, gt, lt)), _flag)

    def _rin_pexpireat(
        self,
        when: int | datetime,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Op[bool]:
        at = int(when.timestamp() * 1000) if isinstance(when, datetime) else int(when)
        return Call(("PEXPIREAT", self.key, at, *_conditions(nx, xx, gt, lt)), _flag)

    # -- the coroutines ----------------------------------------------------------------

    async def get(self) -> Any:
        """The stored value; a fresh copy of the key's default when it is missing."""
        return await self._send(self._rin_get())

    async def set(
        self,
        value: Any,
        ex: int | timedelta | None = None,
        px: int | timedelta | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool | None:
        """Store ``value`` in redisimnest's envelope, with the key's TTL unless ``ex``, ``px``
        or ``keepttl`` say otherwise; ``True``, or ``None`` when ``nx``/``xx`` prevented it.

        Raises ``TypeError`` for a value of an unsupported type.
        """
        return await self._send(self._rin_set(value, ex, px, nx, xx, keepttl))

    async def raw(self) -> Any:
        """The stored data as the client returns it (``None`` when missing)."""
        return await self._send(self._rin_raw())

    async def delete(self) -> int:
        """``DEL``: how many keys were deleted (0 or 1)."""
        return await self._send(self._rin_delete())

    async def unlink(self) -> int:
        """``UNLINK``: how many keys were removed (0 or 1)."""
        return await self._send(self._rin_unlink())

    async def exists(self) -> int:
        """``EXISTS``: 1 when the key exists, else 0."""
        return await self._send(self._rin_exists())

    async def touch(self) -> int:
        """``TOUCH``: update the last access time; 1 when the key exists."""
        return await self._send(self._rin_touch())

    async def type(self) -> Any:
        """``TYPE``: the Redis type (``"string"``, ``"none"``) as the client returns it."""
        return await self._send(self._rin_type())

    async def persist(self) -> bool:
        """``PERSIST``: remove the TTL; whether there was one."""
        return await self._send(self._rin_persist())

    async def ttl(self) -> int:
        """``TTL`` in seconds: ``-1`` without expiry, ``-2`` when the key is missing."""
        return await self._send(self._rin_ttl())

    async def pttl(self) -> int:
        """``PTTL`` in milliseconds: ``-1`` without expiry, ``-2`` when the key is missing."""
        return await self._send(self._rin_pttl())

    async def expiretime(self) -> int:
        """``EXPIRETIME``: the Unix time in seconds at which the key expires (Redis 7)."""
        return await self._send(self._rin_expiretime())

    async def expire(
        self,
        time: int | timedelta,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """``EXPIRE`` in seconds (or a ``timedelta``); whether the key exists."""
        return await self._send(self._rin_expire(time, nx, xx, gt, lt))

    async def pexpire(
        self,
        time: int | timedelta,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """``PEXPIRE`` in milliseconds (or a ``timedelta``); whether the key exists."""
        return await self._send(self._rin_pexpire(time, nx, xx, gt, lt))

    async def expireat(
        self,
        when: int | datetime,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """``EXPIREAT`` a Unix time in seconds (or a ``datetime``); whether the key exists."""
        return await self._send(self._rin_expireat(when, nx, xx, gt, lt))

    async def pexpireat(
        self,
        when: int | datetime,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """``PEXPIREAT`` a Unix time in milliseconds (or a ``datetime``); whether it exists."""
        return await self._send(self._rin_pexpireat(when, nx, xx, gt, lt))
