"""Client-side caching on Redis Cluster, Sentinel and TLS: the sync clients the settings build.

As in ``tests/integration/test_client_cache.py``, redis-py's 7.4 version floor is lowered for
servers that are older but track keys all the same, and whether a read reached a server is read
off the servers' ``INFO commandstats``.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
import redis
from redis.connection import CacheProxyConnection

from keyspace import Cluster, Key, RedisSettings, SyncRepository, WrongTypeError
from keyspace._client_cache import CachedReads, CachingRedisCluster
from servers import SHARED_REDIS_PORT, ClusterDeployment, SentinelDeployment, TLSDeployment

WAIT = 5.0  # seconds an invalidation may take before a test fails


class Cart(Cluster, prefix="cart:{cart_id}", hash_tag=True):
    total: Key[int] = 0
    owner: Key[str] = ""


class Shop(Cluster, prefix="cc"):
    cart: Cart
    banner: Key[str] = "none"


pytestmark = pytest.mark.usefixtures("no_redis_env")


@pytest.fixture(autouse=True)
def tracking_floor(redis_server_binary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lower redis-py's 7.4 floor when the servers the fixtures start are older."""
    text = subprocess.run(
        [redis_server_binary, "--version"], capture_output=True, text=True, check=True
    ).stdout
    version = text.split("v=")[1].split()[0]
    if tuple(int(part) for part in version.split(".")) < (7, 4):
        monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "6.0.0")


def calls(clients: Iterable[redis.Redis], command: str) -> int:
    """How many times the servers have executed ``command``, all together."""
    total = 0
    for client in clients:
        stats = client.info("commandstats")
        total += int(stats.get(f"cmdstat_{command.lower()}", {}).get("calls", 0))
    return total


def eventually(check: Callable[[], bool]) -> bool:
    """Whether ``check()`` becomes true within ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


# --- Redis Cluster ---------------------------------------------------------------------------


@pytest.fixture
def primaries(clean_redis_cluster: ClusterDeployment) -> Iterator[list[redis.Redis]]:
    """A plain client per primary of the (emptied) cluster."""
    clients = [redis.Redis(host=host, port=port) for host, port in clean_redis_cluster.nodes]
    assert all(port != SHARED_REDIS_PORT for _, port in clean_redis_cluster.nodes)
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def test_cluster_reads_are_cached_across_nodes_and_invalidated(
    clean_redis_cluster: ClusterDeployment, primaries: list[redis.Redis]
) -> None:
    url = clean_redis_cluster.url
    carts = [str(n) for n in range(30)]
    with (
        SyncRepository(Shop, settings=RedisSettings(url=url, client_cache=True)) as cached,
        SyncRepository(Shop, settings=RedisSettings(url=url)) as plain,
    ):
        assert isinstance(cached.client, CachingRedisCluster)
        for number, cart in enumerate(carts):
            plain.cart(cart).total.set(number)
        assert all(primary.dbsize() > 0 for primary in primaries)  # the keys span every node
        # Two warm-up passes: redis-py (8.2 on) empties the whole cache when a pooled connection
        # reconnects, and the first pass reopens the connection that discovered the cluster.
        for _ in range(2):
            assert [cached.cart(cart).total.get() for cart in carts] == list(range(30))
        before = calls(primaries, "GET")

        assert [cached.cart(cart).total.get() for cart in carts] == list(range(30))

        assert calls(primaries, "GET") == before  # all 30, on three nodes, from the cache
        for cart in carts:
            plain.cart(cart).total.set(-1)
        assert eventually(lambda: {cached.cart(c).total.get() for c in carts} == {-1})


def test_cluster_updates_read_the_server_and_wrong_types_are_named(
    clean_redis_cluster: ClusterDeployment, primaries: list[redis.Redis]
) -> None:
    settings = RedisSettings(url=clean_redis_cluster.url, client_cache=True)
    with SyncRepository(Shop, settings=settings) as cached:
        cart = cached.cart("7")
        cart.total.set(1)
        cart.owner.set("ann")
        assert (cart.total.get(), cart.owner.get()) == (1, "ann")

        updated = cached.update([cart.total, cart.owner], lambda t, o: [t + 1, o.upper()])
        assert updated == [2, "ANN"]
        assert (cart.total.get(), cart.owner.get()) == (2, "ANN")

        cached.client.delete("cc:banner")
        cached.client.hset("cc:banner", "f", "v")
        for _ in range(2):
            with pytest.raises(WrongTypeError, match="cc:banner"):
                cached.banner.get()


# --- Sentinel and TLS ------------------------------------------------------------------------


def _check_cached_and_invalidated(
    cached: SyncRepository[Shop], plain: SyncRepository[Shop], server: redis.Redis
) -> None:
    assert isinstance(cached.client, CachedReads)
    plain.banner.set("first")
    assert cached.banner.get() == "first"
    before = calls([server], "GET")
    assert [cached.banner.get() for _ in range(5)] == ["first"] * 5
    assert calls([server], "GET") == before
    plain.banner.set("second")
    assert eventually(lambda: cached.banner.get() == "second")


def test_sentinel_master_client_caches(clean_redis_sentinel: SentinelDeployment) -> None:
    url = clean_redis_sentinel.url
    host, port = clean_redis_sentinel.master_address()
    with (
        SyncRepository(Shop, settings=RedisSettings(url=url, client_cache=True)) as cached,
        SyncRepository(Shop, settings=RedisSettings(url=url)) as plain,
        redis.Redis(host=host, port=port) as master,
    ):
        _check_cached_and_invalidated(cached, plain, master)


def test_a_sentinel_failover_leaves_no_stale_value(
    fresh_redis_sentinel: SentinelDeployment,
) -> None:
    deployment = fresh_redis_sentinel
    with (
        SyncRepository(
            Shop, settings=RedisSettings(url=deployment.url, client_cache=True)
        ) as cached,
        SyncRepository(Shop, settings=RedisSettings(url=deployment.url)) as plain,
    ):
        plain.banner.set("before")
        assert plain.client.execute_command("WAIT", 1, 5000) == 1  # the replica has it
        assert cached.banner.get() == "before"  # cached, from the old master

        deployment.master.stop()
        deployment.wait_for_master(deployment.replica.address)
        plain.banner.set("after")  # on the promoted replica, which never tracked the key

        # The lost connection emptied the cache; the reconnected client reads the new master.
        assert cached.banner.get() == "after"


def test_tls_client_caches(redis_tls: TLSDeployment) -> None:
    assert redis_tls.port != SHARED_REDIS_PORT
    tls = {"ssl_ca_certs": str(redis_tls.ca_file)}
    with (
        SyncRepository(
            Shop, settings=RedisSettings(url=redis_tls.url, client_cache=True, **tls)
        ) as cached,
        SyncRepository(Shop, settings=RedisSettings(url=redis_tls.url, **tls)) as plain,
        redis.Redis(host=redis_tls.host, port=redis_tls.port, ssl=True, **tls) as server,
    ):
        server.flushall()
        assert cached.client.connection_pool.connection_class is redis.SSLConnection
        _check_cached_and_invalidated(cached, plain, server)
