"""Fixtures that start real Redis deployments: Redis Cluster, Sentinel, and TLS.

Fixtures
--------
``redis_cluster`` (session)
    Three ``--cluster-enabled yes`` primaries on free ports of 127.0.0.1 (the cluster bus port,
    port + 10000, is free too), joined with ``redis-cli --cluster create --cluster-replicas 0``;
    ready when every node reports ``cluster_state:ok``.  A :class:`ClusterDeployment` with
    ``.nodes`` ``[(host, port)]``, ``.url`` (``redis+cluster://127.0.0.1:p1,...``),
    ``.processes``, ``.flushall()`` and ``.stop()``.
``clean_redis_cluster`` (function)
    ``redis_cluster`` after ``FLUSHALL`` on each of its primaries.
``redis_sentinel`` (session)
    A master, a replica in sync with it and one sentinel (quorum 1, down-after 1 s, failover
    timeout 3 s).  A :class:`SentinelDeployment` with ``.sentinels`` ``[(host, port)]``,
    ``.service`` (``"mymaster"``), ``.url`` (``redis+sentinel://127.0.0.1:p/mymaster``),
    ``.master``, ``.replica``, ``.sentinel`` (:class:`ServerProcess`, each with ``.stop()``),
    ``.master_address()``, ``.wait_for_master(address)``, ``.flushall()`` and ``.stop()``.
``clean_redis_sentinel`` (function)
    ``redis_sentinel`` after ``FLUSHALL`` on its current master.
``fresh_redis_sentinel`` (function)
    A private sentinel deployment for one test, for tests that stop processes (failover).
``redis_tls`` (session)
    A TLS-only ``redis-server`` (``--port 0 --tls-port P --tls-auth-clients optional``) with a
    CA, a server certificate for 127.0.0.1/localhost and a client certificate made by the
    ``openssl`` command line.  A :class:`TLSDeployment` with ``.url``
    (``rediss://127.0.0.1:P``), ``.host``, ``.port``, ``.ca_file`` and ``.certificates``
    (``.client_cert``, ``.client_key``, ...).  Skipped, even under ``CI=true``, when the
    ``redis-server`` build has no TLS.

A missing ``redis-server``, ``redis-cli`` or ``openssl`` skips the requesting test, except under
``CI=true`` where it is a failure.  Every test in this directory gets the ``redis_server``
marker.  All processes are stopped at the end of the session (or of the test, for
``fresh_redis_sentinel``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import (
    ClusterDeployment,
    SentinelDeployment,
    TLSDeployment,
    make_certificates,
    server_has_tls,
    start_cluster,
    start_sentinel,
    start_tls_server,
)

_HERE = Path(__file__).parent


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under ``tests/cluster`` needs real servers: mark it ``redis_server``."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.redis_server)


def _tool(name: str, variable: str, *, near: str | None = None) -> str:
    """Path of a command-line tool; skip without one (fail under ``CI=true``)."""
    candidates = [os.environ.get(variable), shutil.which(name)]
    if near is not None:
        candidates.append(str(Path(near).with_name(name)))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    reason = f"{name} not found (install it or set {variable})"
    if _running_in_ci():
        pytest.fail(f"{reason}; a skip is not allowed when CI=true", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_cli_binary(redis_server_binary: str) -> str:
    """Path of ``redis-cli`` (``$KEYSPACE_REDIS_CLI`` overrides the lookup)."""
    return _tool("redis-cli", "KEYSPACE_REDIS_CLI", near=redis_server_binary)


@pytest.fixture(scope="session")
def openssl_binary() -> str:
    """Path of the ``openssl`` command line (``$KEYSPACE_OPENSSL`` overrides the lookup)."""
    return _tool("openssl", "KEYSPACE_OPENSSL")


@pytest.fixture(scope="session")
def redis_cluster(
    redis_server_binary: str, redis_cli_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterDeployment]:
    """A three-primary Redis Cluster, alive for the whole session."""
    deployment = start_cluster(
        redis_server_binary, redis_cli_binary, tmp_path_factory.mktemp("redis-cluster")
    )
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def clean_redis_cluster(redis_cluster: ClusterDeployment) -> ClusterDeployment:
    """``redis_cluster``, emptied (FLUSHALL on each of its primaries) before the test."""
    redis_cluster.flushall()
    return redis_cluster


@pytest.fixture(scope="session")
def redis_sentinel(
    redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SentinelDeployment]:
    """A master, its replica and one sentinel, alive for the whole session."""
    deployment = start_sentinel(redis_server_binary, tmp_path_factory.mktemp("redis-sentinel"))
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def clean_redis_sentinel(redis_sentinel: SentinelDeployment) -> SentinelDeployment:
    """``redis_sentinel``, emptied (FLUSHALL on the current master) before the test."""
    redis_sentinel.flushall()
    return redis_sentinel


@pytest.fixture
def fresh_redis_sentinel(
    redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SentinelDeployment]:
    """A sentinel deployment of one's own, for a test that stops its processes."""
    deployment = start_sentinel(redis_server_binary, tmp_path_factory.mktemp("fresh-sentinel"))
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(scope="session")
def redis_tls(
    redis_server_binary: str, openssl_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TLSDeployment]:
    """A TLS-only redis-server trusting a throw-away CA, alive for the whole session."""
    if not server_has_tls(redis_server_binary):
        pytest.skip(f"{redis_server_binary} was built without TLS support")
    directory = tmp_path_factory.mktemp("redis-tls")
    certificates = make_certificates(openssl_binary, directory / "certs")
    deployment = start_tls_server(redis_server_binary, certificates, directory)
    try:
        yield deployment
    finally:
        deployment.stop()
