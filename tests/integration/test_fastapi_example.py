"""The example app of ``examples/fastapi_app``, through httpx's ASGI transport.

The app is imported from its file (``examples/`` is not a package). Each case starts the
app's own lifespan with ``REDIS_URL`` pointing at the backend, so the app runs exactly as
deployed, on the in-memory backend and on a real redis-server.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

if TYPE_CHECKING:  # conftest is not importable at runtime (tests/ is not a package)
    from conftest import Backend

APP_FILE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app" / "app.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keyspace_fastapi_example", APP_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: pydantic resolves the module's annotations through it.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest_asyncio.fixture
async def client(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("REDIS_URL", backend.url)  # read by the lifespan at startup
    app = example.app
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield http


@pytest.fixture
def raw(backend: Backend) -> Any:
    return backend.async_client()


async def sign_up(client: httpx.AsyncClient, name: str) -> tuple[int, dict[str, str]]:
    """Create a user and log in; the user's id and the session header."""
    created = await client.post("/users", json={"name": name, "email": f"{name}@example.com"})
    assert created.status_code == 201
    user_id: int = created.json()["id"]
    session = await client.post("/sessions", json={"user_id": user_id})
    assert session.status_code == 201
    return user_id, {"X-Session": session.json()["token"]}


async def test_users(client: httpx.AsyncClient, raw: Any) -> None:
    created = await client.post("/users", json={"name": "Ann", "email": "ann@example.com"})
    assert created.status_code == 201
    assert created.json() == {"id": 1, "name": "Ann", "email": "ann@example.com"}
    assert await raw.hgetall("demo:user:1:profile") == {
        b"name": b'"Ann"',
        b"email": b'"ann@example.com"',
    }
    assert (await client.get("/users/1")).json()["name"] == "Ann"
    assert (await client.get("/users/2")).status_code == 404
    invalid = await client.post("/users", json={"name": "Bo", "email": "not an address"})
    assert invalid.status_code == 422
    assert await raw.get("demo:next_user_id") == b"1"  # nothing was written


async def test_sessions_expire_and_slide(client: httpx.AsyncClient, raw: Any) -> None:
    user_id, header = await sign_up(client, "ann")
    key = f"demo:session:{header['X-Session']}:owner"
    assert 1790 < await raw.ttl(key) <= example.SESSION_TTL
    await raw.expire(key, 5)
    me = await client.get("/me", headers=header)
    assert me.json() == {"id": user_id, "name": "ann", "email": "ann@example.com"}
    assert await raw.ttl(key) > 5  # the read renewed it
    await raw.pexpire(key, 20)
    await asyncio.sleep(0.1)
    assert (await client.get("/me", headers=header)).status_code == 401  # expired


async def test_sessions_refuse_what_is_not_one(client: httpx.AsyncClient) -> None:
    assert (await client.post("/sessions", json={"user_id": 9})).status_code == 404
    assert (await client.get("/me")).status_code == 422  # no header
    for token in ("unknown", "a:b", "*"):  # never a key pattern or another key's segment
        assert (await client.get("/me", headers={"X-Session": token})).status_code == 401
    _, header = await sign_up(client, "ann")
    assert (await client.delete("/sessions/current", headers=header)).status_code == 204
    assert (await client.get("/me", headers=header)).status_code == 401
    assert (await client.delete("/sessions/current", headers=header)).status_code == 401


async def test_visits_count_atomically(client: httpx.AsyncClient) -> None:
    assert (await client.get("/visits")).json() == 0
    counts = await asyncio.gather(*(client.post("/visits") for _ in range(20)))
    assert sorted(r.json() for r in counts) == list(range(1, 21))
    assert (await client.get("/visits")).json() == 20


async def test_leaderboard(client: httpx.AsyncClient) -> None:
    ann, ann_session = await sign_up(client, "ann")
    bo, bo_session = await sign_up(client, "bo")
    assert (await client.post("/leaderboard/me", headers=ann_session)).json() == 1.0
    assert (await client.post("/leaderboard/me?points=5", headers=bo_session)).json() == 5.0
    assert (await client.post("/leaderboard/me?points=2.5", headers=ann_session)).json() == 3.5
    board = (await client.get("/leaderboard")).json()
    assert board == [
        {"user_id": bo, "name": "bo", "points": 5.0},
        {"user_id": ann, "name": "ann", "points": 3.5},
    ]
    assert [s["name"] for s in (await client.get("/leaderboard?limit=1")).json()] == ["bo"]
    assert (await client.get("/leaderboard?limit=0")).status_code == 422
    assert (await client.post("/leaderboard/me")).status_code == 422  # no session header
