"""RedisSettings: environment and ``.env`` parsing, error messages, and the client factories."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
import redis.asyncio
from pydantic import ValidationError

from keyspace._errors import SettingsError
from keyspace._settings import RedisSettings, memory_server

_OWN_VARIABLES = ("SHOW_METHOD_DISPATCH_LOGS",)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No REDIS_* variable and no ``.env`` file leak in from the machine running the tests."""
    for name in list(os.environ):
        if name.upper().startswith("REDIS_") or name.upper() in _OWN_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def memory_url() -> str:
    """A fresh ``memory://`` name, so tests never see each other's data."""
    return f"memory://test-{uuid.uuid4().hex}"


# --- reading values ---------------------------------------------------------------------------


def test_defaults() -> None:
    settings = RedisSettings()
    assert settings.url is None
    assert (settings.host, settings.port, settings.db) == ("localhost", 6379, 0)
    assert settings.username is None
    assert settings.password is None
    assert settings.ssl is False
    assert settings.socket_timeout is None
    assert settings.socket_connect_timeout is None
    assert settings.max_connections is None
    assert settings.scan_count == 1000
    assert settings.delete_chunk_size == 500
    assert settings.default_ttl is None
    assert settings.log_commands is False
    assert settings.decode_responses is False
    assert settings.is_memory is False


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("REDIS_URL", "redis://example:1234/2", "url", "redis://example:1234/2"),
        ("REDIS_HOST", "example.org", "host", "example.org"),
        ("REDIS_PORT", "6380", "port", 6380),
        ("REDIS_DB", "3", "db", 3),
        ("REDIS_USERNAME", "ann", "username", "ann"),
        ("REDIS_SSL", "true", "ssl", True),
        ("REDIS_SOCKET_TIMEOUT", "2.5", "socket_timeout", 2.5),
        ("REDIS_SOCKET_CONNECT_TIMEOUT", "1", "socket_connect_timeout", 1.0),
        ("REDIS_MAX_CONNECTIONS", "20", "max_connections", 20),
        ("REDIS_SCAN_COUNT", "50", "scan_count", 50),
        ("REDIS_DELETE_CHUNK_SIZE", "100", "delete_chunk_size", 100),
        ("REDIS_DEFAULT_TTL", "60", "default_ttl", timedelta(seconds=60)),
        ("REDIS_LOG_COMMANDS", "1", "log_commands", True),
        ("REDIS_DECODE_RESPONSES", "yes", "decode_responses", True),
        ("redis_port", "6381", "port", 6381),
    ],
)
def test_each_variable_is_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, raw)
    assert getattr(RedisSettings(), field) == expected


@pytest.mark.parametrize("variable", ["REDIS_PASSWORD", "REDIS_PASS"])
def test_password_variables(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "s3cret")
    settings = RedisSettings()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_redis_password_wins_over_redis_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", "long")
    monkeypatch.setenv("REDIS_PASS", "short")
    settings = RedisSettings()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "long"


def test_show_method_dispatch_logs_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOW_METHOD_DISPATCH_LOGS", "true")
    assert RedisSettings().log_commands is True


def test_fields_by_name_as_keywords() -> None:
    settings = RedisSettings(password="pw", log_commands=True, port=7000)
    assert settings.password is not None
    assert settings.password.get_secret_value() == "pw"
    assert settings.log_commands is True
    assert settings.port == 7000


def test_dotenv_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("REDIS_HOST=from-dotenv\nREDIS_PORT=7001\nREDIS_PASS=dot\n")
    monkeypatch.setenv("REDIS_PORT", "7002")
    settings = RedisSettings()
    assert settings.host == "from-dotenv"
    assert settings.port == 7002
    assert settings.password is not None
    assert settings.password.get_secret_value() == "dot"


def test_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("REDIS_PORT", "")
    settings = RedisSettings()
    assert settings.url is None
    assert settings.port == 6379


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("1.5", timedelta(seconds=1.5)),
        ("PT2M", timedelta(minutes=2)),
    ],
)
def test_default_ttl_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: timedelta
) -> None:
    monkeypatch.setenv("REDIS_DEFAULT_TTL", raw)
    assert RedisSettings().default_ttl == expected


@pytest.mark.parametrize("value", [90, 90.0, timedelta(seconds=90)])
def test_default_ttl_from_keyword(value: Any) -> None:
    assert RedisSettings(default_ttl=value).default_ttl == timedelta(seconds=90)


# --- invalid values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "raw", "named"),
    [
        ("REDIS_PORT", "abc", "REDIS_PORT: Input should be a valid integer"),
        ("REDIS_PORT", "70000", "REDIS_PORT: "),
        ("REDIS_DB", "-1", "REDIS_DB: "),
        ("REDIS_DELETE_CHUNK_SIZE", "0", "REDIS_DELETE_CHUNK_SIZE: "),
        ("REDIS_SCAN_COUNT", "-3", "REDIS_SCAN_COUNT: "),
        ("REDIS_SOCKET_TIMEOUT", "0", "REDIS_SOCKET_TIMEOUT: "),
        ("REDIS_MAX_CONNECTIONS", "0", "REDIS_MAX_CONNECTIONS: "),
        ("REDIS_DEFAULT_TTL", "-5", "REDIS_DEFAULT_TTL: "),
        ("REDIS_DEFAULT_TTL", "0", "REDIS_DEFAULT_TTL: "),
        ("REDIS_DEFAULT_TTL", "soon", "REDIS_DEFAULT_TTL: "),
        ("REDIS_URL", "ftp://x", "REDIS_URL: "),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: "),
        ("REDIS_SSL", "maybe", "REDIS_SSL: "),
        ("REDIS_LOG_COMMANDS", "maybe", "REDIS_LOG_COMMANDS / SHOW_METHOD_DISPATCH_LOGS: "),
        ("SHOW_METHOD_DISPATCH_LOGS", "maybe", "REDIS_LOG_COMMANDS / SHOW_METHOD_DISPATCH_LOGS: "),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, named: str
) -> None:
    monkeypatch.setenv(variable, raw)
    with pytest.raises(SettingsError, match="invalid Redis settings") as info:
        RedisSettings()
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, ValidationError)


def test_every_invalid_variable_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PORT", "abc")
    monkeypatch.setenv("REDIS_DELETE_CHUNK_SIZE", "0")
    with pytest.raises(SettingsError) as info:
        RedisSettings()
    assert "REDIS_PORT: " in str(info.value)
    assert "REDIS_DELETE_CHUNK_SIZE: " in str(info.value)


def test_invalid_keyword_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="REDIS_PORT: Input should be a valid integer"):
        RedisSettings(port="abc")


def test_error_message_does_not_leak_the_url() -> None:
    with pytest.raises(SettingsError, match=r"REDIS_URL: .*unsupported URL scheme") as info:
        RedisSettings(url="ftp://user:hunter2@example")
    assert "hunter2" not in str(info.value)


# --- in-memory clients ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [("memory://", True), ("MEMORY://x", True), ("redis://h", False), (None, False)],
)
def test_is_memory(url: str | None, expected: bool) -> None:
    assert RedisSettings(url=url).is_memory is expected


async def test_memory_clients_are_fakeredis() -> None:
    settings = RedisSettings(url=memory_url())
    with settings.sync_client() as client:
        assert isinstance(client, fakeredis.FakeRedis)
    async with settings.async_client() as async_client:
        assert isinstance(async_client, fakeredis.FakeAsyncRedis)


async def test_memory_sync_and_async_clients_share_data() -> None:
    settings = RedisSettings(url=memory_url())
    with settings.sync_client() as sync_client:
        sync_client.set("k", "from-sync")
        async with settings.async_client() as async_client:
            assert await async_client.get("k") == b"from-sync"
            await async_client.set("k2", "from-async")
        with RedisSettings(url=settings.url).sync_client() as other:
            assert other.get("k2") == b"from-async"


def test_memory_names_are_isolated() -> None:
    name = uuid.uuid4().hex
    with (
        RedisSettings(url=f"memory://{name}-a").sync_client() as a,
        RedisSettings(url=f"memory://{name}-b").sync_client() as b,
    ):
        a.set("k", "a")
        assert b.get("k") is None


def test_memory_server_is_the_one_behind_the_url() -> None:
    name = f"test-{uuid.uuid4().hex}"
    assert memory_server(name) is memory_server(name)
    assert memory_server(name) is not memory_server(f"{name}-other")
    assert memory_server(name).version >= (7,)
    with fakeredis.FakeRedis(server=memory_server(name)) as direct:
        direct.set("k", "v")
    with RedisSettings(url=f"memory://{name}").sync_client() as client:
        assert client.get("k") == b"v"


def test_memory_db_is_honoured() -> None:
    url = memory_url()
    with (
        RedisSettings(url=url, db=1).sync_client() as db1,
        RedisSettings(url=url).sync_client() as db0,
    ):
        db1.set("k", "v")
        assert db0.get("k") is None
        assert db1.get("k") == b"v"


async def test_memory_decode_responses() -> None:
    settings = RedisSettings(url=memory_url(), decode_responses=True)
    with settings.sync_client() as client:
        client.set("k", "v")
        assert client.get("k") == "v"
    async with settings.async_client() as async_client:
        assert await async_client.get("k") == "v"


def test_fakeredis_is_imported_lazily() -> None:
    code = "import sys, keyspace._settings; sys.exit('fakeredis' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


# --- real-server clients (configured, never connected) ----------------------------------------


def test_sync_client_from_fields() -> None:
    settings = RedisSettings(
        host="example.org",
        port=6390,
        db=4,
        username="ann",
        password="pw",
        socket_timeout=2.5,
        socket_connect_timeout=1.5,
        max_connections=7,
        decode_responses=True,
    )
    with settings.sync_client() as client:
        assert type(client) is redis.Redis
        pool = client.connection_pool
        assert pool.max_connections == 7
        assert pool.connection_class is redis.Connection
        kwargs = pool.connection_kwargs
    expected = {
        "host": "example.org",
        "port": 6390,
        "db": 4,
        "username": "ann",
        "password": "pw",
        "socket_timeout": 2.5,
        "socket_connect_timeout": 1.5,
        "decode_responses": True,
    }
    assert {name: kwargs[name] for name in expected} == expected


async def test_async_client_from_fields() -> None:
    settings = RedisSettings(host="example.org", port=6390, db=2, password="pw", ssl=True)
    async with settings.async_client() as client:
        assert type(client) is redis.asyncio.Redis
        pool = client.connection_pool
        assert pool.connection_class is redis.asyncio.SSLConnection
        kwargs = pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("example.org", 6390, 2)
        assert kwargs["password"] == "pw"
        assert kwargs["decode_responses"] is False


def test_url_wins_over_fields() -> None:
    settings = RedisSettings(
        url="rediss://u:p@from-url:1234/3?socket_timeout=9",
        host="ignored",
        port=1,
        db=5,
        password="ignored",
        socket_timeout=1,
    )
    with settings.sync_client() as client:
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
    assert pool.connection_class is redis.SSLConnection
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("from-url", 1234, 3)
    assert (kwargs["username"], kwargs["password"]) == ("u", "p")
    assert kwargs["socket_timeout"] == 9


async def test_fields_fill_in_what_the_url_leaves_out() -> None:
    settings = RedisSettings(
        url="redis://from-url",
        db=5,
        username="ann",
        password="pw",
        socket_timeout=2,
        socket_connect_timeout=3,
        max_connections=4,
        decode_responses=True,
    )
    async with settings.async_client() as client:
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        assert type(client) is redis.asyncio.Redis
        assert pool.max_connections == 4
    assert kwargs["host"] == "from-url"
    assert (kwargs["db"], kwargs["username"], kwargs["password"]) == (5, "ann", "pw")
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (2, 3)
    assert kwargs["decode_responses"] is True


def test_unset_options_are_left_to_redis_py() -> None:
    with RedisSettings(url="redis://h").sync_client() as client:
        kwargs = client.connection_pool.connection_kwargs
    for name in ("username", "password", "socket_timeout", "socket_connect_timeout"):
        assert name not in kwargs


def test_unix_socket_url() -> None:
    with RedisSettings(url="unix:///tmp/redis.sock", db=2).sync_client() as client:
        pool = client.connection_pool
    assert pool.connection_class is redis.UnixDomainSocketConnection
    assert pool.connection_kwargs["path"] == "/tmp/redis.sock"
    assert pool.connection_kwargs["db"] == 2
