"""Repositories: clients from settings or from the caller, closing, logging, the demo."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from keyspace import Repository, SyncRepository
from keyspace.cli import main

from .models import Root


def spy_on_close(monkeypatch: pytest.MonkeyPatch, client: Any, method: str) -> list[str]:
    calls: list[str] = []
    original = getattr(client, method)

    def spy(*args: Any) -> Any:
        calls.append(method)
        return original(*args)

    monkeypatch.setattr(client, method, spy)
    return calls


async def test_repository_builds_its_client_from_the_environment(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", backend.url)
    monkeypatch.setenv("REDIS_DEFAULT_TTL", "30")
    repo = Repository(Root)
    closed = spy_on_close(monkeypatch, repo.client, "aclose")
    async with repo:
        await repo.project_name.set("from env")
        assert 25 < await repo.project_name.ttl() <= 30
        assert await backend.async_client().get("root:project_name") == b'"from env"'
    assert closed == ["aclose"]  # the repository closes the client it built
    sync_repo = SyncRepository(Root)
    sync_closed = spy_on_close(monkeypatch, sync_repo.client, "close")
    with sync_repo:
        assert sync_repo.project_name.get() == "from env"
    assert sync_closed == ["close"]


async def test_a_callers_client_is_left_open_and_unchanged(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = backend.async_client()
    closed = spy_on_close(monkeypatch, client, "aclose")
    kwargs = dict(client.connection_pool.connection_kwargs)
    async with Repository(Root, client) as repo:
        await repo.user(1).age.set(1)
    assert closed == []
    assert client.connection_pool.connection_kwargs == kwargs
    assert await client.get("root:user:1:age") == b"1"
    sync_client = backend.sync_client()
    sync_closed = spy_on_close(monkeypatch, sync_client, "close")
    with SyncRepository(Root, sync_client) as sync_repo:
        assert sync_repo.user(1).age.get() == 1
    assert sync_closed == []
    assert sync_client.get("root:user:1:age") == b"1"


async def test_command_logging_names_commands_and_keys_never_values(
    make_repo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="keyspace")
    quiet = make_repo()
    await quiet.user(1).name.set("secret value")
    assert caplog.records == []
    repo = make_repo(log_commands=True)
    await repo.user(1).name.set("secret value")
    await repo.user(1).clear()
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "SET root:user:1:name"
    assert any(message.startswith("SCAN ") for message in messages)
    assert any(message.startswith("UNLINK ") for message in messages)
    assert not any("secret" in message for message in messages)


def test_demo_runs_on_the_embedded_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", "memory://demo-test"]) == 0
    out = capsys.readouterr().out
    assert "keyspace demo on the embedded in-memory Redis" in out
    assert "demo:user:1:age                  b'30'" in out
    assert "demo:user:1:messages:message:5" in out
    assert "ValidationError" in out
    assert out.rstrip().endswith("-> 7")


async def test_tenant_bindings_never_see_each_others_keys(
    make_repo: Any, raw: Any, flavour: str
) -> None:
    from keyspace import DeclarationError, OptionsError

    tenants = {name: make_repo(prefix=f"t-{name}:root") for name in ("a", "b")}
    await tenants["a"].user(1).age.set(1)
    await tenants["b"].user(1).age.set(2)
    await make_repo().user(1).age.set(3)  # the declared prefix itself
    assert await tenants["a"].user(1).age.get() == 1
    assert await tenants["b"].user(1).age.get() == 2
    assert await tenants["a"].subkeys() == ["t-a:root:user:1:age"]
    assert await tenants["a"].clear() == 1
    assert await tenants["b"].user(1).age.get() == 2
    assert await make_repo().user(1).age.get() == 3
    with pytest.raises(DeclarationError, match="glob"):
        make_repo(prefix="t-*:root")
    with pytest.raises(OptionsError, match="literal"):
        make_repo(prefix="t-{tenant}")
