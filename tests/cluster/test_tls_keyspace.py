"""Repositories over TLS: a ``rediss://`` URL and the CA from the settings, both flavours."""

from __future__ import annotations

import pytest
import redis
from pydantic import BaseModel

from keyspace import (
    Cluster,
    HashKey,
    Key,
    KeyspaceDict,
    RedisSettings,
    Repository,
    SetKey,
    SyncRepository,
)
from servers import SHARED_REDIS_PORT, TLSDeployment


class Meta(BaseModel):
    model: str = ""
    firmware: int = 0


class Device(Cluster, prefix="device:{device_id}", ttl=60):
    name: Key[str] = ""
    flags: SetKey[str]
    meta: HashKey[Meta]


class Fleet(Cluster, prefix="fleet"):
    device: Device


pytestmark = pytest.mark.usefixtures("no_redis_env")


@pytest.fixture
def tls(redis_tls: TLSDeployment) -> TLSDeployment:
    """The session's TLS server, emptied before the test."""
    assert redis_tls.port != SHARED_REDIS_PORT
    with redis.Redis(
        host=redis_tls.host, port=redis_tls.port, ssl=True, ssl_ca_certs=str(redis_tls.ca_file)
    ) as client:
        client.flushall()
    return redis_tls


async def test_an_async_repository_over_tls(tls: TLSDeployment) -> None:
    settings = RedisSettings(url=tls.url, ssl_ca_certs=str(tls.ca_file))
    async with Repository(Fleet, settings=settings) as repo:
        assert repo.client.connection_pool.connection_class is redis.asyncio.SSLConnection
        device = repo.device("d1")
        await device.name.set("sensor")
        assert await device.flags.add("on", "eco") == 2
        await device.meta.set(Meta(model="x1", firmware=3))
        async with repo.pipeline(transaction=True) as p:
            bumped = p.device("d1").meta.incr_field("firmware")
            flags = p.device("d1").flags.get()
        assert (bumped.result, flags.result) == (4, {"on", "eco"})
        snapshot = await device.load()
        assert (snapshot.name, snapshot.meta) == ("sensor", Meta(model="x1", firmware=4))
        assert [d.get_full_prefix() async for d in repo.device.instances()] == ["fleet:device:d1"]
        assert await repo.clear() == 3


def test_a_sync_repository_over_tls_with_a_client_certificate(
    tls: TLSDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificates = tls.certificates
    monkeypatch.setenv("REDIS_URL", tls.url)
    monkeypatch.setenv("REDIS_SSL_CA_CERTS", str(certificates.ca_file))
    monkeypatch.setenv("REDIS_SSL_CERTFILE", str(certificates.client_cert))
    monkeypatch.setenv("REDIS_SSL_KEYFILE", str(certificates.client_key))
    with SyncRepository(Fleet) as repo:
        assert repo.client.connection_pool.connection_class is redis.SSLConnection
        repo.device("d2").name.set("camera")
        assert repo.device("d2").name.get() == "camera"
        assert repo.device("d2").name.update(lambda name: name.upper()) == "CAMERA"
        assert 55 < (repo.device("d2").name.ttl() or 0) <= 60
        with KeyspaceDict[str, int]("counts", repo.client) as counts:
            counts.update(a=1, b=2)
            assert counts.to_dict() == {"a": 1, "b": 2}
            counts.clear()
        assert list(repo.subkeys()) == ["fleet:device:d2:name"]
        assert repo.clear() == 1
