"""Which clients keyspace sends pipelines to directly, and what the direct send returns."""

from __future__ import annotations

import fakeredis
import pytest
import redis
import redis.asyncio
from redis.cache import CacheConfig

from keyspace._wire import direct, exchange, exchange_async


def test_single_server_clients_are_sent_to_directly() -> None:
    assert direct(redis.Redis())
    assert direct(redis.asyncio.Redis())
    assert direct(fakeredis.FakeRedis())


def test_cluster_and_caching_clients_keep_redis_pys_pipelines() -> None:
    # Cluster pipelines route by slot; a caching client's connections answer from the cache.
    assert not direct(redis.RedisCluster.__new__(redis.RedisCluster))
    assert not direct(redis.asyncio.RedisCluster.__new__(redis.asyncio.RedisCluster))
    assert not direct(redis.Redis(protocol=3, cache_config=CacheConfig()))


def test_replies_come_back_in_order_with_errors_in_place() -> None:
    client = fakeredis.FakeRedis()
    client.rpush("list", "x")

    replies = exchange(client, [("SET", "a", "1"), ("GET", "list"), ("INCR", "a"), ("GET", "a")])

    assert replies[0] == b"OK"  # as sent by the server: no response callbacks
    assert isinstance(replies[1], redis.ResponseError)
    assert "WRONGTYPE" in str(replies[1])
    assert replies[2:] == [2, b"2"]
    assert client.connection_pool._in_use_connections == set()  # released


async def test_the_async_send_matches() -> None:
    client = fakeredis.FakeAsyncRedis()

    replies = await exchange_async(client, [("SET", "a", "1"), ("HGET", "a", "f"), ("GET", "a")])

    assert replies[0] == b"OK"
    assert isinstance(replies[1], redis.ResponseError)
    assert replies[2] == b"1"
    await client.aclose()


def test_a_connection_error_propagates_once_retries_are_spent() -> None:
    client = redis.Redis(port=1, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 1))

    with pytest.raises(redis.ConnectionError):
        exchange(client, [("PING",)])
