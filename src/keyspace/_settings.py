"""Connection settings read from ``REDIS_*`` variables, and the clients built from them.

:class:`RedisSettings` reads the environment and a ``.env`` file with pydantic-settings and
builds sync or asyncio clients for one of four deployments:

- a single server (``redis://``, ``rediss://``, ``unix://``, or ``REDIS_HOST``/``REDIS_PORT``);
- Redis Cluster (``REDIS_CLUSTER=true``, ``REDIS_CLUSTER_NODES``, or a ``redis+cluster://`` URL);
- Redis Sentinel (``REDIS_SENTINELS`` with ``REDIS_SENTINEL_SERVICE``, or ``redis+sentinel://``);
- the embedded in-memory Redis: ``REDIS_URL=memory://`` (or ``memory://<name>``) selects
  fakeredis; every client built for one name, sync or async, shares one process-wide server,
  while different names stay isolated.

Constructing settings never does I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import parse_url as _untyped_parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as SyncRetry

from keyspace._client_cache import (
    CachedReads,
    CachingRedis,
    CachingRedisCluster,
    CachingSentinelPool,
    ReadCacheConfig,
)
from keyspace._crypto import decode_key
from keyspace._errors import SettingsError

if TYPE_CHECKING:
    import fakeredis

__all__ = ["RedisSettings", "memory_server"]

_ENV_PREFIX = "REDIS_"
_SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "memory",
    "redis+cluster",
    "rediss+cluster",
    "redis+sentinel",
    "rediss+sentinel",
)
# Fields read from more than one variable; pydantic reports their errors under the first alias.
_ALIASES = {
    "password": ("REDIS_PASSWORD", "REDIS_PASS"),
    "log_commands": ("REDIS_LOG_COMMANDS", "SHOW_METHOD_DISPATCH_LOGS"),
}
_DEFAULT_PORTS = {"cluster_nodes": 6379, "sentinels": 26379}
# fakeredis emulates Redis 8 by default; report 7.4 to match the Redis 7 servers we target.
_MEMORY_VERSION = (7, 4)

Node = tuple[str, int]
"""A ``(host, port)`` pair: a cluster startup node or a sentinel."""

# redis-py leaves these unannotated; mypy --strict refuses untyped calls.
_parse_url: Callable[[str], dict[str, Any]] = _untyped_parse_url
_AsyncSentinel: Any = redis.asyncio.sentinel.Sentinel
_SyncSentinel: Any = redis.sentinel.Sentinel
_AsyncClusterNode: Any = redis.asyncio.cluster.ClusterNode
_SyncClusterNode: Any = redis.cluster.ClusterNode

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
    return _report(f"{_variable_name(e['loc'])}: {e['msg']}" for e in error.errors())


def _report(problems: Iterable[str]) -> str:
    return "invalid Redis settings:\n" + "\n".join(f"  {problem}" for problem in problems)


def _parse_node(text: str, default_port: int) -> Node:
    """``host:port``, ``host`` or ``[ipv6]:port`` as a pair; messages never echo the text."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError("expected host:port or [ipv6]:port for each node")
        port_text = rest[1:]
    elif text.count(":") > 1:  # a bare IPv6 address
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError("a node has an empty host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("a node's port must be a number from 1 to 65535")
    return host, int(port_text)


def _parse_nodes(value: object, default_port: int) -> object:
    """Comma-separated ``host:port`` text, or a sequence of such texts or of pairs."""
    items: list[Any]
    if isinstance(value, str):
        items = [item for item in value.split(",") if item.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return value  # let pydantic report the type
    return tuple(_parse_node(i, default_port) if isinstance(i, str) else i for i in items)


class _Target:
    """What a URL says about where to connect: nodes, redis-py options and a service name."""

    def __init__(self, url: str) -> None:
        scheme = _url_scheme(url)
        base, _, self.kind = scheme.partition("+")
        default_port = 26379 if self.kind == "sentinel" else 6379
        self.service: str | None = None
        if not self.kind:  # one server: redis-py parses it whole
            self.options = self._options(url)
            host = self.options.pop("host", "localhost")
            self.nodes = [(host, self.options.pop("port", default_port))]
            return
        parts = urlsplit(base + "://" + url.partition("://")[2])
        userinfo, at, hosts = parts.netloc.rpartition("@")
        self.nodes = [_parse_node(h, default_port) for h in hosts.split(",") if h.strip()]
        if not self.nodes:
            raise ValueError(f"a {scheme}:// URL needs at least one host:port")
        path = parts.path
        if self.kind == "sentinel":
            segments = [s for s in path.split("/") if s]
            if len(segments) > 2:
                raise ValueError("a redis+sentinel:// URL's path is /<service> or /<service>/<db>")
            self.service = unquote(segments[0]) if segments else None
            path = "/" + segments[1] if len(segments) == 2 else ""
        # redis-py parses the credentials, database and query of a one-host version of the URL.
        host, port = self.nodes[0]
        netloc = f"{userinfo}{at}{'[' + host + ']' if ':' in host else host}:{port}"
        self.options = self._options(urlunsplit((base, netloc, path, parts.query, "")))
        self.options.pop("host", None)
        self.options.pop("port", None)

    @staticmethod
    def _options(url: str) -> dict[str, Any]:
        try:
            options = _parse_url(url)
        except ValueError:
            raise ValueError("the URL's query holds an invalid option value") from None
        options.pop("connection_class", None)  # the deployment decides the connection class
        return options


class RedisSettings(BaseSettings):
    """Connection and behaviour settings, read from ``REDIS_*`` environment variables and a
    ``.env`` file (names are case-insensitive; empty values count as unset).

    Invalid values, and settings that contradict each other (cluster and sentinel at once,
    sentinels without a service, ``memory://`` with cluster mode, ...), raise
    :class:`~keyspace.SettingsError` naming the variables.

    **Deployment.** A ``redis+cluster://`` URL, ``REDIS_CLUSTER=true`` or ``REDIS_CLUSTER_NODES``
    selects Redis Cluster (:attr:`is_cluster`); a ``redis+sentinel://`` URL or
    ``REDIS_SENTINELS`` selects Sentinel (:attr:`is_sentinel`); ``memory://`` selects the
    in-memory Redis (:attr:`is_memory`); anything else one server.

    **URL rule.** When ``REDIS_URL`` is set it decides the host(s), port(s) and TLS
    (``rediss://``, ``rediss+cluster://``, ``rediss+sentinel://``), and whatever else it spells
    out (user and password, the database in its path or ``?db=``, the sentinel service, query
    options) wins. The other settings fill in only what the URL leaves out. A URL cannot be
    combined with ``REDIS_CLUSTER_NODES`` or ``REDIS_SENTINELS``: both would name the nodes.

    **Encryption.** ``SecretKey`` values are encrypted with ``encryption_key``
    (``REDIS_ENCRYPTION_KEY``: 32 random bytes in URL-safe base64, from
    :func:`~keyspace.generate_encryption_key`); ``encryption_old_keys``
    (``REDIS_ENCRYPTION_OLD_KEYS``, comma-separated) still decrypt what older keys wrote, so
    keys can be rotated. Neither is ever shown in a repr or an error.

    Settings left at ``None`` are not passed at all, so redis-py's own defaults apply (for
    example its socket timeouts). ``memory://`` clients honour only ``db`` and
    ``decode_responses``.

    **Retries.** After a connection error or a timeout, clients reconnect and send the command
    again, at most ``retries`` times (``REDIS_RETRIES``; 0 turns retrying off), waiting
    ``min(cap, random() * base * 2**failures)`` seconds before each retry
    (``REDIS_RETRY_BACKOFF_BASE``, ``REDIS_RETRY_BACKOFF_CAP``). A retried increment may be
    applied twice; the reliability docs list which operations are safe to retry.

    **Size limits.** Repositories refuse, before sending anything, a command whose key name is
    longer than ``max_key_bytes`` or that carries a value longer than ``max_value_bytes``
    (:class:`~keyspace.ValueTooLargeError`).

    **Coalesced reads.** ``coalesce_reads`` (``REDIS_COALESCE_READS``) makes
    :class:`~keyspace.Repository` send the one-command reads that many tasks start in the same
    event-loop turn in one pipeline (its ``coalesce_reads=`` keyword wins);
    :class:`~keyspace.SyncRepository` ignores it.

    **Client-side caching.** With ``client_cache`` (``REDIS_CLIENT_CACHE``), :meth:`sync_client`
    builds a client that keeps up to ``client_cache_size`` read replies in memory and serves
    repeated reads from there, dropping an entry when Redis reports a change of its key
    (RESP3 ``CLIENT TRACKING``, redis-py's implementation, Redis 7.4 or later). It turns RESP3
    on; an explicit ``protocol=2`` is an error. redis-py has no such cache for asyncio, so
    :meth:`async_client` refuses the setting, and so does ``memory://``.
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
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: Literal["none", "optional", "required"] = "required"
    ssl_check_hostname: bool | None = None
    protocol: Literal[2, 3] = 2
    cluster: bool = False
    # pydantic-settings JSON-decodes sequence-typed variables; the ``str`` arm lets plain
    # comma-separated text through to ``_nodes``, which always turns it into pairs.
    if TYPE_CHECKING:
        cluster_nodes: tuple[Node, ...] = ()
        sentinels: tuple[Node, ...] = ()
    else:
        cluster_nodes: tuple[Node, ...] | str = ()
        sentinels: tuple[Node, ...] | str = ()
    sentinel_service: str | None = None
    sentinel_password: SecretStr | None = None
    socket_timeout: float | None = Field(default=None, gt=0)
    socket_connect_timeout: float | None = Field(default=None, gt=0)
    # redis-py 8's own defaults, spelled out so that a redis-py upgrade does not change them.
    retries: int = Field(default=10, ge=0)
    retry_backoff_base: float = Field(default=0.01, ge=0)
    retry_backoff_cap: float = Field(default=1.0, ge=0)
    max_connections: int | None = Field(default=None, gt=0)
    scan_count: int = Field(default=1000, gt=0)
    delete_chunk_size: int = Field(default=500, gt=0)
    # Redis' own limit on one argument (proto-max-bulk-len); far above any sane key name.
    max_value_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    max_key_bytes: int = Field(default=64 * 1024, gt=0)
    default_ttl: timedelta | None = Field(default=None, gt=timedelta(0))
    log_commands: bool = Field(
        default=False, validation_alias=AliasChoices(*_ALIASES["log_commands"])
    )
    decode_responses: bool = False
    client_cache: bool = False
    # redis-py's own default; each entry is one read's reply.
    client_cache_size: int = Field(default=10_000, gt=0)
    coalesce_reads: bool = False
    encryption_key: SecretStr | None = None
    if TYPE_CHECKING:
        encryption_old_keys: tuple[SecretStr, ...] = ()
    else:  # comma-separated text, as for the nodes above
        encryption_old_keys: tuple[SecretStr, ...] | str = ()

    if not TYPE_CHECKING:  # hidden from mypy, which keeps the plugin's typed signature

        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                raise SettingsError(_describe(exc)) from exc
            problems = self._conflicts()
            if problems:
                raise SettingsError(_report(problems))

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if "://" not in url or _url_scheme(url) not in _SCHEMES:
            expected = ", ".join(f"{scheme}://" for scheme in _SCHEMES)
            raise ValueError(f"unsupported URL scheme; expected one of {expected}")
        if "+" in _url_scheme(url):
            target = _Target(url)  # raises ValueError, without the URL, if it is malformed
            if target.kind == "cluster" and target.options.get("db", 0) != 0:
                raise ValueError("Redis Cluster has only database 0")
        return url

    @field_validator("cluster_nodes", "sentinels", mode="before")
    @classmethod
    def _nodes(cls, value: object, info: ValidationInfo) -> object:
        assert info.field_name is not None
        return _parse_nodes(value, _DEFAULT_PORTS[info.field_name])

    @field_validator("encryption_old_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("encryption_key", "encryption_old_keys")
    @classmethod
    def _check_keys(cls, value: Any) -> Any:
        for secret in value if isinstance(value, tuple) else (value,):
            if secret is not None:
                decode_key(secret.get_secret_value())  # the message never holds the key
        return value

    @field_validator("ssl_cert_reqs", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_number(cls, value: object) -> object:
        # Literal[2, 3] refuses the string "3" that an environment variable holds.
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

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

    @property
    def is_cluster(self) -> bool:
        """Whether the clients are Redis Cluster clients (``redis+cluster://``,
        ``REDIS_CLUSTER=true`` or ``REDIS_CLUSTER_NODES``)."""
        scheme = _url_scheme(self.url) if self.url is not None else ""
        return scheme.endswith("+cluster") or self.cluster or bool(self.cluster_nodes)

    @property
    def is_sentinel(self) -> bool:
        """Whether the clients find the master through Sentinel (``redis+sentinel://`` or
        ``REDIS_SENTINELS``)."""
        scheme = _url_scheme(self.url) if self.url is not None else ""
        return scheme.endswith("+sentinel") or bool(self.sentinels)

    def async_client(self) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
        """Return a new ``redis.asyncio`` client for these settings; it connects lazily.

        A :class:`redis.asyncio.RedisCluster` in cluster mode; a ``redis.asyncio.Redis``
        otherwise (for Sentinel, one whose pool asks the sentinels for the master, and
        whose ``aclose()`` also closes the connections to the sentinels).

        Raises :class:`~keyspace.SettingsError` when ``client_cache`` is on: redis-py keeps a
        client-side cache for its sync clients only.
        """
        if self.client_cache:
            raise SettingsError(
                "REDIS_CLIENT_CACHE: client-side caching is available for the sync client only "
                "(redis-py has none for redis.asyncio); use SyncRepository, or settings "
                "without client_cache for the asyncio Repository"
            )
        name = self._memory_name()
        if name is not None:
            import fakeredis

            return fakeredis.FakeAsyncRedis(server=memory_server(name), **self._memory_kwargs())
        retry = self._retry_kwargs(AsyncRetry(self._backoff(), self.retries))
        if self.is_cluster:
            nodes, kwargs = self._cluster_target()
            startup = [_AsyncClusterNode(host, port) for host, port in nodes]
            return redis.asyncio.RedisCluster(startup_nodes=startup, **kwargs, **retry)
        if self.is_sentinel:
            sentinels, service, kwargs, sentinel_kwargs = self._sentinel_target()
            manager = _AsyncSentinel(sentinels, sentinel_kwargs=sentinel_kwargs)
            connection = (
                _AsyncSentinelSSLConnection if self._uses_tls() else _AsyncSentinelConnection
            )
            master = manager.master_for(
                service,
                redis_class=_AsyncSentinelMaster,
                connection_class=connection,
                **kwargs,
                **retry,
            )
            return cast(redis.asyncio.Redis, master)
        if self.url is not None:
            return redis.asyncio.Redis.from_url(self.url, **self._url_kwargs(), **retry)
        return redis.asyncio.Redis(**self._server_kwargs(), **self._client_kwargs(), **retry)

    def sync_client(self) -> redis.Redis | redis.RedisCluster:
        """Return a new sync ``redis`` client for these settings.

        A :class:`redis.RedisCluster` in cluster mode (redis-py's constructor contacts a
        startup node at once to learn the slots); otherwise a ``redis.Redis`` that connects
        lazily (for Sentinel, one whose pool asks the sentinels for the master, and whose
        ``close()`` also closes the connections to the sentinels). With ``client_cache``,
        the client keeps a client-side cache of reads (RESP3).
        """
        name = self._memory_name()
        if name is not None:
            import fakeredis

            return fakeredis.FakeRedis(server=memory_server(name), **self._memory_kwargs())
        retry = self._retry_kwargs(SyncRetry(self._backoff(), self.retries))
        if self.is_cluster:
            nodes, kwargs = self._cluster_target()
            startup = [_SyncClusterNode(host, port) for host, port in nodes]
            # The sync cluster client takes no retry_on_error; its Retry already covers
            # connection errors and timeouts (the default supported errors).
            cluster_class = CachingRedisCluster if self.client_cache else redis.RedisCluster
            cache = self._cache_kwargs()
            return cluster_class(startup_nodes=startup, retry=retry["retry"], **kwargs, **cache)
        if self.is_sentinel:
            sentinels, service, kwargs, sentinel_kwargs = self._sentinel_target()
            manager = _SyncSentinel(sentinels, sentinel_kwargs=sentinel_kwargs)
            if self.client_cache:
                kwargs.update(
                    redis_class=_CachingSentinelMaster,
                    connection_pool_class=CachingSentinelPool,
                    **self._cache_kwargs(),
                )
            else:
                kwargs["redis_class"] = _SyncSentinelMaster
            master = manager.master_for(service, **kwargs, **retry)
            return cast(redis.Redis, master)
        client_class = CachingRedis if self.client_cache else redis.Redis
        cache = self._cache_kwargs()
        if self.url is not None:
            return client_class.from_url(self.url, **self._url_kwargs(), **retry, **cache)
        return client_class(**self._server_kwargs(), **self._client_kwargs(), **retry, **cache)

    # --- validation across fields ---------------------------------------------------------

    def _conflicts(self) -> list[str]:
        """Settings that contradict each other, each naming its variables."""
        scheme = _url_scheme(self.url) if self.url is not None else None
        problems = []
        if scheme is not None and self.cluster_nodes:
            problems.append(
                "REDIS_URL / REDIS_CLUSTER_NODES: both name the cluster nodes; list them in a "
                "redis+cluster:// URL or leave REDIS_URL unset"
            )
        if scheme is not None and self.sentinels:
            problems.append(
                "REDIS_URL / REDIS_SENTINELS: both name where to connect; list the sentinels "
                "in a redis+sentinel:// URL or leave REDIS_URL unset"
            )
        if self.is_cluster and self.is_sentinel:
            problems.append(
                "REDIS_CLUSTER / REDIS_SENTINELS: Redis Cluster and Sentinel exclude each other "
                "(set by " + ", ".join(self._deployment_sources()) + ")"
            )
        if "cluster" in self.model_fields_set and not self.cluster and self.is_cluster:
            problems.append(
                "REDIS_CLUSTER: is false, but REDIS_CLUSTER_NODES or a redis+cluster:// URL "
                "selects Redis Cluster"
            )
        local = scheme in ("memory", "unix")
        if local:
            names = [
                name
                for name, value in (
                    ("REDIS_CLUSTER", self.cluster),
                    ("REDIS_SENTINEL_SERVICE", self.sentinel_service),
                    ("REDIS_SENTINEL_PASSWORD", self.sentinel_password),
                )
                if value
            ]
            if names:
                problems.append(
                    f"REDIS_URL / {' / '.join(names)}: a {scheme}:// URL is one local server; "
                    "it cannot be Redis Cluster or Sentinel"
                )
        elif self.is_cluster:
            # The URL's database wins; REDIS_DB fills in when the URL names none.
            url_db = _Target(self.url).options.get("db") if self.url is not None else None
            if url_db is None and self.db != 0:
                problems.append("REDIS_DB: Redis Cluster has only database 0")
            elif url_db not in (None, 0):
                problems.append("REDIS_URL: Redis Cluster has only database 0")
        problems += self._cache_conflicts(scheme)
        if self.is_sentinel and not self.is_cluster and self._service() is None:
            problems.append(
                "REDIS_SENTINEL_SERVICE: required with Sentinel (the master's name, also "
                "accepted as the path of a redis+sentinel:// URL)"
            )
        if not self.is_sentinel and not local:
            for name, value in (
                ("REDIS_SENTINEL_SERVICE", self.sentinel_service),
                ("REDIS_SENTINEL_PASSWORD", self.sentinel_password),
            ):
                if value is not None:
                    problems.append(
                        f"{name}: set without sentinels (REDIS_SENTINELS or a "
                        "redis+sentinel:// URL)"
                    )
        return problems

    def _cache_conflicts(self, scheme: str | None) -> list[str]:
        if not self.client_cache:
            return []
        if scheme == "memory":
            return [
                "REDIS_URL / REDIS_CLIENT_CACHE: memory:// (fakeredis) has no CLIENT TRACKING, "
                "so it cannot keep a client-side cache; turn REDIS_CLIENT_CACHE off or use a "
                "real Redis"
            ]
        try:
            options = _Target(self.url).options if self.url is not None else {}
        except ValueError as exc:  # the message never holds the URL
            return [f"REDIS_URL: {exc}"]
        url_protocol = options.get("protocol")
        if url_protocol == 2 or ("protocol" in self.model_fields_set and self.protocol == 2):
            source = "REDIS_URL" if url_protocol == 2 else "REDIS_PROTOCOL"
            return [
                f"{source} / REDIS_CLIENT_CACHE: client-side caching needs RESP3; leave the "
                "protocol unset (REDIS_CLIENT_CACHE turns RESP3 on) or set it to 3"
            ]
        return []

    def _deployment_sources(self) -> list[str]:
        scheme = _url_scheme(self.url) if self.url is not None else ""
        sources = [f"REDIS_URL={scheme}://"] if "+" in scheme else []
        for name, value in (
            ("REDIS_CLUSTER", self.cluster),
            ("REDIS_CLUSTER_NODES", self.cluster_nodes),
            ("REDIS_SENTINELS", self.sentinels),
        ):
            if value:
                sources.append(name)
        return sources

    def _service(self) -> str | None:
        if self.url is not None and _url_scheme(self.url).endswith("+sentinel"):
            service = _Target(self.url).service
            if service is not None:
                return service
        return self.sentinel_service

    # --- client arguments -----------------------------------------------------------------

    def _memory_name(self) -> str | None:
        """The server name of a ``memory://<name>`` URL, or ``None`` for a real server."""
        if self.url is None or _url_scheme(self.url) != "memory":
            return None
        return self.url.partition("://")[2]

    def _backoff(self) -> ExponentialWithJitterBackoff:
        return ExponentialWithJitterBackoff(
            cap=self.retry_backoff_cap, base=self.retry_backoff_base
        )

    @staticmethod
    def _retry_kwargs(retry: AsyncRetry | SyncRetry) -> dict[str, Any]:
        """redis-py's retry policy: after a connection error or a timeout, reconnect and send
        the command again, at most ``retries`` times, waiting ``min(cap, random() * base *
        2**failures)`` seconds before each retry."""
        return {"retry": retry, "retry_on_error": [RedisConnectionError, RedisTimeoutError]}

    def _memory_kwargs(self) -> dict[str, Any]:
        return {"db": self.db, "decode_responses": self.decode_responses}

    def _server_kwargs(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "ssl": self.ssl, **self._tls_kwargs()}

    def _uses_tls(self) -> bool:
        if self.url is not None:
            return _url_scheme(self.url).startswith("rediss")
        return self.ssl

    def _tls_kwargs(self) -> dict[str, Any]:
        """redis-py's ``ssl_*`` options, only when TLS is on (plain connections refuse them)."""
        if not self._uses_tls():
            return {}
        optional = {
            "ssl_ca_certs": self.ssl_ca_certs,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "ssl_check_hostname": self.ssl_check_hostname,
        }
        kwargs = {name: value for name, value in optional.items() if value is not None}
        return {"ssl_cert_reqs": self.ssl_cert_reqs, **kwargs}

    def _url_kwargs(self) -> dict[str, Any]:
        # The URL's own scheme picks the connection class, so ``ssl`` itself is not passed.
        return {**self._client_kwargs(), **self._tls_kwargs()}

    def _client_kwargs(self) -> dict[str, Any]:
        optional = {
            "username": self.username,
            "password": self.password.get_secret_value() if self.password is not None else None,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "max_connections": self.max_connections,
            # RESP2 is redis-py's default; passing 2 explicitly changes some reply parsers.
            # The client-side cache needs RESP3 (conflicting settings are refused).
            "protocol": 3 if self.protocol == 3 or self.client_cache else None,
        }
        kwargs = {name: value for name, value in optional.items() if value is not None}
        return {"db": self.db, "decode_responses": self.decode_responses, **kwargs}

    def _cache_kwargs(self) -> dict[str, Any]:
        if not self.client_cache:
            return {}
        return {"cache_config": ReadCacheConfig(max_size=self.client_cache_size)}

    def _merged(self, target: _Target | None) -> dict[str, Any]:
        """Connection options: the fields, overridden by what the URL spells out, plus TLS."""
        kwargs = {**self._client_kwargs(), **(target.options if target is not None else {})}
        if self._uses_tls():
            kwargs.update(ssl=True, **self._tls_kwargs())
        return kwargs

    def _cluster_target(self) -> tuple[list[Node], dict[str, Any]]:
        if self.url is not None:
            target = _Target(self.url)
            nodes = target.nodes
        else:
            target = None
            nodes = list(self.cluster_nodes) or [(self.host, self.port)]
        kwargs = self._merged(target)
        kwargs.pop("db", None)  # validated to be 0; redis-py's cluster clients refuse it
        return nodes, kwargs

    def _sentinel_target(self) -> tuple[list[Node], str, dict[str, Any], dict[str, Any]]:
        target = _Target(self.url) if self.url is not None else None
        sentinels = target.nodes if target is not None else list(self.sentinels)
        service = self._service()
        assert service is not None  # checked at construction
        kwargs = self._merged(target)
        # The sentinels get the timeouts, TLS and their own password, not the master's.
        sentinel_kwargs = {
            name: value
            for name, value in kwargs.items()
            if name.startswith(("socket_", "ssl")) and value is not None
        }
        if self.sentinel_password is not None:
            sentinel_kwargs["password"] = self.sentinel_password.get_secret_value()
        return sentinels, service, kwargs, sentinel_kwargs


class _SyncSentinelMaster(redis.Redis):
    """A master client from Sentinel that also closes its connections to the sentinels."""

    def close(self) -> None:
        try:
            super().close()
        finally:
            pool: Any = self.connection_pool  # a SentinelConnectionPool
            pool.sentinel_manager.close()


class _CachingSentinelMaster(CachedReads, _SyncSentinelMaster):
    """A master client from Sentinel with a client-side cache of reads."""


class _AsyncSentinelConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """Asks the sentinels for the master on every reconnect.

    redis-py 8's asyncio connection reconnects through ``connect_check_health()``,
    which skips the sentinel lookup of ``connect()``: after a failover it kept
    retrying the old master's address.
    """

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        pool: Any = self.connection_pool  # a SentinelConnectionPool
        if not self.is_connected and pool.is_master:
            self.host, self.port = await pool.get_master_address()
        await super().connect_check_health(check_health, retry_socket_connect)


class _AsyncSentinelSSLConnection(
    _AsyncSentinelConnection, redis.asyncio.sentinel.SentinelManagedSSLConnection
):
    """The TLS variant of :class:`_AsyncSentinelConnection`."""


class _AsyncSentinelMaster(redis.asyncio.Redis):
    """An asyncio master client from Sentinel that also closes its sentinel connections."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            pool: Any = self.connection_pool  # a SentinelConnectionPool
            await pool.sentinel_manager.aclose()
