"""``AsyncKeyspaceDict``: the asyncio flavour of :class:`KeyspaceDict`.

There is no asynchronous ``MutableMapping`` ABC, so the dict protocol is spelled as coroutine
methods with the names of the sync flavour's (``await d.get(k)``, ``await d.set(k, v)``,
``await d.pop(k)``, ...), plus ``getitem``, ``contains``, ``len`` and ``equals`` for what the
sync flavour also does with ``d[k]``, ``in``, ``len()`` and ``==``. ``async for key in d``
iterates; ``keys()``, ``values()`` and ``items()`` return a :class:`KeyScan` to ``async for``
or to ``await`` as a list. Operators that would need I/O (``d[k] = v``, ``|``, ``==`` with a
mapping) are not available: ``==`` with a mapping raises ``TypeError`` rather than quietly
comparing identities. Everything but the I/O is shared with the sync flavour (``_mapping``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from typing_extensions import Self

from ._events import KeyEvent, Source
from ._execute import AsyncClient, AsyncExecutor
from ._keys import INHERIT, TTLArg
from ._mapping_core import _UNSET, MappingCore
from ._plan import Op
from ._settings import RedisSettings

if TYPE_CHECKING:
    from ._repository import KeyScan

__all__ = ["AsyncKeyspaceDict"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class AsyncKeyspaceDict(MappingCore[K, V]):
    """A typed mapping over the Redis keys ``<namespace>:<key>``, for asyncio.

    The asyncio twin of :class:`KeyspaceDict`: the same storage, typing, expiry and
    batching, with coroutine methods (``await d.get(k)``, ``await d.set(k, v)``,
    ``await d.delete(k)``, ``await d.contains(k)``, ``await d.len()``, ``async for k in d``,
    ``await d.items()``, ...). Without ``client`` it builds a ``redis.asyncio`` client from
    ``settings`` and closes it in :meth:`aclose` (or ``async with``).

    Args:
        namespace: the key prefix; entries live at ``<namespace>:<key>``.
        client: a ``redis.asyncio.Redis`` client to use as it is.
        settings: where ``scan_count``, ``delete_chunk_size``, ``default_ttl`` and
            ``log_commands`` come from (and the client, without ``client``).
        ttl: the default TTL of writes (seconds or ``timedelta``); ``None`` for no expiry; the
            default ``INHERIT`` uses ``REDIS_DEFAULT_TTL``.
        preserve_ttl: overwriting an entry keeps the TTL it has (``SET ... KEEPTTL``); new
            entries get the default TTL.
        publish_events: publish every write for :meth:`events` subscribers.
    """

    _executor: AsyncExecutor

    def __init__(
        self,
        namespace: str,
        client: AsyncClient | None = None,
        *,
        settings: RedisSettings | None = None,
        ttl: TTLArg = INHERIT,
        preserve_ttl: bool = False,
        publish_events: bool = False,
    ) -> None:
        settings = settings if settings is not None else RedisSettings()
        built = settings.async_client() if client is None else client
        executor = AsyncExecutor.of(built, settings, publish_events=publish_events)
        self._configure_standalone(executor, namespace, settings, ttl, preserve_ttl, client is None)

    async def _write(self, op: Op[Any] | None) -> None:
        if op is not None and (op := self._queued(op)) is not None:
            await self._executor.call(op)

    def __aiter__(self) -> AsyncIterator[K]:
        return self._executor.stream(self._flow_keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            raise TypeError(
                "an AsyncKeyspaceDict cannot be compared with == (that would need I/O);"
                " use await d.equals(other)"
            )
        return NotImplemented

    __hash__ = object.__hash__

    # -- reads ------------------------------------------------------------------

    async def getitem(self, key: K) -> V:
        """The value of ``key`` (``d[key]``); ``KeyError`` when missing."""
        return await self._executor.call(self._op_getitem(key))

    @overload
    async def get(self, key: K, /) -> V | None: ...
    @overload
    async def get(self, key: K, default: V, /) -> V: ...
    @overload
    async def get(self, key: K, default: T, /) -> V | T: ...
    async def get(self, key: K, default: Any = None, /) -> Any:
        """The value of ``key``, or ``default`` when it is missing."""
        return await self._executor.call(self._op_get(key, default))

    async def contains(self, key: object) -> bool:
        """Whether ``key`` is in the mapping (``key in d``)."""
        op = self._op_contains(key)
        return op is not None and await self._executor.call(op)

    async def len(self) -> int:
        """The number of entries (``len(d)``): SCAN with a large COUNT."""
        return await self._executor.run(self._flow_len())

    def keys(self) -> KeyScan[K]:
        """The keys: ``async for`` them, or ``await`` a list."""
        from ._repository import KeyScan

        return KeyScan(self._executor, self._flow_keys())

    def values(self) -> KeyScan[V]:
        """The values (one SCAN and one bulk read per page): ``async for`` or ``await``."""
        from ._repository import KeyScan

        return KeyScan(self._executor, self._flow_items(lambda _, value: value))

    def items(self) -> KeyScan[tuple[K, V]]:
        """The ``(key, value)`` pairs (one SCAN and one bulk read per page)."""
        from ._repository import KeyScan

        return KeyScan(self._executor, self._flow_items())

    async def to_dict(self) -> dict[K, V]:
        """Every entry as a plain ``dict``."""
        return await self._executor.run(self._flow_dict())

    async def copy(self) -> dict[K, V]:
        """A plain ``dict`` snapshot, as ``to_dict()`` (a Redis mapping has no in-memory copy)."""
        return await self.to_dict()

    async def equals(self, other: Mapping[Any, Any] | MappingCore[Any, Any]) -> bool:
        """Whether the entries equal those of ``other`` (``d == other``)."""
        if isinstance(other, AsyncKeyspaceDict):
            other = await other.to_dict()
        if not isinstance(other, Mapping):
            raise TypeError(f"equals() needs a mapping, got {type(other).__name__}")
        return await self.to_dict() == dict(other.items())

    async def ttl(self, key: K) -> float | None:
        """Seconds until ``key`` expires, ``None`` if it never does; ``KeyError`` when missing."""
        return await self._executor.call(self._op_ttl(key))

    async def events(
        self, pattern: str = "*", *, source: Source = "publish", timeout: float | None = None
    ) -> AsyncIterator[KeyEvent]:
        """Changes to this mapping's entries whose key matches the glob ``pattern``.

        ``source="publish"`` reads what writers with ``publish_events=True``
        publish (values decoded as ``V``); ``"keyspace"`` reads Redis keyspace
        notifications. Stops after ``timeout`` seconds without an event, when
        the consumer stops, or on cancellation.
        """
        channel, parse = self._subscription(pattern, source)
        async for message in self._executor.subscribe(channel, timeout):
            event = parse(message)
            if event is not None:
                yield event

    # -- writes -----------------------------------------------------------------

    async def set(self, key: K, value: V, *, ttl: TTLArg = INHERIT) -> None:
        """``d[key] = value``, with this write's own TTL if given (seconds, ``timedelta``,
        ``None``). Raises pydantic's ``ValidationError`` before anything is sent."""
        await self._write(self._op_set(key, value, ttl))

    async def delete(self, key: K) -> None:
        """``del d[key]``: ``KeyError`` when missing (outside ``batch()``)."""
        await self._write(self._op_delete(key))

    @overload
    async def pop(self, key: K, /) -> V: ...
    @overload
    async def pop(self, key: K, default: V, /) -> V: ...
    @overload
    async def pop(self, key: K, default: T, /) -> V | T: ...
    async def pop(self, key: K, default: Any = _UNSET, /) -> Any:
        """Remove ``key`` and return its value, atomically (``GETDEL``).

        Returns ``default`` when it is missing, or raises ``KeyError`` without one.
        """
        return await self._executor.call(self._op_pop(key, default))

    async def popitem(self) -> tuple[K, V]:
        """Remove and return some ``(key, value)`` pair (not LIFO); ``KeyError`` when empty."""
        return await self._executor.run(self._flow_popitem())

    @overload
    async def setdefault(
        self: AsyncKeyspaceDict[K, T | None], key: K, default: None = None, /
    ) -> T | None: ...
    @overload
    async def setdefault(self, key: K, default: V, /) -> V: ...
    async def setdefault(self, key: K, default: Any = None, /) -> Any:
        """The value of ``key``; if missing, store ``default`` first (atomically) and return it."""
        return await self._executor.call(self._op_setdefault(key, default))

    async def update(self, other: Any = (), /, **kwargs: V) -> None:
        """Write the pairs of a mapping (an ``AsyncKeyspaceDict`` too), an iterable of pairs
        and/or keywords, like ``dict.update``: all validated first, then one round trip."""
        if isinstance(other, AsyncKeyspaceDict):
            other = await other.to_dict()
        await self._write(self._op_update(self._pairs(other, kwargs)))

    async def clear(self) -> None:
        """Delete every entry (SCAN, then ``UNLINK`` in chunks)."""
        await self._executor.run(self._flow_clear())

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Buffer the writes inside ``async with d.batch():``; send them in one round trip when
        the outermost block exits (nothing is sent if it raises). Local to the current task."""
        outermost, mark = self._batch_open()
        ok = False
        try:
            yield
            ok = True
        finally:
            op = self._batch_close(outermost, mark, ok)
        if op is not None:
            await self._executor.call(op)

    # -- client -----------------------------------------------------------------

    @property
    def client(self) -> AsyncClient:
        """The ``redis.asyncio`` client this mapping sends commands through."""
        return self._executor.client

    async def aclose(self) -> None:
        """Close the client if this mapping created it."""
        if self._owns_client:
            await self._executor.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
