"""``KeyspaceDict``: the sync, ``MutableMapping`` flavour of the dict-style views.

How entries are stored, counted, expired and batched is the core's business
(``_mapping_core``); this module hands what the core builds to a sync executor.
"""

from __future__ import annotations

from collections.abc import (
    ItemsView,
    Iterator,
    Mapping,
    MutableMapping,
    ValuesView,
)
from contextlib import contextmanager
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    TypeVar,
    overload,
)

from typing_extensions import Self

from ._events import KeyEvent, Source
from ._execute import SyncClient, SyncExecutor
from ._keys import INHERIT, TTLArg
from ._plan import Op
from ._settings import RedisSettings

if TYPE_CHECKING:
    pass


from ._mapping_core import _UNSET, MappingCore

__all__ = ["KeyspaceDict"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class _Values(ValuesView[V]):
    """``d.values()``: iterates with one SCAN and one bulk read per page."""

    __slots__ = ("_owner",)

    def __init__(self, owner: KeyspaceDict[Any, V]) -> None:
        super().__init__(owner)
        self._owner = owner

    def __iter__(self) -> Iterator[V]:
        owner = self._owner
        return owner._executor.stream(owner._flow_items(lambda _, value: value))


class _Items(ItemsView[K, V]):
    """``d.items()``: iterates with one SCAN and one bulk read per page."""

    __slots__ = ("_owner",)

    def __init__(self, owner: KeyspaceDict[K, V]) -> None:
        super().__init__(owner)
        self._owner = owner

    def __iter__(self) -> Iterator[tuple[K, V]]:
        owner = self._owner
        return owner._executor.stream(owner._flow_items())


class KeyspaceDict(MappingCore[K, V], MutableMapping[K, V]):
    """A typed ``MutableMapping`` over the Redis keys ``<namespace>:<key>`` (sync flavour).

    ``KeyspaceDict[str, Profile](namespace="profiles")`` validates every value as a
    ``Profile`` on write and read; ``KeyspaceDict[int, str]`` has ``int`` keys; a plain
    ``KeyspaceDict(...)`` is ``KeyspaceDict[str, Any]``. Without ``client`` a client is built
    from ``settings`` (default: :class:`RedisSettings` from the environment, ``memory://``
    included) and closed by :meth:`close` or ``with``; a caller's client is never closed or
    changed.

    Args:
        namespace: the key prefix; entries live at ``<namespace>:<key>``.
        client: a ``redis.Redis`` client to use as it is.
        settings: where ``scan_count``, ``delete_chunk_size``, ``default_ttl`` and
            ``log_commands`` come from (and the client, without ``client``).
        ttl: the default TTL of writes (seconds or ``timedelta``); ``None`` for no expiry; the
            default ``INHERIT`` uses ``REDIS_DEFAULT_TTL``.
        preserve_ttl: overwriting an entry keeps the TTL it has (``SET ... KEEPTTL``); new
            entries get the default TTL.
        publish_events: publish every write for :meth:`events` subscribers.

    Each entry is a Redis string at ``<namespace>:<key>`` holding the value's JSON. Keys may
    not contain ``:``, braces or glob characters (``InvalidParameterError``), so ``ns`` and
    ``ns:sub`` never overlap; ``key in d`` is simply ``False`` for them. Missing items raise
    ``KeyError``; invalid values raise pydantic's ``ValidationError`` before anything is sent.
    ``len()``, iteration and the views SCAN with a large ``COUNT`` (``scan_count``); each
    iterator has its own cursor, and values are read one page per round trip.

    A write's TTL is the call's ``ttl=``, else the innermost :meth:`expiring` block's, else
    (with ``preserve_ttl``) the entry's own, else the mapping's ``ttl``. :meth:`batch` buffers
    writes until its outermost block exits. Both are local to the current thread or task and
    shared by every mapping over the same keys and client.

    ``copy()`` and ``|`` return plain dicts; ``repr()`` sends nothing (use ``to_dict()``).
    Prefer ``to_dict()`` to ``dict(d)``, which reads every value with its own round trip;
    ``list(d)`` costs one more SCAN, as Python asks ``len(d)`` first for a size hint.
    """

    _executor: SyncExecutor

    def __init__(
        self,
        namespace: str,
        client: SyncClient | None = None,
        *,
        settings: RedisSettings | None = None,
        ttl: TTLArg = INHERIT,
        preserve_ttl: bool = False,
        publish_events: bool = False,
    ) -> None:
        settings = settings if settings is not None else RedisSettings()
        built = settings.sync_client() if client is None else client
        executor = SyncExecutor.of(built, settings, publish_events=publish_events)
        self._configure_standalone(executor, namespace, settings, ttl, preserve_ttl, client is None)

    def _write(self, op: Op[Any] | None) -> None:
        if op is not None and (op := self._queued(op)) is not None:
            self._executor.call(op)

    # -- MutableMapping -------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        return self._executor.call(self._op_getitem(key))

    def __setitem__(self, key: K, value: V) -> None:
        self._write(self._op_set(key, value))

    def __delitem__(self, key: K) -> None:
        self._write(self._op_delete(key))

    def __contains__(self, key: object) -> bool:
        op = self._op_contains(key)
        return op is not None and self._executor.call(op)

    def __iter__(self) -> Iterator[K]:
        return self._executor.stream(self._flow_keys())

    def __len__(self) -> int:
        return self._executor.run(self._flow_len())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeyspaceDict):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __or__(self, other: Mapping[K, V]) -> dict[K, V]:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**self.to_dict(), **other}

    def __ror__(self, other: Mapping[K, V]) -> dict[K, V]:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**other, **self.to_dict()}

    def __ior__(self, other: Any) -> Self:  # type: ignore[misc]
        self.update(other)
        return self

    # -- dict methods -----------------------------------------------------------

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, default: V, /) -> V: ...
    @overload
    def get(self, key: K, default: T, /) -> V | T: ...
    def get(self, key: K, default: Any = None, /) -> Any:
        """The value of ``key``, or ``default`` when it is missing."""
        return self._executor.call(self._op_get(key, default))

    @overload
    def pop(self, key: K, /) -> V: ...
    @overload
    def pop(self, key: K, default: V, /) -> V: ...
    @overload
    def pop(self, key: K, default: T, /) -> V | T: ...
    def pop(self, key: K, default: Any = _UNSET, /) -> Any:
        """Remove ``key`` and return its value, atomically (``GETDEL``).

        Returns ``default`` when it is missing, or raises ``KeyError`` without one.
        """
        return self._executor.call(self._op_pop(key, default))

    def popitem(self) -> tuple[K, V]:
        """Remove and return some ``(key, value)`` pair (not LIFO); ``KeyError`` when empty."""
        return self._executor.run(self._flow_popitem())

    @overload
    def setdefault(
        self: KeyspaceDict[K, T | None], key: K, default: None = None, /
    ) -> T | None: ...
    @overload
    def setdefault(self, key: K, default: V, /) -> V: ...
    def setdefault(self, key: K, default: Any = None, /) -> Any:
        """The value of ``key``; if missing, store ``default`` first (atomically) and return it."""
        return self._executor.call(self._op_setdefault(key, default))

    def update(self, other: Any = (), /, **kwargs: V) -> None:
        """Write the pairs of a mapping, an iterable of pairs and/or keywords, like
        ``dict.update``: everything is validated first, then sent in one round trip."""
        if isinstance(other, KeyspaceDict):
            other = other.to_dict()
        self._write(self._op_update(self._pairs(other, kwargs)))

    def clear(self) -> None:
        """Delete every entry (SCAN, then ``UNLINK`` in chunks)."""
        self._executor.run(self._flow_clear())

    def values(self) -> ValuesView[V]:
        """A view of the values (one SCAN and one bulk read per page as it iterates)."""
        return _Values(self)

    def items(self) -> ItemsView[K, V]:
        """A view of the ``(key, value)`` pairs (one SCAN and one bulk read per page)."""
        return _Items(self)

    def to_dict(self) -> dict[K, V]:
        """Every entry as a plain ``dict``."""
        return self._executor.run(self._flow_dict())

    def copy(self) -> dict[K, V]:
        """A plain ``dict`` snapshot, as ``to_dict()`` (a Redis mapping has no in-memory copy)."""
        return self.to_dict()

    # -- keyspace additions -------------------------------------------------------

    def getitem(self, key: K) -> V:
        """The value of ``key`` (``d[key]``); ``KeyError`` when missing."""
        return self[key]

    def contains(self, key: object) -> bool:
        """Whether ``key`` is in the mapping (``key in d``)."""
        return key in self

    def len(self) -> int:
        """The number of entries (``len(d)``): SCAN with a large COUNT."""
        return len(self)

    def equals(self, other: Mapping[Any, Any] | MappingCore[Any, Any]) -> bool:
        """Whether the entries equal those of ``other`` (``d == other``)."""
        return self == other

    def set(self, key: K, value: V, *, ttl: TTLArg = INHERIT) -> None:
        """``d[key] = value`` with this write's own TTL (seconds, ``timedelta`` or ``None``)."""
        self._write(self._op_set(key, value, ttl))

    def delete(self, key: K) -> None:
        """``del d[key]``: ``KeyError`` when missing (outside ``batch()``)."""
        self._write(self._op_delete(key))

    def ttl(self, key: K) -> float | None:
        """Seconds until ``key`` expires, ``None`` if it never does; ``KeyError`` when missing."""
        return self._executor.call(self._op_ttl(key))

    def events(
        self, pattern: str = "*", *, source: Source = "publish", timeout: float | None = None
    ) -> Iterator[KeyEvent]:
        """Changes to this mapping's entries whose key matches the glob ``pattern``.

        ``source="publish"`` reads what writers with ``publish_events=True``
        publish (values decoded as ``V``); ``"keyspace"`` reads Redis keyspace
        notifications. Stops after ``timeout`` seconds without an event, or
        when the consumer stops.
        """
        channel, parse = self._subscription(pattern, source)
        for message in self._executor.subscribe(channel, timeout):
            event = parse(message)
            if event is not None:
                yield event

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Buffer the writes inside the block; send them in one round trip when the outermost
        block exits (nothing is sent if it raises). Local to the current thread."""
        outermost, mark = self._batch_open()
        ok = False
        try:
            yield
            ok = True
        finally:
            op = self._batch_close(outermost, mark, ok)
        if op is not None:
            self._executor.call(op)

    @property
    def client(self) -> SyncClient:
        """The ``redis.Redis`` client this mapping sends commands through."""
        return self._executor.client

    def close(self) -> None:
        """Close the client if this mapping created it."""
        if self._owns_client:
            self._executor.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
