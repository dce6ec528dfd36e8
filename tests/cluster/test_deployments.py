"""Clients built by RedisSettings talk to real deployments: Redis Cluster, Sentinel, TLS."""

from __future__ import annotations

import ssl
import time

import pytest
import redis
import redis.asyncio

from keyspace import RedisSettings
from servers import SHARED_REDIS_PORT, ClusterDeployment, SentinelDeployment, TLSDeployment

KEYS = [f"key:{index}" for index in range(60)]


pytestmark = pytest.mark.usefixtures("no_redis_env")


def keys_per_node(cluster: ClusterDeployment) -> dict[int, int]:
    counts = {}
    for host, port in cluster.nodes:
        assert port != SHARED_REDIS_PORT
        with redis.Redis(host=host, port=port) as node:
            counts[port] = node.dbsize()
    return counts


# --- Redis Cluster ----------------------------------------------------------------------------


def test_cluster_fixture(redis_cluster: ClusterDeployment) -> None:
    assert len(redis_cluster.nodes) == 3
    assert len({port for _, port in redis_cluster.nodes}) == 3
    assert redis_cluster.url == "redis+cluster://" + ",".join(
        f"127.0.0.1:{port}" for _, port in redis_cluster.nodes
    )
    for host, port in redis_cluster.nodes:
        with redis.Redis(host=host, port=port, decode_responses=True) as node:
            assert node.cluster("INFO")["cluster_state"] == "ok"


def test_cluster_sync_client_across_slots(clean_redis_cluster: ClusterDeployment) -> None:
    settings = RedisSettings(url=clean_redis_cluster.url)
    assert settings.is_cluster
    with settings.sync_client() as client:
        assert isinstance(client, redis.RedisCluster)
        for key in KEYS:
            client.set(key, key.upper())
        assert [client.get(key) for key in KEYS] == [key.upper().encode() for key in KEYS]
    counts = keys_per_node(clean_redis_cluster)
    assert sum(counts.values()) == len(KEYS)
    assert all(counts.values()), counts  # every primary holds some of the keys


async def test_cluster_async_client_across_slots(clean_redis_cluster: ClusterDeployment) -> None:
    settings = RedisSettings(url=clean_redis_cluster.url, decode_responses=True)
    async with settings.async_client() as client:
        assert isinstance(client, redis.asyncio.RedisCluster)
        for key in KEYS:
            await client.set(key, key.upper())
        assert [await client.get(key) for key in KEYS] == [key.upper() for key in KEYS]
    counts = keys_per_node(clean_redis_cluster)
    assert sum(counts.values()) == len(KEYS)
    assert all(counts.values()), counts


async def test_cluster_from_one_startup_node(
    clean_redis_cluster: ClusterDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = clean_redis_cluster.nodes[-1]
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    monkeypatch.setenv("REDIS_HOST", host)
    monkeypatch.setenv("REDIS_PORT", str(port))
    settings = RedisSettings()
    assert settings.is_cluster
    async with settings.async_client() as client:
        for key in KEYS:
            await client.set(key, "v")
        assert len(client.get_primaries()) == 3  # discovered from one node
    with settings.sync_client() as sync:
        assert isinstance(sync, redis.RedisCluster)
        assert {sync.get(key) for key in KEYS} == {b"v"}
        assert len(sync.get_primaries()) == 3


def test_cluster_nodes_variable_and_resp3(
    clean_redis_cluster: ClusterDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = ",".join(f"{host}:{port}" for host, port in clean_redis_cluster.nodes[:2])
    monkeypatch.setenv("REDIS_CLUSTER_NODES", nodes)
    monkeypatch.setenv("REDIS_PROTOCOL", "3")
    settings = RedisSettings()
    with settings.sync_client() as client:
        assert isinstance(client, redis.RedisCluster)
        client.hset("h", mapping={"a": "1"})
        assert client.hgetall("h") == {b"a": b"1"}
        node = client.get_node_from_key("h")
        assert client.execute_command("HELLO", target_nodes=node)[b"proto"] == 3


# --- Sentinel ---------------------------------------------------------------------------------


def test_sentinel_fixture(redis_sentinel: SentinelDeployment) -> None:
    assert redis_sentinel.service == "mymaster"
    assert redis_sentinel.master_address() == redis_sentinel.master.address
    (sentinel,) = redis_sentinel.sentinels
    assert redis_sentinel.url == f"redis+sentinel://127.0.0.1:{sentinel[1]}/mymaster"


def test_sentinel_sync_client_writes_to_the_master(
    clean_redis_sentinel: SentinelDeployment,
) -> None:
    settings = RedisSettings(url=clean_redis_sentinel.url)
    assert settings.is_sentinel
    with settings.sync_client() as client:
        assert isinstance(client, redis.Redis)
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.execute_command("WAIT", 1, 5000) == 1
    with redis.Redis(*clean_redis_sentinel.master.address) as master:
        assert master.get("greeting") == b"hello"
    with redis.Redis(*clean_redis_sentinel.replica.address) as replica:
        assert replica.get("greeting") == b"hello"


async def test_sentinel_async_client_from_variables(
    clean_redis_sentinel: SentinelDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "REDIS_SENTINELS", ",".join(f"{h}:{p}" for h, p in clean_redis_sentinel.sentinels)
    )
    monkeypatch.setenv("REDIS_SENTINEL_SERVICE", clean_redis_sentinel.service)
    monkeypatch.setenv("REDIS_DECODE_RESPONSES", "true")
    settings = RedisSettings()
    with redis.Redis(*clean_redis_sentinel.sentinel.address) as sentinel:
        before = len(sentinel.client_list())
        async with settings.async_client() as client:
            assert isinstance(client, redis.asyncio.Redis)
            await client.set("greeting", "hello")
            assert await client.get("greeting") == "hello"
            assert len(sentinel.client_list()) > before  # it asked the sentinel
        # closing the client also closed its connections to the sentinel
        assert len(sentinel.client_list()) == before
    with redis.Redis(*clean_redis_sentinel.master.address) as master:
        assert master.get("greeting") == b"hello"


def test_sentinel_failover(fresh_redis_sentinel: SentinelDeployment) -> None:
    deployment = fresh_redis_sentinel
    with RedisSettings(url=deployment.url).sync_client() as client:
        client.set("before", "1")
        assert client.execute_command("WAIT", 1, 5000) == 1
        deployment.master.stop()
        deployment.wait_for_master(deployment.replica.address)
        # the same client finds the promoted replica through the sentinel
        deadline = time.monotonic() + 10
        while True:
            try:
                client.set("after", "2")
                break
            except (redis.ConnectionError, redis.ReadOnlyError, redis.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert client.get("before") == b"1"
        assert client.get("after") == b"2"
    with redis.Redis(*deployment.replica.address) as promoted:
        assert promoted.get("after") == b"2"


# --- TLS --------------------------------------------------------------------------------------


def test_tls_fixture(redis_tls: TLSDeployment) -> None:
    assert redis_tls.url == f"rediss://127.0.0.1:{redis_tls.port}"
    assert redis_tls.ca_file.is_file()


def test_tls_sync_client_with_the_ca(redis_tls: TLSDeployment) -> None:
    settings = RedisSettings(url=redis_tls.url, ssl_ca_certs=str(redis_tls.ca_file))
    with settings.sync_client() as client:
        assert client.set("secure", "yes")
        assert client.get("secure") == b"yes"


async def test_tls_async_client_from_variables(
    redis_tls: TLSDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_SSL", "true")
    monkeypatch.setenv("REDIS_HOST", "localhost")  # the certificate names localhost too
    monkeypatch.setenv("REDIS_PORT", str(redis_tls.port))
    monkeypatch.setenv("REDIS_SSL_CA_CERTS", str(redis_tls.ca_file))
    monkeypatch.setenv("REDIS_SSL_CHECK_HOSTNAME", "true")
    async with RedisSettings().async_client() as client:
        assert await client.set("secure", "yes")
        assert await client.get("secure") == b"yes"


def test_tls_with_a_client_certificate(redis_tls: TLSDeployment) -> None:
    certificates = redis_tls.certificates
    settings = RedisSettings(
        url=redis_tls.url,
        ssl_ca_certs=str(certificates.ca_file),
        ssl_certfile=str(certificates.client_cert),
        ssl_keyfile=str(certificates.client_key),
    )
    with settings.sync_client() as client:
        assert client.ping()


def test_tls_fails_verification_without_the_ca(redis_tls: TLSDeployment) -> None:
    with (
        RedisSettings(url=redis_tls.url).sync_client() as client,
        pytest.raises(redis.ConnectionError) as info,
    ):
        client.ping()
    assert _verify_failed(info.value)


async def test_tls_async_fails_verification_without_the_ca(redis_tls: TLSDeployment) -> None:
    async with RedisSettings(url=redis_tls.url).async_client() as client:
        with pytest.raises(redis.ConnectionError) as info:
            await client.ping()
    assert _verify_failed(info.value)


def test_tls_without_verification(redis_tls: TLSDeployment) -> None:
    settings = RedisSettings(url=redis_tls.url, ssl_cert_reqs="none")
    with settings.sync_client() as client:
        assert client.ping()


def _verify_failed(error: BaseException) -> bool:
    chain: BaseException | None = error
    while chain is not None:
        if isinstance(chain, ssl.SSLCertVerificationError):
            return True
        if "certificate verify failed" in str(chain).lower():
            return True
        chain = chain.__cause__ or chain.__context__
    return False
