"""Self-tests for the shared fixtures in ``conftest.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import redis
import redis.asyncio

if TYPE_CHECKING:  # conftest is not importable at runtime (tests/ is not a package)
    from conftest import Backend, RedisServer

SHARED_REDIS_PORT = 6379


async def test_async_and_sync_clients_share_data(backend: Backend) -> None:
    aclient = backend.async_client()
    sclient = backend.sync_client()
    await aclient.set("from-async", "1")
    sclient.set("from-sync", "2")
    assert sclient.get("from-async") == b"1"
    assert await aclient.get("from-sync") == b"2"
    # a second client of each kind sees the same data too
    assert await backend.async_client().get("from-sync") == b"2"
    assert backend.sync_client().get("from-async") == b"1"


@pytest.mark.parametrize("round_", [1, 2, 3])
async def test_data_does_not_leak_between_tests(backend: Backend, round_: int) -> None:
    client = backend.async_client()
    assert await client.dbsize() == 0
    assert await client.keys("*") == []
    await client.set("leak-check", round_)
    await client.set(f"leak-check-{round_}", round_)
    assert await client.dbsize() == 2


async def test_decode_responses_is_honoured(backend: Backend) -> None:
    raw_async = backend.async_client()
    text_async = backend.async_client(decode_responses=True)
    raw_sync = backend.sync_client()
    text_sync = backend.sync_client(decode_responses=True)
    await raw_async.set("k", "vé")
    assert await raw_async.get("k") == "vé".encode()
    assert await text_async.get("k") == "vé"
    assert raw_sync.get("k") == "vé".encode()
    assert text_sync.get("k") == "vé"


async def test_async_client_fixture(backend: Backend, async_client: redis.asyncio.Redis) -> None:
    assert isinstance(async_client, redis.asyncio.Redis)
    await async_client.set("k", "v")
    assert backend.sync_client().get("k") == b"v"
    assert await async_client.get("k") == b"v"


def test_sync_test_can_use_backend(backend: Backend) -> None:
    client = backend.sync_client(decode_responses=True)
    client.set("k", "v")
    assert client.get("k") == "v"


def test_backend_description(backend: Backend, request: pytest.FixtureRequest) -> None:
    assert backend.name in {"memory", "redis"}
    assert request.node.callspec.id == backend.name
    if backend.name == "memory":
        assert backend.url.startswith("memory://test-")
        assert backend.fake_server is not None
        assert backend.server is None
    else:
        assert backend.server is not None
        assert backend.url == f"redis://127.0.0.1:{backend.server.port}/0"
        assert request.node.get_closest_marker("redis_server") is not None


_seen_memory_urls: set[str] = set()


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
@pytest.mark.parametrize("round_", [1, 2])
def test_memory_urls_are_unique_per_test(backend: Backend, round_: int) -> None:
    assert backend.url not in _seen_memory_urls
    _seen_memory_urls.add(backend.url)


@pytest.mark.redis_server
def test_real_server_is_private(redis_server: RedisServer) -> None:
    assert redis_server.host == "127.0.0.1"
    assert redis_server.port != SHARED_REDIS_PORT
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.process.poll() is None
    with redis.Redis(host=redis_server.host, port=redis_server.port) as client:
        assert client.ping()
        assert client.config_get("port") == {"port": str(redis_server.port)}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
