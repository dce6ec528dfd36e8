"""``client_cache`` settings: the clients they build, and the combinations they refuse.

No server is contacted: single-server and Sentinel clients connect lazily. The cache's
behaviour against real servers is in ``tests/integration/test_client_cache.py`` and
``tests/cluster/test_cluster_client_cache.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.cache import CacheConfig

from keyspace import Cluster, Key, Repository, SettingsError
from keyspace._client_cache import (
    CACHED_READS,
    CachedReads,
    CachingRedis,
    CachingSentinelPool,
    ReadCacheConfig,
)
from keyspace._settings import RedisSettings, _SyncSentinelMaster

pytestmark = pytest.mark.usefixtures("no_redis_env")


class Root(Cluster, prefix="root"):
    name: Key[str] = ""


def _cache_size(client: redis.Redis) -> int:
    cache = client.get_cache()
    assert cache is not None
    config = cache.config
    assert isinstance(config, ReadCacheConfig)
    return config.get_max_size()


def test_off_by_default() -> None:
    settings = RedisSettings()
    assert (settings.client_cache, settings.client_cache_size) == (False, 10_000)
    with settings.sync_client() as client:
        assert type(client) is redis.Redis
        assert client.get_cache() is None
        assert client.connection_pool.connection_kwargs.get("protocol") is None


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_CLIENT_CACHE", "true")
    monkeypatch.setenv("REDIS_CLIENT_CACHE_SIZE", "50")

    settings = RedisSettings()

    assert (settings.client_cache, settings.client_cache_size) == (True, 50)


def test_size_must_be_positive() -> None:
    with pytest.raises(SettingsError, match="REDIS_CLIENT_CACHE_SIZE: Input should be greater"):
        RedisSettings(client_cache=True, client_cache_size=0)


@pytest.mark.parametrize(
    "settings",
    [
        {"host": "cache.internal", "port": 6380},
        {"url": "redis://cache.internal:6380/2"},
        {"url": "unix:///run/redis.sock"},
    ],
    ids=["fields", "url", "unix"],
)
def test_sync_client_caches_with_resp3(settings: dict[str, Any]) -> None:
    with RedisSettings(**settings, client_cache=True, client_cache_size=64).sync_client() as client:
        assert isinstance(client, CachingRedis)
        assert client.connection_pool.connection_kwargs["protocol"] == 3
        assert _cache_size(client) == 64


def test_tls_client_caches_over_tls() -> None:
    settings = RedisSettings(url="rediss://cache.internal", client_cache=True, ssl_ca_certs="/ca")
    with settings.sync_client() as client:
        assert isinstance(client, CachingRedis)
        assert client.connection_pool.connection_class is redis.SSLConnection
        assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == "/ca"
        assert client.get_cache() is not None


def test_sentinel_master_caches() -> None:
    settings = RedisSettings(
        sentinels="s1:26379", sentinel_service="mymaster", client_cache=True, client_cache_size=7
    )
    client = settings.sync_client()
    try:
        # Sentinel's own master class (which also closes the sentinels), with the cache mixed in,
        # on a pool that keeps the cached connections.
        assert isinstance(client, _SyncSentinelMaster)
        assert isinstance(client, CachedReads)
        assert isinstance(client.connection_pool, CachingSentinelPool)
        assert client.connection_pool.connection_kwargs["protocol"] == 3
        assert _cache_size(client) == 7
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [3, "3"])
def test_an_explicit_resp3_is_accepted(protocol: Any) -> None:
    with RedisSettings(client_cache=True, protocol=protocol).sync_client() as client:
        assert client.connection_pool.connection_kwargs["protocol"] == 3


def test_explicit_resp2_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = "REDIS_PROTOCOL / REDIS_CLIENT_CACHE: client-side caching needs RESP3"
    with pytest.raises(SettingsError, match=expected):
        RedisSettings(client_cache=True, protocol=2)
    monkeypatch.setenv("REDIS_PROTOCOL", "2")
    with pytest.raises(SettingsError, match=expected):
        RedisSettings(client_cache=True)


def test_resp2_in_the_url_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"REDIS_URL / REDIS_CLIENT_CACHE: .* needs RESP3"):
        RedisSettings(url="redis://h?protocol=2", client_cache=True)


def test_an_unreadable_url_query_is_named_without_the_url() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL: the URL's query") as caught:
        RedisSettings(url="redis://:hunter2@h?socket_timeout=soon", client_cache=True)
    assert "hunter2" not in str(caught.value)


def test_memory_is_refused_at_construction() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL / REDIS_CLIENT_CACHE: memory://") as caught:
        RedisSettings(url="memory://cache", client_cache=True)
    assert "CLIENT TRACKING" in str(caught.value)


async def test_the_async_client_refuses_it() -> None:
    settings = RedisSettings(client_cache=True)
    expected = "REDIS_CLIENT_CACHE: client-side caching is available for the sync client only"

    with pytest.raises(SettingsError, match=expected):
        settings.async_client()
    with pytest.raises(SettingsError, match=expected):
        Repository(Root, settings=settings)


def test_a_caching_client_refuses_to_subscribe() -> None:
    refused = pytest.raises(SettingsError, match=r"REDIS_CLIENT_CACHE: .* cannot subscribe")
    with RedisSettings(client_cache=True).sync_client() as client, refused:
        client.pubsub()


def test_cached_reads_are_on_redis_pys_allow_list() -> None:
    assert set(CacheConfig.DEFAULT_ALLOW_LIST) >= CACHED_READS
    # Reads with a side effect or a time-dependent reply always reach the server.
    assert CACHED_READS.isdisjoint({"GETEX", "PTTL", "TTL", "SRANDMEMBER", "SCAN"})
