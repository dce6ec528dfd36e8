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
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry as SyncRetry

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


# --- deployments: Redis Cluster, Sentinel, TLS, RESP3 ---------------------------------------


@pytest.fixture
def no_cluster_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py's sync RedisCluster asks a startup node for the slots in its constructor."""
    from redis._parsers.commands import CommandsParser

    monkeypatch.setattr(redis.cluster.NodesManager, "initialize", lambda self: None)
    monkeypatch.setattr(CommandsParser, "initialize", lambda self, r=None: None)


def test_deployment_defaults() -> None:
    settings = RedisSettings()
    assert settings.cluster is False
    assert settings.cluster_nodes == ()
    assert settings.sentinels == ()
    assert settings.sentinel_service is None
    assert settings.sentinel_password is None
    assert settings.ssl_ca_certs is None
    assert settings.ssl_certfile is None
    assert settings.ssl_keyfile is None
    assert settings.ssl_cert_reqs == "required"
    assert settings.ssl_check_hostname is None
    assert settings.protocol == 2
    assert settings.is_cluster is False
    assert settings.is_sentinel is False


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("REDIS_CLUSTER", "true", "cluster", True),
        ("REDIS_CLUSTER_NODES", "a:7000", "cluster_nodes", (("a", 7000),)),
        ("REDIS_CLUSTER_NODES", " a:7000 , b:7001,", "cluster_nodes", (("a", 7000), ("b", 7001))),
        ("REDIS_CLUSTER_NODES", "a", "cluster_nodes", (("a", 6379),)),
        ("REDIS_CLUSTER_NODES", "[::1]:7000,::2", "cluster_nodes", (("::1", 7000), ("::2", 6379))),
        ("REDIS_CLUSTER_NODES", '["a:7000", "b"]', "cluster_nodes", (("a", 7000), ("b", 6379))),
        ("REDIS_SENTINELS", "s1,s2:5000", "sentinels", (("s1", 26379), ("s2", 5000))),
        ("REDIS_SENTINEL_SERVICE", "mymaster", "sentinel_service", "mymaster"),
        ("REDIS_SSL_CA_CERTS", "/etc/ca.pem", "ssl_ca_certs", "/etc/ca.pem"),
        ("REDIS_SSL_CERTFILE", "/etc/client.crt", "ssl_certfile", "/etc/client.crt"),
        ("REDIS_SSL_KEYFILE", "/etc/client.key", "ssl_keyfile", "/etc/client.key"),
        ("REDIS_SSL_CERT_REQS", "none", "ssl_cert_reqs", "none"),
        ("REDIS_SSL_CERT_REQS", "Optional", "ssl_cert_reqs", "optional"),
        ("REDIS_SSL_CERT_REQS", "REQUIRED", "ssl_cert_reqs", "required"),
        ("REDIS_SSL_CHECK_HOSTNAME", "false", "ssl_check_hostname", False),
        ("REDIS_SSL_CHECK_HOSTNAME", "1", "ssl_check_hostname", True),
        ("REDIS_PROTOCOL", "3", "protocol", 3),
        ("REDIS_PROTOCOL", "2", "protocol", 2),
    ],
)
def test_each_deployment_variable_is_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: object
) -> None:
    if variable.startswith("REDIS_SENTINEL_"):
        monkeypatch.setenv("REDIS_SENTINELS", "s")
    if variable == "REDIS_SENTINELS":
        monkeypatch.setenv("REDIS_SENTINEL_SERVICE", "m")
    monkeypatch.setenv(variable, raw)
    assert getattr(RedisSettings(), field) == expected


def test_sentinel_password_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "s:1")
    monkeypatch.setenv("REDIS_SENTINEL_SERVICE", "m")
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "s3ntinel")
    settings = RedisSettings()
    assert settings.sentinel_password is not None
    assert settings.sentinel_password.get_secret_value() == "s3ntinel"
    assert "s3ntinel" not in repr(settings)


def test_nodes_as_keywords() -> None:
    settings = RedisSettings(cluster_nodes=["a:1", ("b", 2), "c"])
    assert settings.cluster_nodes == (("a", 1), ("b", 2), ("c", 6379))
    settings = RedisSettings(sentinels=[("s", "5000")], sentinel_service="m")
    assert settings.sentinels == (("s", 5000),)
    assert RedisSettings(protocol=3).protocol == 3


@pytest.mark.parametrize(
    ("settings", "cluster", "sentinel"),
    [
        ({}, False, False),
        ({"url": "redis://h"}, False, False),
        ({"url": "memory://"}, False, False),
        ({"cluster": True}, True, False),
        ({"cluster": True, "url": "rediss://h:1"}, True, False),
        ({"cluster_nodes": "a:1"}, True, False),
        ({"url": "redis+cluster://a:1,b:2"}, True, False),
        ({"url": "REDISS+CLUSTER://a:1"}, True, False),
        ({"sentinels": "s", "sentinel_service": "m"}, False, True),
        ({"url": "redis+sentinel://s/m"}, False, True),
        ({"url": "rediss+sentinel://s1,s2/m"}, False, True),
    ],
)
def test_deployment_is_selected(settings: dict[str, Any], cluster: bool, sentinel: bool) -> None:
    chosen = RedisSettings(**settings)
    assert (chosen.is_cluster, chosen.is_sentinel) == (cluster, sentinel)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"REDIS_CLUSTER_NODES": "a:x"}, "REDIS_CLUSTER_NODES: Value error, a node's port"),
        ({"REDIS_CLUSTER_NODES": "a:0"}, "REDIS_CLUSTER_NODES: Value error, a node's port"),
        ({"REDIS_CLUSTER_NODES": "a:70000"}, "REDIS_CLUSTER_NODES: "),
        ({"REDIS_CLUSTER_NODES": ":7000"}, "REDIS_CLUSTER_NODES: Value error, a node has an"),
        ({"REDIS_CLUSTER_NODES": "[::1]x"}, "REDIS_CLUSTER_NODES: "),
        ({"REDIS_SENTINELS": "s:-1", "REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINELS: "),
        ({"REDIS_CLUSTER": "maybe"}, "REDIS_CLUSTER: "),
        ({"REDIS_PROTOCOL": "4"}, "REDIS_PROTOCOL: "),
        ({"REDIS_PROTOCOL": "resp3"}, "REDIS_PROTOCOL: "),
        ({"REDIS_SSL_CERT_REQS": "sometimes"}, "REDIS_SSL_CERT_REQS: "),
        ({"REDIS_SSL_CHECK_HOSTNAME": "maybe"}, "REDIS_SSL_CHECK_HOSTNAME: "),
        ({"REDIS_URL": "redis+cluster://"}, "REDIS_URL: Value error, a redis+cluster:// URL"),
        ({"REDIS_URL": "redis+cluster://h:x"}, "REDIS_URL: Value error, a node's port"),
        ({"REDIS_URL": "redis+cluster://h:1/2"}, "REDIS_URL: Value error, Redis Cluster has only"),
        ({"REDIS_URL": "redis+cluster://h?db=1"}, "REDIS_URL: Value error, Redis Cluster has"),
        ({"REDIS_URL": "redis+cluster://h?socket_timeout=x"}, "REDIS_URL: Value error, the URL"),
        ({"REDIS_URL": "redis+sentinel://s/m/0/x"}, "REDIS_URL: Value error, a redis+sentinel"),
        ({"REDIS_URL": "redis+unix://x"}, "REDIS_URL: Value error, unsupported URL scheme"),
    ],
)
def test_invalid_deployment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for variable, raw in variables.items():
        monkeypatch.setenv(variable, raw)
    with pytest.raises(SettingsError, match="invalid Redis settings") as info:
        RedisSettings()
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        (
            {"REDIS_CLUSTER": "true", "REDIS_SENTINELS": "s", "REDIS_SENTINEL_SERVICE": "m"},
            "REDIS_CLUSTER / REDIS_SENTINELS: Redis Cluster and Sentinel exclude each other "
            "(set by REDIS_CLUSTER, REDIS_SENTINELS)",
        ),
        (
            {"REDIS_CLUSTER_NODES": "a", "REDIS_SENTINELS": "s", "REDIS_SENTINEL_SERVICE": "m"},
            "(set by REDIS_CLUSTER_NODES, REDIS_SENTINELS)",
        ),
        (
            {"REDIS_CLUSTER": "1", "REDIS_URL": "redis+sentinel://s/m"},
            "(set by REDIS_URL=redis+sentinel://, REDIS_CLUSTER)",
        ),
        ({"REDIS_SENTINELS": "s"}, "REDIS_SENTINEL_SERVICE: required with Sentinel"),
        ({"REDIS_URL": "redis+sentinel://s"}, "REDIS_SENTINEL_SERVICE: required with Sentinel"),
        ({"REDIS_URL": "memory://", "REDIS_CLUSTER": "true"}, "REDIS_URL / REDIS_CLUSTER: a"),
        (
            {"REDIS_URL": "memory://x", "REDIS_SENTINEL_SERVICE": "m"},
            "REDIS_URL / REDIS_SENTINEL_SERVICE: a memory:// URL is one local server",
        ),
        ({"REDIS_URL": "unix:///tmp/s", "REDIS_CLUSTER": "true"}, "a unix:// URL is one local"),
        ({"REDIS_URL": "memory://", "REDIS_CLUSTER_NODES": "a"}, "REDIS_URL / REDIS_CLUSTER_NODES"),
        ({"REDIS_URL": "redis://h", "REDIS_CLUSTER_NODES": "a"}, "REDIS_URL / REDIS_CLUSTER_NODES"),
        (
            {"REDIS_URL": "redis+cluster://h", "REDIS_CLUSTER_NODES": "a"},
            "REDIS_URL / REDIS_CLUSTER_NODES: both name the cluster nodes",
        ),
        (
            {"REDIS_URL": "redis://h", "REDIS_SENTINELS": "s", "REDIS_SENTINEL_SERVICE": "m"},
            "REDIS_URL / REDIS_SENTINELS: both name where to connect",
        ),
        (
            {"REDIS_URL": "memory://", "REDIS_SENTINELS": "s", "REDIS_SENTINEL_SERVICE": "m"},
            "REDIS_URL / REDIS_SENTINELS",
        ),
        (
            {"REDIS_CLUSTER": "false", "REDIS_CLUSTER_NODES": "a"},
            "REDIS_CLUSTER: is false, but REDIS_CLUSTER_NODES",
        ),
        (
            {"REDIS_CLUSTER": "false", "REDIS_URL": "redis+cluster://a"},
            "REDIS_CLUSTER: is false",
        ),
        (
            {"REDIS_URL": "memory://", "REDIS_CLUSTER": "1", "REDIS_SENTINEL_PASSWORD": "pw"},
            "REDIS_URL / REDIS_CLUSTER / REDIS_SENTINEL_PASSWORD: a memory:// URL",
        ),
        ({"REDIS_CLUSTER": "true", "REDIS_DB": "3"}, "REDIS_DB: Redis Cluster has only database 0"),
        ({"REDIS_URL": "redis+cluster://h", "REDIS_DB": "3"}, "REDIS_DB: Redis Cluster has only"),
        ({"REDIS_URL": "redis://h", "REDIS_CLUSTER": "1", "REDIS_DB": "3"}, "REDIS_DB: Redis"),
        ({"REDIS_CLUSTER_NODES": "a", "REDIS_DB": "1"}, "REDIS_DB: Redis Cluster has only"),
        (
            {"REDIS_CLUSTER": "true", "REDIS_URL": "redis://h/2"},
            "REDIS_URL: Redis Cluster has only database 0",
        ),
        ({"REDIS_SENTINEL_SERVICE": "m"}, "REDIS_SENTINEL_SERVICE: set without sentinels"),
        ({"REDIS_SENTINEL_PASSWORD": "pw"}, "REDIS_SENTINEL_PASSWORD: set without sentinels"),
        (
            {"REDIS_URL": "redis://h", "REDIS_SENTINEL_SERVICE": "m"},
            "REDIS_SENTINEL_SERVICE: set without sentinels",
        ),
    ],
)
def test_contradicting_settings_name_the_variables(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for variable, raw in variables.items():
        monkeypatch.setenv(variable, raw)
    with pytest.raises(SettingsError, match="invalid Redis settings:\n  ") as info:
        RedisSettings()
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)


def test_cluster_url_database_zero_wins_over_redis_db() -> None:
    assert RedisSettings(url="redis://h/0", cluster=True, db=3).is_cluster


def test_nodes_of_a_wrong_type() -> None:
    with pytest.raises(SettingsError, match="REDIS_CLUSTER_NODES: "):
        RedisSettings(cluster_nodes=5)


def test_contradictions_are_all_listed() -> None:
    with pytest.raises(SettingsError) as info:
        RedisSettings(cluster=True, db=1, sentinels="s")
    message = str(info.value)
    assert "REDIS_CLUSTER / REDIS_SENTINELS: " in message
    assert "REDIS_DB: " in message


def test_deployment_errors_do_not_leak_the_url() -> None:
    with pytest.raises(SettingsError) as info:
        RedisSettings(url="redis+cluster://user:hunter2@a:1,b:x")
    assert "hunter2" not in str(info.value)
    with pytest.raises(SettingsError) as info:
        RedisSettings(url="redis+sentinel://:hunter2@s")
    assert "hunter2" not in str(info.value)


def test_sentinel_service_in_the_url_wins() -> None:
    settings = RedisSettings(url="redis+sentinel://s/from-url", sentinel_service="from-field")
    with settings.sync_client() as client:
        assert client.connection_pool.service_name == "from-url"
    settings = RedisSettings(url="redis+sentinel://s", sentinel_service="from-field")
    with settings.sync_client() as client:
        assert client.connection_pool.service_name == "from-field"


# --- cluster clients (configured, never connected) --------------------------------------------


# ``async with`` a RedisCluster would initialize it (connect): these tests only close it.
def _startup(client: Any) -> list[tuple[str, int]]:
    return [(node.host, node.port) for node in client.startup_nodes]


async def test_async_cluster_client_from_url() -> None:
    settings = RedisSettings(
        url="rediss+cluster://ann:p%40ss@n1:7000,[::1]:7001,n3?socket_timeout=3",
        password="ignored",
        socket_connect_timeout=2,
        max_connections=9,
        ssl_ca_certs="/ca.pem",
        decode_responses=True,
        protocol=3,
    )
    client = settings.async_client()
    try:
        assert type(client) is redis.asyncio.RedisCluster
        assert _startup(client) == [("n1", 7000), ("::1", 7001), ("n3", 6379)]
        kwargs = client.connection_kwargs
    finally:
        await client.aclose()
    assert kwargs["connection_class"] is redis.asyncio.SSLConnection
    assert (kwargs["username"], kwargs["password"]) == ("ann", "p@ss")
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (3, 2)
    assert kwargs["max_connections"] == 9
    assert kwargs["ssl_ca_certs"] == "/ca.pem"
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["decode_responses"] is True
    assert kwargs["protocol"] == 3


async def test_async_cluster_client_from_fields() -> None:
    settings = RedisSettings(cluster=True, host="n1", port=7000, password="pw")
    client = settings.async_client()
    try:
        assert type(client) is redis.asyncio.RedisCluster
        assert _startup(client) == [("n1", 7000)]
        assert client.connection_kwargs["password"] == "pw"
        assert client.connection_kwargs["connection_class"] is redis.asyncio.Connection
        assert client.connection_kwargs["protocol"] is None
    finally:
        await client.aclose()


async def test_async_cluster_client_from_nodes_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_CLUSTER_NODES", "n1:7000,n2:7001")
    monkeypatch.setenv("REDIS_HOST", "ignored")
    monkeypatch.setenv("REDIS_SSL", "true")
    monkeypatch.setenv("REDIS_SSL_CERT_REQS", "optional")
    monkeypatch.setenv("REDIS_SSL_CHECK_HOSTNAME", "false")
    client = RedisSettings().async_client()
    try:
        assert _startup(client) == [("n1", 7000), ("n2", 7001)]
        kwargs = client.connection_kwargs
    finally:
        await client.aclose()
    assert kwargs["connection_class"] is redis.asyncio.SSLConnection
    assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == ("optional", False)


async def test_cluster_with_a_plain_url_as_startup_node() -> None:
    settings = RedisSettings(url="rediss://u:pw@n1:7000/0?socket_timeout=4", cluster=True)
    client = settings.async_client()
    try:
        assert type(client) is redis.asyncio.RedisCluster
        assert _startup(client) == [("n1", 7000)]
        kwargs = client.connection_kwargs
    finally:
        await client.aclose()
    assert kwargs["connection_class"] is redis.asyncio.SSLConnection
    assert (kwargs["username"], kwargs["password"], kwargs["socket_timeout"]) == ("u", "pw", 4)


@pytest.mark.usefixtures("no_cluster_discovery")
def test_sync_cluster_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis+cluster://n1:7000,n2:7001")
    monkeypatch.setenv("REDIS_USERNAME", "ann")
    monkeypatch.setenv("REDIS_PROTOCOL", "3")
    monkeypatch.setenv("REDIS_SSL_CA_CERTS", "/ca.pem")  # no TLS: not passed
    with RedisSettings().sync_client() as client:
        assert type(client) is redis.RedisCluster
        assert _startup(client) == [("n1", 7000), ("n2", 7001)]
        kwargs = client.nodes_manager.connection_kwargs
    assert kwargs["username"] == "ann"
    assert kwargs["protocol"] == 3
    assert "db" not in kwargs
    assert not any(name.startswith("ssl") for name in kwargs)


@pytest.mark.usefixtures("no_cluster_discovery")
def test_sync_cluster_client_with_tls() -> None:
    settings = RedisSettings(
        cluster_nodes="n1:7000",
        ssl=True,
        ssl_ca_certs="/ca.pem",
        ssl_certfile="/c.crt",
        ssl_keyfile="/c.key",
        ssl_check_hostname=True,
    )
    with settings.sync_client() as client:
        assert _startup(client) == [("n1", 7000)]
        kwargs = client.nodes_manager.connection_kwargs
    expected = {
        "ssl": True,
        "ssl_ca_certs": "/ca.pem",
        "ssl_certfile": "/c.crt",
        "ssl_keyfile": "/c.key",
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
    }
    assert {name: kwargs[name] for name in expected} == expected


# --- sentinel clients (configured, never connected) -------------------------------------------


def _sentinel_addresses(client: Any) -> list[tuple[str, int]]:
    sentinels = client.connection_pool.sentinel_manager.sentinels
    kwargs = [sentinel.connection_pool.connection_kwargs for sentinel in sentinels]
    return [(k["host"], k["port"]) for k in kwargs]


def test_sync_sentinel_client_from_url() -> None:
    settings = RedisSettings(
        url="redis+sentinel://:master-pw@s1:5000,s2/mymaster/2",
        sentinel_password="sentinel-pw",
        socket_timeout=1.5,
        decode_responses=True,
    )
    with settings.sync_client() as client:
        assert isinstance(client, redis.Redis)
        pool = client.connection_pool
        assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
        assert pool.service_name == "mymaster"
        assert pool.is_master
        assert pool.connection_class is redis.sentinel.SentinelManagedConnection
        assert _sentinel_addresses(client) == [("s1", 5000), ("s2", 26379)]
        kwargs = pool.connection_kwargs
        sentinel_kwargs = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"], kwargs["decode_responses"]) == (2, "master-pw", True)
    assert kwargs["socket_timeout"] == 1.5
    assert sentinel_kwargs["password"] == "sentinel-pw"
    assert sentinel_kwargs["socket_timeout"] == 1.5
    assert sentinel_kwargs["db"] == 0


async def test_async_sentinel_client_from_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "s1:5000,s2:5001")
    monkeypatch.setenv("REDIS_SENTINEL_SERVICE", "cache")
    monkeypatch.setenv("REDIS_PASSWORD", "master-pw")
    monkeypatch.setenv("REDIS_DB", "1")
    monkeypatch.setenv("REDIS_PROTOCOL", "3")
    async with RedisSettings().async_client() as client:
        assert isinstance(client, redis.asyncio.Redis)
        pool = client.connection_pool
        assert isinstance(pool, redis.asyncio.sentinel.SentinelConnectionPool)
        assert pool.service_name == "cache"
        assert issubclass(pool.connection_class, redis.asyncio.sentinel.SentinelManagedConnection)
        assert _sentinel_addresses(client) == [("s1", 5000), ("s2", 5001)]
        kwargs = pool.connection_kwargs
        sentinel_kwargs = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"], kwargs["protocol"]) == (1, "master-pw", 3)
    assert sentinel_kwargs["password"] is None  # the master's password is not the sentinels'


@pytest.mark.parametrize("how", ["url", "variables"])
def test_sentinel_client_with_tls(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "url":
        monkeypatch.setenv("REDIS_URL", "rediss+sentinel://s1/m")
    else:
        monkeypatch.setenv("REDIS_SENTINELS", "s1")
        monkeypatch.setenv("REDIS_SENTINEL_SERVICE", "m")
        monkeypatch.setenv("REDIS_SSL", "true")
    monkeypatch.setenv("REDIS_SSL_CA_CERTS", "/ca.pem")
    monkeypatch.setenv("REDIS_SSL_CERT_REQS", "none")
    with RedisSettings().sync_client() as client:
        pool = client.connection_pool
        assert pool.connection_class is redis.sentinel.SentinelManagedSSLConnection
        kwargs = pool.connection_kwargs
        (sentinel,) = pool.sentinel_manager.sentinels
        sentinel_pool = sentinel.connection_pool
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_cert_reqs"]) == ("/ca.pem", "none")
    assert sentinel_pool.connection_class is redis.SSLConnection
    assert sentinel_pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem"


def test_closing_a_sync_sentinel_client_closes_the_sentinels() -> None:
    client = RedisSettings(sentinels="s1", sentinel_service="m").sync_client()
    manager = client.connection_pool.sentinel_manager
    closed: list[bool] = []
    manager.close = lambda: closed.append(True)
    client.close()
    assert closed == [True]


async def test_closing_an_async_sentinel_client_closes_the_sentinels() -> None:
    client = RedisSettings(url="redis+sentinel://s1/m").async_client()
    manager = client.connection_pool.sentinel_manager
    closed: list[bool] = []

    async def aclose() -> None:
        closed.append(True)

    manager.aclose = aclose
    await client.aclose()
    assert closed == [True]


# --- TLS and RESP options for one server ------------------------------------------------------


def test_tls_options_from_fields() -> None:
    settings = RedisSettings(
        host="h",
        ssl=True,
        ssl_ca_certs="/ca.pem",
        ssl_certfile="/c.crt",
        ssl_keyfile="/c.key",
        ssl_cert_reqs="optional",
        ssl_check_hostname=False,
    )
    with settings.sync_client() as client:
        pool = client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    expected = {
        "ssl_ca_certs": "/ca.pem",
        "ssl_certfile": "/c.crt",
        "ssl_keyfile": "/c.key",
        "ssl_cert_reqs": "optional",
        "ssl_check_hostname": False,
    }
    assert {name: pool.connection_kwargs[name] for name in expected} == expected


async def test_tls_options_with_a_rediss_url() -> None:
    settings = RedisSettings(url="rediss://h?ssl_check_hostname=false", ssl_ca_certs="/ca.pem")
    async with settings.async_client() as client:
        pool = client.connection_pool
        assert pool.connection_class is redis.asyncio.SSLConnection
        kwargs = pool.connection_kwargs
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_cert_reqs"]) == ("/ca.pem", "required")
    assert kwargs["ssl_check_hostname"] is False  # the URL wins


def test_tls_options_are_not_passed_without_tls() -> None:
    for settings in (
        RedisSettings(url="redis://h", ssl_ca_certs="/ca.pem", ssl=True),
        RedisSettings(host="h", ssl_ca_certs="/ca.pem", ssl_cert_reqs="none"),
    ):
        with settings.sync_client() as client:
            pool = client.connection_pool
        assert pool.connection_class is redis.Connection
        assert not any(name.startswith("ssl_") for name in pool.connection_kwargs)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"host": "h"}, None),
        ({"host": "h", "protocol": 2}, None),
        ({"host": "h", "protocol": 3}, 3),
        ({"url": "redis://h", "protocol": 3}, 3),
        ({"url": "redis://h?protocol=3"}, 3),
        ({"url": "redis://h?protocol=2", "protocol": 3}, 2),
    ],
)
def test_protocol(settings: dict[str, Any], expected: int | None) -> None:
    with RedisSettings(**settings).sync_client() as client:
        assert client.connection_pool.connection_kwargs.get("protocol") == expected


def test_memory_ignores_deployment_options() -> None:
    settings = RedisSettings(url=memory_url(), protocol=3, ssl=True, ssl_ca_certs="/ca.pem")
    assert not settings.is_cluster
    with settings.sync_client() as client:
        assert isinstance(client, fakeredis.FakeRedis)
        client.set("k", "v")
        assert client.get("k") == b"v"


# --- retry policy and size limits -------------------------------------------------------------


def test_retry_and_size_limit_defaults() -> None:
    settings = RedisSettings()
    assert settings.retries == 10  # redis-py 8's own defaults, spelled out
    assert (settings.retry_backoff_base, settings.retry_backoff_cap) == (0.01, 1.0)
    assert settings.max_value_bytes == 512 * 1024 * 1024  # Redis' proto-max-bulk-len
    assert settings.max_key_bytes == 64 * 1024


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("REDIS_RETRIES", "0", "retries", 0),
        ("REDIS_RETRY_BACKOFF_BASE", "0.2", "retry_backoff_base", 0.2),
        ("REDIS_RETRY_BACKOFF_CAP", "3", "retry_backoff_cap", 3.0),
        ("REDIS_MAX_VALUE_BYTES", "1048576", "max_value_bytes", 1048576),
        ("REDIS_MAX_KEY_BYTES", "512", "max_key_bytes", 512),
    ],
)
def test_retry_and_size_limit_variables(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: Any
) -> None:
    monkeypatch.setenv(variable, raw)
    assert getattr(RedisSettings(), field) == expected


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("REDIS_RETRIES", "-1"),  # redis-py would retry forever
        ("REDIS_RETRIES", "often"),
        ("REDIS_RETRY_BACKOFF_BASE", "-0.5"),
        ("REDIS_RETRY_BACKOFF_CAP", "-1"),
        ("REDIS_MAX_VALUE_BYTES", "0"),
        ("REDIS_MAX_KEY_BYTES", "-64"),
    ],
)
def test_invalid_retry_and_size_limit_values(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    monkeypatch.setenv(variable, raw)
    with pytest.raises(SettingsError, match=f"{variable}: "):
        RedisSettings()


_RETRY_SETTINGS = {"retries": 4, "retry_backoff_base": 0.05, "retry_backoff_cap": 0.5}


def _expected_retry(retry_class: type) -> Any:
    return retry_class(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 4)


def _assert_retry_kwargs(kwargs: dict[str, Any], retry_class: type) -> None:
    assert type(kwargs["retry"]) is retry_class
    assert kwargs["retry"] == _expected_retry(retry_class)
    assert kwargs["retry_on_error"] == [redis.ConnectionError, redis.TimeoutError]


@pytest.mark.parametrize(
    "deployment",
    [{"host": "h"}, {"url": "redis://h:7000/1"}, {"url": "redis+sentinel://s1/m"}],
    ids=["fields", "url", "sentinel"],
)
def test_sync_clients_retry_after_connection_errors_and_timeouts(
    deployment: dict[str, Any],
) -> None:
    with RedisSettings(**deployment, **_RETRY_SETTINGS).sync_client() as client:
        _assert_retry_kwargs(client.connection_pool.connection_kwargs, SyncRetry)


@pytest.mark.parametrize(
    "deployment",
    [{"host": "h"}, {"url": "redis://h:7000/1"}, {"url": "redis+sentinel://s1/m"}],
    ids=["fields", "url", "sentinel"],
)
async def test_async_clients_retry_after_connection_errors_and_timeouts(
    deployment: dict[str, Any],
) -> None:
    async with RedisSettings(**deployment, **_RETRY_SETTINGS).async_client() as client:
        _assert_retry_kwargs(client.connection_pool.connection_kwargs, AsyncRetry)


@pytest.mark.usefixtures("no_cluster_discovery")
def test_sync_cluster_client_retries() -> None:
    with RedisSettings(url="redis+cluster://n1:7000", **_RETRY_SETTINGS).sync_client() as client:
        assert isinstance(client, redis.RedisCluster)
        assert client.retry == _expected_retry(SyncRetry)
        supported = client.retry._supported_errors
    assert {redis.ConnectionError, redis.TimeoutError} <= set(supported)


async def test_async_cluster_client_retries() -> None:
    client = RedisSettings(url="redis+cluster://n1:7000", **_RETRY_SETTINGS).async_client()
    try:
        assert isinstance(client, redis.asyncio.RedisCluster)
        retry = client.retry
    finally:
        await client.aclose()
    assert type(retry) is AsyncRetry
    assert retry.get_retries() == 4
    assert {redis.ConnectionError, redis.TimeoutError} <= set(retry._supported_errors)


def test_retries_zero_turns_retrying_off() -> None:
    with RedisSettings(host="h", retries=0).sync_client() as client:
        assert client.connection_pool.connection_kwargs["retry"].get_retries() == 0


def test_memory_clients_need_no_retry_policy() -> None:
    with RedisSettings(url=memory_url(), retries=3).sync_client() as client:
        assert isinstance(client, fakeredis.FakeRedis)


# --- encryption keys (SecretKey) ----------------------------------------------------------


def test_encryption_keys_default_to_none() -> None:
    settings = RedisSettings()
    assert settings.encryption_key is None
    assert settings.encryption_old_keys == ()


def test_encryption_keys_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyspace import generate_encryption_key

    current, old, older = (generate_encryption_key() for _ in range(3))
    monkeypatch.setenv("REDIS_ENCRYPTION_KEY", current)
    monkeypatch.setenv("REDIS_ENCRYPTION_OLD_KEYS", f"{old} , {older},")
    settings = RedisSettings()
    assert settings.encryption_key is not None
    assert settings.encryption_key.get_secret_value() == current
    assert [k.get_secret_value() for k in settings.encryption_old_keys] == [old, older]
    for key in (current, old, older):
        assert key not in repr(settings)
        assert key not in str(settings.model_dump())


def test_encryption_keys_as_keywords() -> None:
    from keyspace import generate_encryption_key

    current, old = generate_encryption_key(), generate_encryption_key()
    settings = RedisSettings(encryption_key=current, encryption_old_keys=[old])
    assert [k.get_secret_value() for k in settings.encryption_old_keys] == [old]
    assert RedisSettings(encryption_old_keys=old).encryption_old_keys[0].get_secret_value() == old


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_ENCRYPTION_KEY", "not-a-key-but-a-passphrase"),
        ("REDIS_ENCRYPTION_KEY", "c2hvcnQ="),
        ("REDIS_ENCRYPTION_OLD_KEYS", "still-not-a-key,another-one"),
    ],
)
def test_invalid_encryption_keys_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"{variable}: .*32 random bytes") as info:
        RedisSettings()
    for part in value.split(","):
        assert part not in str(info.value)
