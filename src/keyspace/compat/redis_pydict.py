"""``keyspace.compat.redis_pydict``: redis-pydict's API on keyspace's mapping core.

Switch by changing the import line::

    from redis_pydict import PyRedisDict                    # before
    from keyspace.compat.redis_pydict import PyRedisDict    # after

Entries stay where redis-pydict keeps them, one string per entry at ``<namespace>&&<key>``,
in its tagged format (``s``, ``i``, ``f``, ``d``, ``l``, ``n``, and ``c`` for pickles), and
key-set events go to its channels ``event_<namespace>&&<key>``. The mapping is a
:class:`keyspace.KeyspaceDict` whose keys are joined to the namespace with ``&&`` instead of
``:``. Differences from redis-pydict: pickles of arbitrary objects need
``unsafe_pickle=True``; glob patterns in ``subscribe_to_key_events()`` deliver events;
``update()`` publishes too; each event carries the written value. See
``docs/migration/redis-pydict.md``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from redis import Redis

from .._errors import InvalidParameterError
from .._execute import SyncClient, SyncExecutor
from .._keys import INHERIT, TTLArg
from .._mapping import KeyspaceDict
from .._mapping_core import _UNSET, glob_escape
from .._plan import Batch, Call, Command, Op, as_bytes
from .._settings import RedisSettings
from .._template import Param, make_param
from ._redis_pydict_values import PyDictCodec

__all__ = ["EVENT_PREFIX", "SEPARATOR", "KeyNotification", "PyDictCodec", "PyRedisDict"]

T = TypeVar("T")

SEPARATOR = "&&"
"""What joins redis-pydict's namespace and key."""
EVENT_PREFIX = "event_"
"""Key-set events of ``<namespace>&&<key>`` are published on ``event_<namespace>&&<key>``."""


class KeyNotification(NamedTuple):
    """One key-set event: unpacks as ``(key, notification_id, value)``."""

    key: str
    """The key in the namespace (without the namespace)."""
    notification_id: str
    """The writer's ``set_notification_id()``."""
    value: Any
    """The value written."""


def _key_param(where: str) -> Param:
    """Keys as keyspace renders them, and never holding ``&&`` or starting with ``&``, so
    that every Redis key parses back to exactly one (namespace, key) pair."""
    base = make_param("key", str, where)

    def checked(text: str, original: object) -> str:
        if SEPARATOR in text or text.startswith("&"):
            raise InvalidParameterError(
                f"{where}: key {original!r} may not hold '&&' or start with '&' (it would"
                " reach into another namespace)"
            )
        return text

    return Param("key", str, lambda key: checked(base.render(key), key), lambda s: checked(s, s))


class PyRedisDict(KeyspaceDict[str, Any]):
    """A dict in Redis, as redis-pydict's ``PyRedisDict``: entries at ``<namespace>&&<key>``.

    Args:
        host, port, db, password: build a ``redis.Redis`` (``localhost:6379``, db 0),
            closed by :meth:`close`. Without them (and without ``custom``), the client comes
            from ``settings`` (by default the environment: ``REDIS_URL``, ``REDIS_HOST``, ...,
            which default to ``localhost:6379`` too).
        namespace: the key prefix (may be empty).
        custom: a ``redis.Redis`` (or ``RedisCluster``) client, used as it is; the connection
            arguments are then ignored, as in redis-pydict. Give it no ``decode_responses``
            if values are pickled.
        settings: keyspace settings for the client and the SCAN and delete chunk sizes.
        unsafe_pickle: store and load arbitrary objects with :mod:`pickle`. Loading a pickle
            can run any code its writer chose: only for servers that nobody untrusted can
            write to. Without it, values of well-known types are still pickled (as
            redis-pydict does for ``bool``, ``tuple``, ``datetime``, ...) and read back by an
            unpickler that builds nothing else.

    Keys are ``str`` without ``:``, braces, glob characters or ``&&``, not starting with
    ``&`` (``InvalidParameterError``). Values never expire unless a write asks
    (``d.set(k, v, ttl=60)``, ``with d.expiring(60):``).
    """

    _codec: PyDictCodec

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        db: int | None = None,
        password: str | None = None,
        namespace: str = "",
        custom: SyncClient | None = None,
        *,
        settings: RedisSettings | None = None,
        unsafe_pickle: bool = False,
    ) -> None:
        where = f"PyRedisDict {namespace!r}"
        if not isinstance(namespace, str):
            raise InvalidParameterError(f"{where}: a namespace must be a str")
        settings = settings if settings is not None else RedisSettings()
        client: SyncClient
        if custom is not None:
            client = custom
        elif host is None and port is None and db is None and password is None:
            # bytes replies, as redis-pydict's client gives them: pickles are not text
            client = settings.model_copy(update={"decode_responses": False}).sync_client()
        else:
            client = Redis(
                host=host or "localhost",
                port=6379 if port is None else port,
                db=db or 0,
                password=password,
            )
        self._configure(
            SyncExecutor.of(client, settings),
            head=namespace + SEPARATOR,
            tail="",
            param=_key_param(where),
            codec=PyDictCodec(unsafe_pickle),
            ttl_ms=None,
            preserve_ttl=False,
            scan_count=settings.scan_count,
            chunk=settings.delete_chunk_size,
            owns_client=custom is None,
            where=where,
        )
        self.key_namespace = namespace
        self.enable_publish = False
        self.notification_id = ""

    @property
    def redis(self) -> SyncClient:
        """The ``redis.Redis`` client (redis-pydict's attribute)."""
        return self.client

    def __str__(self) -> str:
        return str(self.to_dict())

    # -- matching -------------------------------------------------------------------

    def _matching(self, pattern: str) -> PyRedisDict:
        """This mapping with a narrower SCAN pattern (entries are still checked one by one)."""
        if not isinstance(pattern, str):
            raise InvalidParameterError(f"{self._where}: a pattern must be a str")
        view = copy.copy(self)
        view._pattern = glob_escape(self._head) + pattern
        return view

    def iter_matching(self, pattern: str = "*") -> Iterator[str]:
        """The keys matching the glob ``pattern`` (``"user*"``), as SCAN finds them."""
        return self._executor.stream(self._matching(pattern)._flow_keys())

    def items_matching(self, pattern: str = "*") -> list[tuple[str, Any]]:
        """The ``(key, value)`` pairs whose keys match the glob ``pattern``."""
        return list(self._executor.stream(self._matching(pattern)._flow_items()))

    # -- events ---------------------------------------------------------------------

    def set_notification_mode(self, enable: bool) -> None:
        """Publish a key-set event for every write from now on (or stop)."""
        self.enable_publish = bool(enable)

    def set_notification_id(self, id: str) -> None:
        """The id that this mapping's events carry (unique per writer, by convention)."""
        self.notification_id = str(id)

    def _op_set(self, key: str, value: Any, ttl: TTLArg = INHERIT) -> Op[None]:
        return self._published(super()._op_set(key, value, ttl))

    def _op_update(self, pairs: Iterable[tuple[Any, Any]]) -> Op[None] | None:
        op = super()._op_update(pairs)
        return None if op is None else self._published(op)

    def _published(self, op: Op[T]) -> Op[T]:
        """``op`` plus, in the same round trip, one PUBLISH per key it sets."""
        if not self.enable_publish:
            return op
        commands = (op.command,) if isinstance(op, Call) else op.commands
        header = json.dumps({"id": self.notification_id}).encode() + b"\n"
        publishes: dict[str, Command] = {}  # by key: the one write of an update() per key
        for command in commands:
            if command[0] == "SET" and command[1] not in publishes:
                channel = EVENT_PREFIX + command[1]
                publishes[command[1]] = ("PUBLISH", channel, header + command[2])
        count = len(commands)
        parse = op.parse
        return Batch(
            (*commands, *publishes.values()),
            (lambda r: parse(r[0])) if isinstance(op, Call) else (lambda r: parse(r[:count])),
            op.key,
            op.kind,
            atomic=self._atomic,
        )

    def subscribe_to_key_events(
        self, pattern: str = "*", *, timeout: float | None = None
    ) -> Iterator[KeyNotification]:
        """Wait for key-set events of keys matching the glob ``pattern`` and yield each as
        ``(key, notification_id, value)``.

        Blocks until an event comes; with ``timeout``, the iteration ends after that many
        seconds without one. Events published by redis-pydict itself carry no value: it is
        read from Redis when they arrive (``None`` if the key is gone).
        """
        channels = EVENT_PREFIX + glob_escape(self._head) + pattern
        for channel, data in self._executor.subscribe(channels, timeout):
            name = channel[len(EVENT_PREFIX) :]
            key = self._key_of(name)
            if key is not _UNSET:
                yield self._notification(key, name, as_bytes(data))

    def _notification(self, key: str, name: str, data: bytes) -> KeyNotification:
        header, newline, stored = data.partition(b"\n")
        if newline and header.startswith(b"{"):
            try:
                writer = json.loads(header)["id"]
            except (ValueError, KeyError, TypeError):
                pass
            else:
                return KeyNotification(key, str(writer), self._codec.load(stored, key=name))
        # redis-pydict's own events: the data is the writer's id alone.
        return KeyNotification(key, data.decode("utf-8", "replace"), self.get(key))
