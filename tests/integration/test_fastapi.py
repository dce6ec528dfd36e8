"""keyspace.fastapi: the lifespan opens one repository per app; the dependency hands it out.

Every case runs on the in-memory backend and on a real redis-server (``backend``), through
httpx's ASGI transport, which does not run lifespans: the cases enter them explicitly.

No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, and
those name the local ``Repo`` alias, which a string annotation could not resolve.
"""

import importlib
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import pytest
import redis.exceptions
from fastapi import Depends, FastAPI, WebSocket

from keyspace import Cluster, Counter, Key, RedisSettings, Repository
from keyspace.fastapi import KeyspaceLifespan

if TYPE_CHECKING:  # conftest is not importable at runtime (tests/ is not a package)
    from conftest import Backend, RedisServer


class Root(Cluster, prefix="web"):
    hits: Counter
    motd: Key[str] = "hello"


def make_app(keyspace: KeyspaceLifespan[Root]) -> FastAPI:
    app = FastAPI(lifespan=keyspace)
    Repo = Annotated[Repository[Root], Depends(keyspace.repository)]

    @app.post("/hits")
    async def hit(repo: Repo) -> int:
        return await repo.hits.incr()

    @app.get("/motd")
    async def motd(repo: Repo) -> dict[str, str]:
        return {"motd": await repo.motd.get(), "key": repo.motd.key}

    @app.websocket("/ws")
    async def socket_hits(websocket: WebSocket, repo: Repo) -> None:
        await websocket.accept()
        await websocket.send_json(await repo.hits.incr())
        await websocket.close()

    return app


def http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
def keyspace(backend: "Backend") -> KeyspaceLifespan[Root]:
    return KeyspaceLifespan(Root, settings=RedisSettings(url=backend.url))


async def test_the_lifespan_opens_and_closes_the_repository(
    keyspace: KeyspaceLifespan[Root], backend: "Backend", monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Repository[Any]] = []
    aclose = Repository.aclose

    async def recording_aclose(self: Repository[Any]) -> None:
        closed.append(self)
        await aclose(self)

    monkeypatch.setattr(Repository, "aclose", recording_aclose)
    app = make_app(keyspace)
    async with keyspace(app), http(app) as client:
        repository = keyspace.repository_of(app)
        assert isinstance(repository, Repository)
        assert (await client.post("/hits")).json() == 1
        assert (await client.post("/hits")).json() == 2
        assert (await client.get("/motd")).json() == {"motd": "hello", "key": "web:motd"}
        assert closed == []
    assert closed == [repository]
    assert await backend.async_client().get("web:hits") == b"2"
    with pytest.raises(RuntimeError, match=r"KeyspaceLifespan\(Root\) is not running"):
        keyspace.repository_of(app)


async def test_each_app_has_its_own_repository(keyspace: KeyspaceLifespan[Root]) -> None:
    first, second = make_app(keyspace), make_app(keyspace)
    async with keyspace(first), keyspace(second):
        assert keyspace.repository_of(first) is not keyspace.repository_of(second)
        async with http(first) as one, http(second) as two:
            assert (await one.post("/hits")).json() == 1
            assert (await two.post("/hits")).json() == 2  # one server, two connections
    with pytest.raises(RuntimeError, match="not running"):
        keyspace.repository_of(second)


async def test_the_dependency_can_be_overridden(backend: "Backend") -> None:
    keyspace = KeyspaceLifespan(Root)  # never started: no settings are read, nothing connects
    app = make_app(keyspace)
    repository = Repository(Root, backend.async_client(), prefix="test-1:web")
    app.dependency_overrides[keyspace.repository] = lambda: repository
    async with http(app) as client:
        assert (await client.post("/hits")).json() == 1
        assert (await client.get("/motd")).json()["key"] == "test-1:web:motd"
    assert await repository.hits.get() == 1


async def test_without_the_lifespan_requests_fail_clearly(keyspace: KeyspaceLifespan[Root]) -> None:
    app = make_app(keyspace)
    async with http(app) as client:
        with pytest.raises(RuntimeError, match=r"pass it as FastAPI\(lifespan=...\)"):
            await client.post("/hits")


async def test_a_lifespan_runs_once_per_app(keyspace: KeyspaceLifespan[Root]) -> None:
    app = make_app(keyspace)
    async with keyspace(app):
        with pytest.raises(RuntimeError, match="already running for this app"):
            async with keyspace(app):
                pass  # pragma: no cover - not reached
        assert isinstance(keyspace.repository_of(app), Repository)  # the first one is intact


async def test_options_reach_the_repository(backend: "Backend") -> None:
    settings = RedisSettings(url=backend.url)
    keyspace = KeyspaceLifespan(Root, settings=settings, publish_events=True, prefix="t1:web")
    app = make_app(keyspace)
    async with keyspace(app), http(app) as client:
        assert keyspace.repository_of(app).writer_id is not None
        assert (await client.get("/motd")).json()["key"] == "t1:web:motd"


async def test_startup_fails_when_redis_refuses(redis_server: "RedisServer") -> None:
    wrong = f"redis://{redis_server.host}:{redis_server.port}/99"  # no such database
    keyspace = KeyspaceLifespan(Root, settings=RedisSettings(url=wrong))
    app = make_app(keyspace)
    with pytest.raises(redis.exceptions.ResponseError, match="DB index is out of range"):
        async with keyspace(app):
            pass  # pragma: no cover - not reached
    with pytest.raises(RuntimeError, match="not running"):
        keyspace.repository_of(app)
    # Without the check, startup does no I/O.
    lazy = KeyspaceLifespan(Root, settings=RedisSettings(url=wrong), ping=False)
    async with lazy(app):
        assert isinstance(lazy.repository_of(app), Repository)


async def test_it_composes_with_the_apps_own_lifespan(keyspace: KeyspaceLifespan[Root]) -> None:
    events: list[str] = []

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with keyspace(app):
            events.append("started")
            await keyspace.repository_of(app).motd.set("composed")
            yield
        events.append("stopped")

    app = FastAPI(lifespan=lifespan)

    @app.get("/motd")
    async def motd(repo: Annotated[Repository[Root], Depends(keyspace.repository)]) -> str:
        return await repo.motd.get()

    async with app.router.lifespan_context(app), http(app) as client:
        assert (await client.get("/motd")).json() == "composed"
    assert events == ["started", "stopped"]


async def websocket_messages(app: FastAPI, path: str) -> list[dict[str, Any]]:
    """Connect to a WebSocket endpoint over raw ASGI (httpx has no WebSockets); what it sent."""
    scope = {"type": "websocket", "path": path, "headers": [], "query_string": b""}
    incoming = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_websocket_endpoints_get_the_repository(keyspace: KeyspaceLifespan[Root]) -> None:
    app = make_app(keyspace)
    async with keyspace(app):
        sent = await websocket_messages(app, "/ws")
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "1"


def test_fastapi_missing_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi.requests", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "keyspace.fastapi")
    with pytest.raises(ImportError, match=r"pip install 'keyspace\[fastapi\]'"):
        importlib.import_module("keyspace.fastapi")
