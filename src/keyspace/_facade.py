"""The operations every key kind shares, once per flavour.

Each method hands the op that ``KeyHandle`` builds to the flavour's
executor; the kind modules (``_strings``, ``_hashes``, ...) add their own
operations the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from ._execute import AsyncExecutor, SyncExecutor
from ._handles import KeyHandle, Runtime

__all__ = ["AsyncKey", "SyncKey"]

T = TypeVar("T")


class AsyncKey(KeyHandle[T]):
    """What every key of a :class:`Repository` can do; the I/O methods are coroutines."""

    __slots__ = ()
    _rt: Runtime[AsyncExecutor]

    async def delete(self) -> bool:
        """Delete the key; whether it existed."""
        return await self._rt.executor.call(self._op_delete())

    async def exists(self) -> bool:
        """Whether the key exists."""
        return await self._rt.executor.call(self._op_exists())

    async def expire(self, ttl: int | float | timedelta) -> bool:
        """Set the key's TTL (seconds or ``timedelta``); whether the key exists."""
        return await self._rt.executor.call(self._op_expire(ttl))

    async def persist(self) -> bool:
        """Remove the key's TTL; whether there was one."""
        return await self._rt.executor.call(self._op_persist())

    async def ttl(self) -> float | None:
        """Seconds until the key expires, ``None`` if it never does.

        Raises ``KeyNotFoundError`` when the key does not exist.
        """
        return await self._rt.executor.call(self._op_ttl())

    @property
    def the_type(self) -> Awaitable[type | None]:
        """Awaitable: the Python type of the stored value, ``None`` when missing."""
        return self._rt.executor.call(self._op_the_type())


class SyncKey(KeyHandle[T]):
    """What every key of a :class:`SyncRepository` can do."""

    __slots__ = ()
    _rt: Runtime[SyncExecutor]

    def delete(self) -> bool:
        """Delete the key; whether it existed."""
        return self._rt.executor.call(self._op_delete())

    def exists(self) -> bool:
        """Whether the key exists."""
        return self._rt.executor.call(self._op_exists())

    def expire(self, ttl: int | float | timedelta) -> bool:
        """Set the key's TTL (seconds or ``timedelta``); whether the key exists."""
        return self._rt.executor.call(self._op_expire(ttl))

    def persist(self) -> bool:
        """Remove the key's TTL; whether there was one."""
        return self._rt.executor.call(self._op_persist())

    def ttl(self) -> float | None:
        """Seconds until the key expires, ``None`` if it never does.

        Raises ``KeyNotFoundError`` when the key does not exist.
        """
        return self._rt.executor.call(self._op_ttl())

    @property
    def the_type(self) -> type | None:
        """The Python type of the stored value, ``None`` when missing."""
        return self._rt.executor.call(self._op_the_type())
