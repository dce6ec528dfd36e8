"""Connection settings read from ``REDIS_*`` variables, and the clients built from them.

:class:`RedisSettings` reads the environment and a ``.env`` file with pydantic-settings and
builds sync or asyncio clients. ``REDIS_URL=memory://`` (or ``memory://<name>``) selects the
embedded in-memory Redis (fakeredis): every client built for one name, sync or async, shares
one process-wide server, while different names stay isolated.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keyspace._errors import SettingsError

if TYPE_CHECKING:
    import fakeredis

__all__ = ["RedisSettings", "memory_server"]

_ENV_PREFIX = "REDIS_"
_SCHEMES = ("redis", "rediss", "unix", "memory")
# Fields read from more than one variable; pydantic reports their errors under the first alias.
_ALIASES = {
    "password": ("REDIS_PASSWORD", "REDIS_PASS"),
    "log_commands": ("REDIS_LOG_COMMANDS", "SHOW_METHOD_DISPATCH_LOGS"),
}
# fakeredis emulates Redis 8 by default; report 7.4 to match the Redis 7 servers we target.
_MEMORY_VERSION = (7, 4)

_memory_servers: dict[str, fakeredis.FakeServer] = {}
_memory_lock = threading.Lock()


def memory_server(name: str = "") -> fakeredis.FakeServer:
    """Return the process-wide in-memory server behind ``memory://<name>``, creating it once."""
    import fakeredis

    with _memory_lock:
        server = _memory_servers.get(name)
        if server is None:
            server = _memory_servers[name] = fakeredis.FakeServer(version=_MEMORY_VERSION)
        return server


def _url_scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def _variable_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable(s) behind the field an error location points at."""
    field = str(loc[0]).lower()
    for name, aliases in _ALIASES.items():
        if field in (name, aliases[0].lower()):
            return " / ".join(aliases)
    return _ENV_PREFIX + field.upper()


def _describe(error: ValidationError) -> str:
    # Only pydantic's message, never the input: a URL or password may hold a secret.
    lines = [f"  {_variable_name(e['loc'])}: {e['msg']}" for e in error.errors()]
    return "invalid Redis settings:\n" + "\n".join(lines)


class RedisSettings(BaseSettings):
    """Connection and behaviour settings, read from ``REDIS_*`` environment variables and a
    ``.env`` file (names are case-insensitive; empty values count as unset).

    Invalid values raise :class:`~keyspace.SettingsError` naming each bad variable.

    **URL rule.** When ``REDIS_URL`` is set it decides the host, port and TLS (``rediss://``),
    and whatever else it spells out (user and password, the database in its path or
    ``?db=``, query options) wins. The other settings fill in only what the URL leaves out:
    they are passed to redis-py's ``from_url`` as defaults, which the URL overrides.

    Settings left at ``None`` are not passed at all, so redis-py's own defaults apply (for
    example its socket timeouts). ``memory://`` clients honour only ``db`` and
    ``decode_responses``.
    """

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    url: str | None = None
    host: str = "localhost"
    port: int = Field(default=6379, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    username: str | None = None
    password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices(*_ALIASES["password"])
    )
    ssl: bool = False
    socket_timeout: float | None = Field(default=None, gt=0)
    socket_connect_timeout: float | None = Field(default=None, gt=0)
    max_connections: int | None = Field(default=None, gt=0)
    scan_count: int = Field(default=1000, gt=0)
    delete_chunk_size: int = Field(default=500, gt=0)
    default_ttl: timedelta | None = Field(default=None, gt=timedelta(0))
    log_commands: bool = Field(
        default=False, validation_alias=AliasChoices(*_ALIASES["log_commands"])
    )
    decode_responses: bool = False

    if not TYPE_CHECKING:  # hidden from mypy, which keeps the plugin's typed signature

        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                raise SettingsError(_describe(exc)) from exc

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is not None and ("://" not in url or _url_scheme(url) not in _SCHEMES):
            expected = ", ".join(f"{scheme}://" for scheme in _SCHEMES)
            raise ValueError(f"unsupported URL scheme; expected one of {expected}")
        return url

    @field_validator("default_ttl", mode="before")
    @classmethod
    def _ttl_from_seconds(cls, value: object) -> object:
        # pydantic parses "90" as an ISO duration and fails; environment values are strings.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value

    @property
    def is_memory(self) -> bool:
        """Whether ``url`` selects the embedded in-memory Redis (``memory://``)."""
        return self._memory_name() is not None

    def async_client(self) -> redis.asyncio.Redis:
        """Return a new ``redis.asyncio`` client for these settings; it connects lazily."""
        name = self._memory_name()
        if name is not None:
            import fakeredis

            return fakeredis.FakeAsyncRedis(server=memory_server(name), **self._memory_kwargs())
        if self.url is not None:
            return redis.asyncio.Redis.from_url(self.url, **self._client_kwargs())
        return redis.asyncio.Redis(**self._server_kwargs(), **self._client_kwargs())

    def sync_client(self) -> redis.Redis:
        """Return a new sync ``redis`` client for these settings; it connects lazily."""
        name = self._memory_name()
        if name is not None:
            import fakeredis

            return fakeredis.FakeRedis(server=memory_server(name), **self._memory_kwargs())
        if self.url is not None:
            return redis.Redis.from_url(self.url, **self._client_kwargs())
        return redis.Redis(**self._server_kwargs(), **self._client_kwargs())

    def _memory_name(self) -> str | None:
        """The server name of a ``memory://<name>`` URL, or ``None`` for a real server."""
        if self.url is None or _url_scheme(self.url) != "memory":
            return None
        return self.url.partition("://")[2]

    def _memory_kwargs(self) -> dict[str, Any]:
        return {"db": self.db, "decode_responses": self.decode_responses}

    def _server_kwargs(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "ssl": self.ssl}

    def _client_kwargs(self) -> dict[str, Any]:
        optional = {
            "username": self.username,
            "password": self.password.get_secret_value() if self.password is not None else None,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "max_connections": self.max_connections,
        }
        kwargs = {name: value for name, value in optional.items() if value is not None}
        return {"db": self.db, "decode_responses": self.decode_responses, **kwargs}
