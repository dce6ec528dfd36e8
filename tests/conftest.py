"""Shared pytest fixtures for the keyspace test-suite.

Fixtures
--------
``redis_server_binary`` (session)
    Absolute path of the ``redis-server`` executable (``$KEYSPACE_REDIS_SERVER`` overrides the
    ``PATH`` lookup).  Without one the requesting test is skipped -- except when ``CI=true``,
    where a missing binary is a failure.
``redis_server`` (session)
    A private ``redis-server`` started on a free port of 127.0.0.1 (no persistence, data dir and
    log file in a temporary directory).  Yields a :class:`RedisServer` with ``.host``, ``.port``,
    ``.url`` (``redis://127.0.0.1:PORT/0``), ``.logfile`` and ``.log_tail()``.  It is terminated
    at the end of the session.  The shared Redis on port 6379 is never touched.
``backend`` (function, parametrized with ids ``memory`` and ``redis``)
    A :class:`Backend`: one clean, isolated Redis for one test.  ``.name``, ``.url``,
    ``.async_client(decode_responses=False)``, ``.sync_client(decode_responses=False)``.
    The ``redis`` parameter carries the ``redis_server`` marker and flushes the private server
    before the test.  Every client created through the factories is closed at teardown.
``async_client`` (function)
    ``backend.async_client()`` -- a ``redis.asyncio.Redis`` returning ``bytes``.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import pytest_asyncio
import redis
import redis.asyncio

from servers import SHARED_REDIS_PORT, Launch, ServerProcess, server_command, start


def running_in_ci() -> bool:
    """True when the ``CI`` environment variable says we run under continuous integration."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def sanitize_name(text: str, *, max_length: int = 60) -> str:
    """Turn arbitrary text into a lowercase ``[a-z0-9-]`` name usable in a ``memory://`` URL."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:max_length].strip("-") or "x"


# --------------------------------------------------------------------------------------------
# A private redis-server
# --------------------------------------------------------------------------------------------


# The private server is one of the processes tests/servers.py starts (on a free port, never
# 6379); it carries ``.host``, ``.port``, ``.url``, ``.logfile``, ``.log_tail()``, ``.stop()``.
RedisServer = ServerProcess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests requesting ``redis_server`` directly get the ``redis_server`` marker too."""
    for item in items:
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis_server)


@pytest.fixture
def no_redis_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No REDIS_* variable and no ``.env`` file leak in from the machine running the tests
    (``pytestmark = pytest.mark.usefixtures("no_redis_env")`` in a module that reads settings)."""
    for name in list(os.environ):
        if name.upper().startswith("REDIS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    """Path of the ``redis-server`` executable; skip (fail under ``CI=true``) without one."""
    binary = os.environ.get("KEYSPACE_REDIS_SERVER") or shutil.which("redis-server")
    if binary and os.access(binary, os.X_OK):
        return binary
    reason = "redis-server binary not found (install redis-server or set KEYSPACE_REDIS_SERVER)"
    if running_in_ci():
        pytest.fail(f"{reason}; a skip is not allowed when CI=true", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server(
    redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """A private ``redis-server`` on a free port, alive for the whole session."""
    launch = Launch("redis-server", server_command(redis_server_binary))
    (server,) = start(tmp_path_factory.mktemp("redis-server"), [launch])
    assert server.port != SHARED_REDIS_PORT
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


def _memory_fake_server(name: str) -> fakeredis.FakeServer:
    """The FakeServer behind ``memory://<name>``.

    Uses ``keyspace._settings.memory_server`` when that exists (so that ``backend.url`` and the
    factory clients see the same data); otherwise a fresh private ``FakeServer``.
    """
    try:
        server = importlib.import_module("keyspace._settings").memory_server(name)
    except Exception:
        server = None
    return server if isinstance(server, fakeredis.FakeServer) else fakeredis.FakeServer()


class Backend:
    """A clean, isolated Redis for one test, plus factories for clients talking to it."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        server: RedisServer | None = None,
        fake_server: fakeredis.FakeServer | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.server = server
        self.fake_server = fake_server
        self._async_clients: list[redis.asyncio.Redis] = []
        self._sync_clients: list[redis.Redis] = []

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, url={self.url!r})"

    @property
    def is_memory(self) -> bool:
        return self.fake_server is not None

    def async_client(self, decode_responses: bool = False, **kwargs: Any) -> redis.asyncio.Redis:
        """A new ``redis.asyncio.Redis`` on this backend's data (closed at teardown)."""
        client: redis.asyncio.Redis
        if self.fake_server is not None:
            client = fakeredis.FakeAsyncRedis(
                server=self.fake_server, decode_responses=decode_responses, **kwargs
            )
        else:
            assert self.server is not None
            client = redis.asyncio.Redis(
                host=self.server.host,
                port=self.server.port,
                db=0,
                decode_responses=decode_responses,
                **kwargs,
            )
        self._async_clients.append(client)
        return client

    def sync_client(self, decode_responses: bool = False, **kwargs: Any) -> redis.Redis:
        """A new ``redis.Redis`` on this backend's data (closed at teardown)."""
        client: redis.Redis
        if self.fake_server is not None:
            client = fakeredis.FakeRedis(
                server=self.fake_server, decode_responses=decode_responses, **kwargs
            )
        else:
            assert self.server is not None
            client = redis.Redis(
                host=self.server.host,
                port=self.server.port,
                db=0,
                decode_responses=decode_responses,
                **kwargs,
            )
        self._sync_clients.append(client)
        return client

    async def aclose(self) -> None:
        """Close every client created through the factories."""
        while self._async_clients:
            await self._async_clients.pop().aclose()
        while self._sync_clients:
            self._sync_clients.pop().close()


def _flush(server: RedisServer) -> None:
    assert server.port != SHARED_REDIS_PORT
    with redis.Redis(host=server.host, port=server.port, db=0) as client:
        client.flushall()


@pytest_asyncio.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.redis_server)],
    ids=["memory", "redis"],
)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """A clean, isolated Redis for one test: ``memory`` (fakeredis) or ``redis`` (real)."""
    unique = f"{sanitize_name(request.node.name)}-{uuid.uuid4().hex[:10]}"
    if request.param == "memory":
        name = f"test-{unique}"
        instance = Backend("memory", f"memory://{name}", fake_server=_memory_fake_server(name))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        _flush(server)
        instance = Backend("redis", server.url, server=server)
    try:
        yield instance
    finally:
        await instance.aclose()


@pytest_asyncio.fixture
async def async_client(backend: Backend) -> redis.asyncio.Redis:
    """``backend.async_client()``: an asyncio client returning ``bytes``."""
    return backend.async_client()
