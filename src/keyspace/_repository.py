"""``Repository`` (asyncio) and ``SyncRepository``: the two thin façades.

Each I/O method hands an op or flow that the flavour-independent handles
build to the flavour's executor (``_execute``). The two flavours expose the
same methods with the same signatures (a test keeps them equal); only closing
differs, as in redis-py: ``aclose()``/``async with`` and ``close()``/``with``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import redis
from pydantic import BaseModel

from ._cluster import Cluster, root_node
from ._coalesce import CoalescingExecutor
from ._crypto import Keyring
from ._errors import OptionsError
from ._events import KeyEvent, Source
from ._execute import AsyncClient, AsyncExecutor, SyncClient, SyncExecutor
from ._handles import ClusterHandle, KeyHandle, Runtime, expose_members
from ._keys import Inherit, ttl_ms
from ._kinds import ASYNC_KINDS, SYNC_KINDS
from ._pipeline import AsyncPipeline, SyncPipeline
from ._plan import Emit, Flow
from ._settings import RedisSettings
from ._slots import CLUSTER_CLIENTS
from ._strings import DEFAULT_ATTEMPTS, update_many_flow
from ._template import parse_template

__all__ = [
    "AsyncBoundCluster",
    "KeyScan",
    "Repository",
    "SyncBoundCluster",
    "SyncRepository",
]

C = TypeVar("C", bound=Cluster)
ItemT = TypeVar("ItemT")
X = TypeVar("X", AsyncExecutor, SyncExecutor)


class KeyScan(Generic[ItemT]):
    """Results found by SCAN: ``async for`` them, or ``await`` the whole list."""

    __slots__ = ("_executor", "_flow")

    def __init__(self, executor: AsyncExecutor, flow: Flow[None]) -> None:
        self._executor = executor
        self._flow = flow

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._executor.stream(self._flow)

    def __await__(self) -> Generator[Any, None, list[ItemT]]:
        return self._collect().__await__()

    async def _collect(self) -> list[ItemT]:
        return [item async for item in self]


class AsyncBoundCluster(ClusterHandle):
    """A cluster of a :class:`Repository`: navigate to keys and nested clusters by attribute."""

    __slots__ = ()
    _rt: Runtime[AsyncExecutor]
    _key_classes = ASYNC_KINDS

    def subkeys(self) -> KeyScan[str]:
        """Every key under this cluster's prefix (SCAN): ``async for`` or ``await`` a list."""
        return KeyScan(self._rt.executor, self._subkeys_flow())

    async def clear(self) -> int:
        """Delete every key the cluster's declaration can produce; return how many existed.

        Static keys are deleted by name in one command; only keys with
        placeholders that are not bound yet are found with SCAN.
        """
        return await self._rt.executor.run(self._clear_flow())

    async def load(self) -> Any:
        """Every static key of this cluster as one pydantic snapshot, in one round trip."""
        return await self._rt.executor.call(self._op_load())

    async def save(self, snapshot: BaseModel | Mapping[str, Any]) -> None:
        """Validate, then write the snapshot's keys with their TTLs atomically (MULTI/EXEC).

        A snapshot model writes only the fields that were set on it; a
        mapping writes its items.
        """
        await self._rt.executor.call(self._op_save(snapshot))

    async def events(
        self, pattern: str = "*", *, source: Source = "publish", timeout: float | None = None
    ) -> AsyncIterator[KeyEvent]:
        """Changes to keys below this cluster whose relative name matches ``pattern``.

        ``source="publish"`` reads what repositories with ``publish_events=True``
        publish (values included); ``"keyspace"`` reads Redis keyspace
        notifications (expiry and eviction too; see
        ``enable_keyspace_notifications``). Stops after ``timeout`` seconds
        without an event, when the consumer stops, or on cancellation.
        """
        channel, parse = self._subscription(pattern, source)
        async for message in self._rt.executor.subscribe(channel, timeout):
            yield parse(message)

    def instances(self) -> KeyScan[AsyncBoundCluster]:
        """The bound instances of an unbound cluster (``repo.user.instances()``) found in Redis."""
        return KeyScan(self._rt.executor, _instance_flow(self, self._instances_flow()))


class SyncBoundCluster(ClusterHandle):
    """A cluster of a :class:`SyncRepository`: navigate to keys and nested clusters by attribute."""

    __slots__ = ()
    _rt: Runtime[SyncExecutor]
    _key_classes = SYNC_KINDS

    def subkeys(self) -> Iterator[str]:
        """Every key under this cluster's prefix (SCAN); ``list()`` it for a list."""
        return self._rt.executor.stream(self._subkeys_flow())

    def clear(self) -> int:
        """Delete every key the cluster's declaration can produce; return how many existed.

        Static keys are deleted by name in one command; only keys with
        placeholders that are not bound yet are found with SCAN.
        """
        return self._rt.executor.run(self._clear_flow())

    def load(self) -> Any:
        """Every static key of this cluster as one pydantic snapshot, in one round trip."""
        return self._rt.executor.call(self._op_load())

    def save(self, snapshot: BaseModel | Mapping[str, Any]) -> None:
        """Validate, then write the snapshot's keys with their TTLs atomically (MULTI/EXEC).

        A snapshot model writes only the fields that were set on it; a
        mapping writes its items.
        """
        self._rt.executor.call(self._op_save(snapshot))

    def events(
        self, pattern: str = "*", *, source: Source = "publish", timeout: float | None = None
    ) -> Iterator[KeyEvent]:
        """Changes to keys below this cluster whose relative name matches ``pattern``.

        ``source="publish"`` reads what repositories with ``publish_events=True``
        publish (values included); ``"keyspace"`` reads Redis keyspace
        notifications (expiry and eviction too; see
        ``enable_keyspace_notifications``). Stops after ``timeout`` seconds
        without an event, or when the consumer stops.
        """
        channel, parse = self._subscription(pattern, source)
        for message in self._rt.executor.subscribe(channel, timeout):
            yield parse(message)

    def instances(self) -> Iterator[SyncBoundCluster]:
        """The bound instances of an unbound cluster (``repo.user.instances()``) found in Redis."""
        return self._rt.executor.stream(_instance_flow(self, self._instances_flow()))


AsyncBoundCluster._cluster_class = AsyncBoundCluster
SyncBoundCluster._cluster_class = SyncBoundCluster


def _instance_flow(handle: ClusterHandle, flow: Flow[None]) -> Flow[None]:
    """Turn the parameter values ``flow`` emits into bound handles."""
    reply: Any = None
    while True:
        try:
            message = flow.send(reply)
        except StopIteration:
            return
        if not isinstance(message, Emit):
            reply = yield message
            continue
        reply = None
        try:
            bound = handle._instance(message.value)
        except ValueError:  # a foreign key whose segment is not a valid typed parameter
            continue
        yield Emit(bound)


def _every_primary(client: Any) -> dict[str, Any]:
    """On Redis Cluster, a server command must reach every primary, not one node."""
    if isinstance(client, CLUSTER_CLIENTS):
        return {"target_nodes": redis.RedisCluster.PRIMARIES}
    return {}


def _runtime(executor: X, settings: RedisSettings) -> Runtime[X]:
    default = settings.default_ttl
    default_ms = None if default is None else ttl_ms(default, "REDIS_DEFAULT_TTL")
    assert not isinstance(default_ms, Inherit)  # a timedelta or None never inherits
    keyring = Keyring(settings.encryption_key, settings.encryption_old_keys)
    return Runtime(executor, default_ms, settings.scan_count, settings.delete_chunk_size, keyring)


def _root_prefix(root: type[Cluster], override: str | None) -> tuple[Any, str | None]:
    node = root_node(root)
    if override is not None:
        template = parse_template(override, where="Repository(prefix=...)")
        if template.params:
            raise OptionsError(
                f"Repository(prefix={override!r}): a prefix override is literal text;"
                " render tenant values into it yourself"
            )
        if node.own_params:
            raise OptionsError(
                f"Repository(prefix=...): root {node.where} has parameters; bind them instead"
            )
        return node, f"{{{override}}}" if node.spec.hash_tag else override
    if node.own_params:
        return node, None
    return node, node.render_prefix({}) if node.spec.prefix else ""


class Repository(AsyncBoundCluster, Generic[C]):
    """The asyncio entry point: the root cluster bound to a ``redis.asyncio`` client.

    ``Repository(Root)`` builds its client from :class:`RedisSettings` (the
    ``REDIS_*`` environment) and closes it in :meth:`aclose`;
    ``Repository(Root, client)`` uses the caller's client as it is and leaves
    closing it to the caller.

    One declaration serves many bindings: ``prefix=`` replaces the root's
    prefix (one repository per tenant, say: ``prefix=f"t{tenant}:app"``),
    and another client reaches another server or database. Bindings with
    distinct prefixes never see each other's keys. ``publish_events=True``
    publishes every write for ``events()`` subscribers.

    ``coalesce_reads=True`` lets the one-command reads that many tasks start in
    the same event-loop turn share one round trip (a pipeline), each caller still
    getting its own result or error; ``None`` takes ``settings.coalesce_reads``
    (``REDIS_COALESCE_READS``). :class:`SyncRepository` has no such option: sync
    code never has several reads waiting at once.
    """

    __slots__ = ("__dict__", "_owns_client")  # __dict__: see expose_members

    def __init__(
        self,
        root: type[C],
        client: AsyncClient | None = None,
        *,
        settings: RedisSettings | None = None,
        publish_events: bool = False,
        prefix: str | None = None,
        coalesce_reads: bool | None = None,
    ) -> None:
        settings = settings if settings is not None else RedisSettings()
        self._owns_client = client is None
        if client is None:
            client = settings.async_client()
        node, bound = _root_prefix(root, prefix)
        coalesce = settings.coalesce_reads if coalesce_reads is None else coalesce_reads
        flavour = CoalescingExecutor if coalesce else AsyncExecutor
        executor = flavour.of(client, settings, publish_events=publish_events)
        runtime = _runtime(executor, settings)
        super().__init__(node, "", bound, {}, runtime)
        expose_members(self, self)

    @property
    def client(self) -> AsyncClient:
        """The ``redis.asyncio`` client this repository sends commands through."""
        return self._rt.executor.client

    def pipeline(self, *, transaction: bool = False) -> AsyncPipeline:
        """Queue operations on any keys and send them in one round trip.

        ``async with repo.pipeline() as p: p.user(1).age.set(3)`` sends on
        exit; each queued call returns a :class:`Pending` holding its typed
        result afterwards. ``transaction=True`` wraps them in MULTI/EXEC.
        """
        return AsyncPipeline(self, transaction)

    async def update(
        self,
        keys: Sequence[KeyHandle[Any]],
        fn: Callable[..., Sequence[Any]],
        *,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> list[Any]:
        """Atomically replace several string keys with ``fn(*current_values)``.

        ``fn`` returns the new values in the order of ``keys``. WATCH,
        read, compute, write in MULTI/EXEC, retried on conflict at most
        ``attempts`` times (then ``ConflictError``).
        """
        return await self._rt.executor.run(update_many_flow(keys, fn, attempts))

    @property
    def writer_id(self) -> str | None:
        """The id this repository's published events carry (``None``: it does not publish)."""
        return self._rt.executor.writer

    async def enable_keyspace_notifications(self, flags: str = "KEA") -> None:
        """``CONFIG SET notify-keyspace-events`` on the server: an explicit opt-in,
        needed by ``events(source="keyspace")``; keyspace never does it implicitly."""
        await self.client.config_set("notify-keyspace-events", flags, **_every_primary(self.client))

    async def aclose(self) -> None:
        """Close the client if this repository created it."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Repository[C]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncRepository(SyncBoundCluster, Generic[C]):
    """The sync entry point: the root cluster bound to a ``redis.Redis`` client.

    ``SyncRepository(Root)`` builds its client from :class:`RedisSettings`
    and closes it in :meth:`close`; ``SyncRepository(Root, client)`` uses the
    caller's client as it is. ``prefix=`` and ``publish_events=`` work as for
    :class:`Repository`.
    """

    __slots__ = ("__dict__", "_owns_client")  # __dict__: see expose_members

    def __init__(
        self,
        root: type[C],
        client: SyncClient | None = None,
        *,
        settings: RedisSettings | None = None,
        publish_events: bool = False,
        prefix: str | None = None,
    ) -> None:
        settings = settings if settings is not None else RedisSettings()
        self._owns_client = client is None
        if client is None:
            client = settings.sync_client()
        node, bound = _root_prefix(root, prefix)
        executor = SyncExecutor.of(client, settings, publish_events=publish_events)
        runtime = _runtime(executor, settings)
        super().__init__(node, "", bound, {}, runtime)
        expose_members(self, self)

    @property
    def client(self) -> SyncClient:
        """The ``redis.Redis`` client this repository sends commands through."""
        return self._rt.executor.client

    def pipeline(self, *, transaction: bool = False) -> SyncPipeline:
        """Queue operations on any keys and send them in one round trip.

        ``with repo.pipeline() as p: p.user(1).age.set(3)`` sends on exit;
        each queued call returns a :class:`Pending` holding its typed result
        afterwards. ``transaction=True`` wraps them in MULTI/EXEC.
        """
        return SyncPipeline(self, transaction)

    def update(
        self,
        keys: Sequence[KeyHandle[Any]],
        fn: Callable[..., Sequence[Any]],
        *,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> list[Any]:
        """Atomically replace several string keys with ``fn(*current_values)``.

        ``fn`` returns the new values in the order of ``keys``. WATCH,
        read, compute, write in MULTI/EXEC, retried on conflict at most
        ``attempts`` times (then ``ConflictError``).
        """
        return self._rt.executor.run(update_many_flow(keys, fn, attempts))

    @property
    def writer_id(self) -> str | None:
        """The id this repository's published events carry (``None``: it does not publish)."""
        return self._rt.executor.writer

    def enable_keyspace_notifications(self, flags: str = "KEA") -> None:
        """``CONFIG SET notify-keyspace-events`` on the server: an explicit opt-in,
        needed by ``events(source="keyspace")``; keyspace never does it implicitly."""
        self.client.config_set("notify-keyspace-events", flags, **_every_primary(self.client))

    def close(self) -> None:
        """Close the client if this repository created it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> SyncRepository[C]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
