"""Sync clients that keep a client-side cache of reads (``REDIS_CLIENT_CACHE=true``).

redis-py does the caching itself: with RESP3 and a ``cache_config``, every pooled
connection turns on ``CLIENT TRACKING``, keeps the replies of allow-listed reads in one
LRU cache per client, and drops an entry when the server sends an invalidation for its
key (Redis sends one when any client changes or deletes the key, or when it expires or is
evicted). The clients here add what keyspace needs on top of it:

- **Key names.** redis-py builds a cache entry from the ``keys=`` option that its own
  command methods pass; keyspace sends plain ``execute_command(name, key, ...)``. The
  clients name the keys of the reads in :data:`CACHED_READS` themselves.
- **Only reads sent on their own.** A read queued in a pipeline, or sent while a
  transaction WATCHes its keys (``update()``), always goes to the server: a
  read-modify-write must never start from a cached value. :class:`ReadCacheConfig`
  allows caching only inside a client's own ``execute_command``.
- **Sentinel keeps its connections.** Sentinel's pool takes a connection back only if it
  points at the current master, and redis-py's caching wrapper reports the address the
  connection had before it asked the sentinels: every connection was closed after one
  command, emptying the cache. :class:`CachingSentinelPool` asks the wrapped connection.
- **No subscriptions.** redis-py's caching connections cannot run pub/sub (a subscription
  failed with an ``AttributeError`` deep inside redis-py): ``pubsub()``, and so
  ``events()``, raise :class:`~keyspace.SettingsError` instead.
- **No stuck entries after an error.** redis-py reserves an entry before it sends a read
  and fills it when the reply comes. An error reply (``WRONGTYPE``, ``NOPERM``) left the
  reservation behind, and the next identical read then waited for a reply that was never
  requested. The clients drop an unfilled reservation once the call returns.

redis.asyncio has no client-side cache, so there are sync clients only.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import redis
import redis.sentinel
from redis.cache import (
    CacheConfig,
    CacheEntryStatus,
    CacheFactory,
    CacheInterface,
    CacheKey,
)

from ._errors import SettingsError

__all__ = [
    "CACHED_READS",
    "CachedReads",
    "CachingRedis",
    "CachingRedisCluster",
    "CachingSentinelPool",
    "ReadCacheConfig",
]

_ONE_KEY = frozenset(
    [
        "GET",
        "STRLEN",
        "TYPE",
        "HGET",
        "HMGET",
        "HGETALL",
        "HKEYS",
        "HVALS",
        "HLEN",
        "HEXISTS",
        "LRANGE",
        "LINDEX",
        "LLEN",
        "SMEMBERS",
        "SISMEMBER",
        "SMISMEMBER",
        "SCARD",
        "ZRANGE",
        "ZRANGEBYSCORE",
        "ZREVRANGE",
        "ZSCORE",
        "ZMSCORE",
        "ZRANK",
        "ZREVRANK",
        "ZCARD",
        "ZCOUNT",
    ]
)
_EVERY_ARGUMENT_A_KEY = frozenset(["MGET", "EXISTS"])

CACHED_READS = _ONE_KEY | _EVERY_ARGUMENT_A_KEY
"""The commands whose replies are cached: reads whose reply depends on their keys' contents
alone, all on redis-py's own allow list. ``GETEX`` (sliding keys), ``PTTL`` and every write
always reach the server."""

_SENT_ALONE: ContextVar[bool] = ContextVar("keyspace_read_sent_alone", default=False)


def _keys(args: tuple[Any, ...]) -> list[Any] | None:
    """The key names of a read in :data:`CACHED_READS`; ``None`` for any other command."""
    command = args[0] if args else None
    if command in _ONE_KEY:
        return list(args[1:2])
    if command in _EVERY_ARGUMENT_A_KEY:
        return list(args[1:])
    return None


class ReadCacheConfig(CacheConfig):
    """redis-py's cache settings, caching :data:`CACHED_READS` only when a client sends
    them on their own (never from a pipeline or a WATCHed transaction)."""

    def is_allowed_to_cache(self, command: str) -> bool:
        return _SENT_ALONE.get() and command in CACHED_READS


class CachedReads:
    """Mixin for a sync redis-py client built with a :class:`ReadCacheConfig`."""

    if TYPE_CHECKING:  # redis.Redis has it; the cluster client below adds it

        def get_cache(self) -> CacheInterface: ...

    def execute_command(self, *args: Any, **options: Any) -> Any:
        keys = _keys(args)
        send: Any = super().execute_command  # type: ignore[misc]
        if keys is None:
            return send(*args, **options)
        options.setdefault("keys", keys)
        sent_alone = _SENT_ALONE.set(True)
        try:
            return send(*args, **options)
        finally:
            _SENT_ALONE.reset(sent_alone)
            self._drop_reservation(CacheKey(args[0], tuple(options["keys"]), args))

    def pubsub(self, *args: Any, **kwargs: Any) -> Any:
        raise SettingsError(
            "REDIS_CLIENT_CACHE: a client with a client-side cache cannot subscribe (redis-py's "
            "caching connections do not run pub/sub); read events() through a repository "
            "without client_cache"
        )

    def _drop_reservation(self, key: CacheKey) -> None:
        """Remove the entry redis-py reserved for ``key`` if no reply ever filled it."""
        cache = self.get_cache()
        entry = cache.get(key)
        if entry is not None and entry.status is CacheEntryStatus.IN_PROGRESS:
            cache.delete_by_cache_keys([key])


class CachingRedis(CachedReads, redis.Redis):
    """A ``redis.Redis`` (one server) with a client-side cache of reads."""


class CachingRedisCluster(CachedReads, redis.RedisCluster):
    """A ``redis.RedisCluster`` with one client-side cache of reads for all its nodes."""

    def __init__(self, *, cache_config: ReadCacheConfig, **kwargs: Any) -> None:
        self._read_cache = CacheFactory(cache_config).get_cache()
        super().__init__(cache=self._read_cache, **kwargs)

    def get_cache(self) -> CacheInterface:
        """The cache shared by the connections to every node."""
        return self._read_cache


class CachingSentinelPool(redis.sentinel.SentinelConnectionPool):
    """Sentinel's master pool for caching clients: judges a connection by the one redis-py's
    caching wrapper holds, whose address is the master's it connected to."""

    def owns_connection(self, connection: Any) -> bool:
        owns: Any = super().owns_connection  # unannotated in redis-py
        return bool(owns(getattr(connection, "_conn", connection)))
