"""``Repository`` (asyncio) and ``SyncRepository``: the two thin façades.

Each I/O method builds a plan (``_plan``) from the handle's bound state and
hands it to the flavour's executor (``_execute``); binding lives in
``_handles`` and is shared. The two flavours expose the same methods with
the same signatures (a test keeps them equal); only closing differs, as in
redis-py: ``aclose()``/``async with`` and ``close()``/``with``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from datetime import timedelta
from types import TracebackType
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio

from . import _plan as plan
from ._cluster import Cluster, root_node
from ._execute import AsyncExecutor, SyncExecutor
from ._handles import ClusterHandle, KeyHandle, Runtime
from ._keys import INHERIT, Inherit, TTLArg, ttl_ms
from ._settings import RedisSettings

__all__ = [
    "AsyncBoundCluster",
    "AsyncBoundKey",
    "KeyScan",
    "Repository",
    "SyncBoundCluster",
    "SyncBoundKey",
    "SyncRepository",
]

T = TypeVar("T")
C = TypeVar("C", bound=Cluster)
X = TypeVar("X", AsyncExecutor, SyncExecutor)

Expiry = int | float | timedelta


class AsyncBoundKey(KeyHandle[T]):
    """A bound key of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()
    _rt: Runtime[AsyncExecutor]

    async def get(self) -> T:
        """The stored value, validated; a fresh copy of the declared default when missing."""
        spec = self._node.spec
        return await self._rt.executor.call(plan.get(self.key, spec.load, spec.default_factory))

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
        return await self._rt.executor.call(self._set(value, ttl, nx, xx, keepttl))

    async def delete(self) -> bool:
        """Delete the key; whether it existed."""
        return await self._rt.executor.call(plan.delete(self.key))

    async def exists(self) -> bool:
        """Whether the key exists."""
        return await self._rt.executor.call(plan.exists(self.key))

    async def expire(self, ttl: Expiry) -> bool:
        """Set the key's TTL (seconds or ``timedelta``); whether the key exists."""
        return await self._rt.executor.call(plan.expire(self.key, self._expiry(ttl)))

    async def persist(self) -> bool:
        """Remove the key's TTL; whether there was one."""
        return await self._rt.executor.call(plan.persist(self.key))

    async def ttl(self) -> float | None:
        """Seconds until the key expires, ``None`` if it never does.

        Raises ``KeyNotFoundError`` when the key does not exist.
        """
        return await self._rt.executor.call(plan.ttl(self.key))

    @property
    def the_type(self) -> Awaitable[type | None]:
        """Awaitable: the Python type of the stored value, ``None`` when missing."""
        return self._rt.executor.call(plan.the_type(self.key, self._node.spec.load))

    async def raw(self) -> bytes | None:
        """The stored bytes, undecoded; ``None`` when missing."""
        return await self._rt.executor.call(plan.raw(self.key))


class SyncBoundKey(KeyHandle[T]):
    """A bound key of a :class:`SyncRepository`."""

    __slots__ = ()
    _rt: Runtime[SyncExecutor]

    def get(self) -> T:
        """The stored value, validated; a fresh copy of the declared default when missing."""
        spec = self._node.spec
        value: T = self._rt.executor.call(plan.get(self.key, spec.load, spec.default_factory))
        return value

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
        return self._rt.executor.call(self._set(value, ttl, nx, xx, keepttl))

    def delete(self) -> bool:
        """Delete the key; whether it existed."""
        return self._rt.executor.call(plan.delete(self.key))

    def exists(self) -> bool:
        """Whether the key exists."""
        return self._rt.executor.call(plan.exists(self.key))

    def expire(self, ttl: Expiry) -> bool:
        """Set the key's TTL (seconds or ``timedelta``); whether the key exists."""
        return self._rt.executor.call(plan.expire(self.key, self._expiry(ttl)))

    def persist(self) -> bool:
        """Remove the key's TTL; whether there was one."""
        return self._rt.executor.call(plan.persist(self.key))

    def ttl(self) -> float | None:
        """Seconds until the key expires, ``None`` if it never does.

        Raises ``KeyNotFoundError`` when the key does not exist.
        """
        return self._rt.executor.call(plan.ttl(self.key))

    @property
    def the_type(self) -> type | None:
        """The Python type of the stored value, ``None`` when missing."""
        return self._rt.executor.call(plan.the_type(self.key, self._node.spec.load))

    def raw(self) -> bytes | None:
        """The stored bytes, undecoded; ``None`` when missing."""
        return self._rt.executor.call(plan.raw(self.key))


class KeyScan:
    """The key names under a bound cluster: ``async for`` them, or ``await`` a list."""

    __slots__ = ("_count", "_executor", "_pattern")

    def __init__(self, executor: AsyncExecutor, pattern: str, count: int) -> None:
        self._executor = executor
        self._pattern = pattern
        self._count = count

    def __aiter__(self) -> AsyncIterator[str]:
        return self._executor.stream(plan.scan_keys(self._pattern, self._count))

    def __await__(self) -> Generator[Any, None, list[str]]:
        return self._collect().__await__()

    async def _collect(self) -> list[str]:
        return [key async for key in self]


class AsyncBoundCluster(ClusterHandle):
    """A cluster of a :class:`Repository`: navigate to keys and nested clusters by attribute."""

    __slots__ = ()
    _rt: Runtime[AsyncExecutor]
    _key_class = AsyncBoundKey

    def subkeys(self) -> KeyScan:
        """Every key under this cluster's prefix (SCAN): ``async for`` or ``await`` a list."""
        return KeyScan(self._rt.executor, self._pattern("subkeys"), self._rt.scan_count)

    async def clear(self) -> int:
        """Delete every key under this cluster's prefix; return how many were deleted."""
        rt = self._rt
        return await rt.executor.run(plan.clear(self._pattern("clear"), rt.scan_count, rt.chunk))


AsyncBoundCluster._cluster_class = AsyncBoundCluster


class SyncBoundCluster(ClusterHandle):
    """A cluster of a :class:`SyncRepository`: navigate to keys and nested clusters by attribute."""

    __slots__ = ()
    _rt: Runtime[SyncExecutor]
    _key_class = SyncBoundKey

    def subkeys(self) -> Iterator[str]:
        """Every key under this cluster's prefix (SCAN); ``list()`` it for a list."""
        rt = self._rt
        return rt.executor.stream(plan.scan_keys(self._pattern("subkeys"), rt.scan_count))

    def clear(self) -> int:
        """Delete every key under this cluster's prefix; return how many were deleted."""
        rt = self._rt
        return rt.executor.run(plan.clear(self._pattern("clear"), rt.scan_count, rt.chunk))


SyncBoundCluster._cluster_class = SyncBoundCluster


def _runtime(executor: X, settings: RedisSettings) -> Runtime[X]:
    default = settings.default_ttl
    default_ms = None if default is None else ttl_ms(default, "REDIS_DEFAULT_TTL")
    assert not isinstance(default_ms, Inherit)  # a timedelta or None never inherits
    return Runtime(executor, default_ms, settings.scan_count, settings.delete_chunk_size)


class Repository(AsyncBoundCluster, Generic[C]):
    """The asyncio entry point: the root cluster bound to a ``redis.asyncio`` client.

    ``Repository(Root)`` builds its client from :class:`RedisSettings` (the
    ``REDIS_*`` environment) and closes it in :meth:`aclose`;
    ``Repository(Root, client)`` uses the caller's client as it is and leaves
    closing it to the caller.
    """

    __slots__ = ("_owns_client",)

    def __init__(
        self,
        root: type[C],
        client: redis.asyncio.Redis | None = None,
        *,
        settings: RedisSettings | None = None,
    ) -> None:
        settings = settings if settings is not None else RedisSettings()
        self._owns_client = client is None
        if client is None:
            client = settings.async_client()
        node = root_node(root)
        runtime = _runtime(AsyncExecutor(client, settings.log_commands), settings)
        prefix = None if node.own_params else (node.spec.prefix.text if node.spec.prefix else "")
        super().__init__(node, "", prefix, {}, runtime)

    @property
    def client(self) -> redis.asyncio.Redis:
        """The ``redis.asyncio`` client this repository sends commands through."""
        return self._rt.executor.client

    async def aclose(self) -> None:
        """Close the client if this repository created it."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Repository[C]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncRepository(SyncBoundCluster, Generic[C]):
    """The sync entry point: the root cluster bound to a ``redis.Redis`` client.

    ``SyncRepository(Root)`` builds its client from :class:`RedisSettings`
    and closes it in :meth:`close`; ``SyncRepository(Root, client)`` uses the
    caller's client as it is.
    """

    __slots__ = ("_owns_client",)

    def __init__(
        self,
        root: type[C],
        client: redis.Redis | None = None,
        *,
        settings: RedisSettings | None = None,
    ) -> None:
        settings = settings if settings is not None else RedisSettings()
        self._owns_client = client is None
        if client is None:
            client = settings.sync_client()
        node = root_node(root)
        runtime = _runtime(SyncExecutor(client, settings.log_commands), settings)
        prefix = None if node.own_params else (node.spec.prefix.text if node.spec.prefix else "")
        super().__init__(node, "", prefix, {}, runtime)

    @property
    def client(self) -> redis.Redis:
        """The ``redis.Redis`` client this repository sends commands through."""
        return self._rt.executor.client

    def close(self) -> None:
        """Close the client if this repository created it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> SyncRepository[C]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
