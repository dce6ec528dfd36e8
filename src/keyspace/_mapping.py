"""Typed dict-style views on Redis: :class:`KeyspaceDict` (sync) and the shared sans-IO core.

Storage
    Each entry is one Redis string at ``<namespace>:<key>`` holding the JSON of the value, as
    ``Key[V]`` stores it (see ``_codec``), so other programs can read it. Keys are rendered like
    template placeholders: typed by the mapping's key type (``KeyspaceDict[int, V]`` gives ``int``
    keys back), and never containing ``:``, braces or glob characters (``* ? [ ] \\``), which
    raise :class:`InvalidParameterError`. So ``ns`` and ``ns:sub`` are disjoint: an entry of
    ``ns`` has exactly one segment after ``ns:``. A namespace is any non-empty text without
    empty ``:`` segments; glob characters in it are escaped in SCAN patterns, so a namespace
    ``ns*`` never sees the keys of ``nsX``.

Size and iteration
    ``len()``, iteration and bulk reads SCAN ``<namespace>:*`` with a large ``COUNT`` (the
    ``scan_count`` setting, 1000 by default), so a small namespace in a large database costs
    about one SCAN per thousand keys of the database, not per ten. An index set was rejected: it
    goes stale when entries expire or other programs write the keys, and doubles every write.
    SCAN may repeat keys; every scan dedupes, and every iterator has its own cursor, so nested
    iteration over one mapping works, and changes during iteration are tolerated (an entry
    present throughout is seen exactly once). Keys under the namespace that this mapping could
    not have written (``ns:sub:x``, ``ns:007`` in an ``int`` mapping) are not entries.

Expiry
    A write's TTL is, in order: the call's ``ttl=``; the innermost ``expiring()`` block of the
    current thread or task; with ``preserve_ttl=True``, the TTL the entry already has (a new
    entry gets the default); the mapping's ``ttl``; ``REDIS_DEFAULT_TTL``. ``None`` means no
    expiry; like ``SET``, a write without a TTL removes an existing one.

Batching
    Inside ``with d.batch():`` (``async with`` for :class:`AsyncKeyspaceDict`) writes are
    buffered, per thread or task, and sent in one round trip (MULTI/EXEC on one server) when the
    outermost block exits; an exception discards the writes of the block it leaves. Tasks started
    inside the block (``asyncio.gather``) join it while it is open; other threads never do. Reads
    see Redis, not the buffer. Operations that write and return something (``pop``,
    ``popitem``, ``setdefault``, ``clear``) send the buffer first, so writes keep their order.
    ``del d[k]`` inside a batch cannot know whether ``k`` exists and never raises ``KeyError``.

    ``expiring()`` and ``batch()`` state belongs to the keys and the client, not to one mapping
    object: the views ``as_dict()`` returns for one key family share it, however often it is
    called.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import (
    Callable,
    Generator,
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    ValuesView,
)
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType, TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Generic,
    TypeVar,
    cast,
    get_args,
    get_origin,
    overload,
)

from typing_extensions import Self

from . import _plan as plan
from ._codec import Codec, codec_for
from ._errors import InvalidParameterError
from ._events import KeyEvent, Source, event_key, subscription
from ._execute import Limits, SyncClient, SyncExecutor
from ._keys import INHERIT, TTLArg, ttl_ms
from ._plan import Batch, Call, Command, Emit, Flow, Op, Scan
from ._settings import RedisSettings
from ._template import SEPARATOR, VALUE_REGEX, Param, Template, make_param

if TYPE_CHECKING:
    from ._handles import Runtime

__all__ = ["KeyspaceDict", "MappingCore", "family_bounds"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

_UNSET: Final[Any] = object()  # no expiring() block is active
_GLOB = re.compile(r"([*?\[\]\\])")


def _none(_reply: Any) -> None:
    return None


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def glob_escape(text: str) -> str:
    """``text`` as a SCAN pattern that matches exactly itself."""
    return _GLOB.sub(r"\\\1", text)


def family_bounds(
    prefix: str, template: Template, values: Mapping[str, str], name: str
) -> tuple[str, str]:
    """The text before and after placeholder ``name`` in the keys of a key family.

    ``prefix`` is the bound cluster prefix, ``values`` the rendered values of every other
    placeholder of ``template``: ``("root:user:1:messages:message:", "")`` for the template
    ``message:{message_id}`` below ``root:user:1:messages``.
    """
    parts = template.parts
    before: list[str] = [f"{prefix}{SEPARATOR}" if prefix else ""]
    after: list[str] = []
    out = before
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(part)
        elif part == name:
            out = after
        else:
            out.append(values[part])  # KeyError: another placeholder is not bound
    if out is before:
        raise KeyError(name)
    return "".join(before), "".join(after)


def _resolve_types(cls: type, args: tuple[Any, ...]) -> tuple[Any, Any]:
    """The key and value types of ``cls[args]``, through generic subclasses."""
    if cls is MappingCore:
        return args[0], args[1]
    values = dict(zip(cls.__parameters__, args, strict=True))  # type: ignore[attr-defined]
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = get_origin(base)
        if isinstance(origin, type) and issubclass(origin, MappingCore):
            params = getattr(base, "__parameters__", ())
            bound = base[tuple(values[p] for p in params)] if params else base
            return _resolve_types(origin, get_args(bound))
    raise TypeError(f"{cls.__name__} does not derive from a parameterized mapping")


def _with(states: Mapping[Any, Any], key: Any, value: Any) -> dict[Any, Any]:
    """A copy of ``states`` with ``key`` set to ``value`` (removed for ``_UNSET``)."""
    changed = {k: v for k, v in states.items() if k != key}
    if value is not _UNSET:
        changed[key] = value
    return changed


class _Batch:
    """The writes buffered by the ``batch()`` blocks of one thread or task."""

    __slots__ = ("closed", "ops", "owner", "sent")

    def __init__(self) -> None:
        self.ops: list[Op[Any]] = []
        self.sent = 0  # ops taken out early (by pop() and the like), for block rollback
        # Tasks started inside the block (asyncio.gather) share its context, so they join the
        # batch while it is open; once it is sent (closed), their writes go out directly.
        # Threads that copied the context (asyncio.to_thread) never join: no lock needed.
        self.owner = threading.get_ident()
        self.closed = False


# The expiring() TTLs and batch() buffers of the current thread or task, by mapping state key.
# The dicts are never changed in place: a task's copy of the context stays its own.
_NONE: Final[Mapping[Any, Any]] = MappingProxyType({})
_EXPIRING: ContextVar[Mapping[Any, Any]] = ContextVar("keyspace.expiring", default=_NONE)
_BATCHES: ContextVar[Mapping[Any, _Batch]] = ContextVar("keyspace.batches", default=_NONE)


class MappingCore(Generic[K, V]):
    """The flavour-independent half of the mappings: key names, ops and flows, no I/O.

    :class:`KeyspaceDict` and :class:`AsyncKeyspaceDict` hand what it builds to their executor.
    """

    _key_type: ClassVar[Any] = str
    _value_type: ClassVar[Any] = Any

    _executor: Any
    _head: str
    _tail: str
    _param: Param
    _codec: Codec[V]
    _ttl_ms: int | None
    _preserve: bool
    _count: int
    _chunk: int
    _owns_client: bool
    _where: str
    _pattern: str
    _regex: re.Pattern[str]
    _canonical: bool
    _atomic: bool
    _state_key: tuple[int, str, str]

    def __class_getitem__(cls, params: Any) -> Any:
        """``KeyspaceDict[K, V]``: a subclass that knows its key and value types at runtime."""
        alias = super().__class_getitem__(params)  # type: ignore[misc]
        if getattr(alias, "__parameters__", ()):
            return alias  # still generic: KeyspaceDict[str, T]
        args = get_args(alias)
        cache: dict[Any, type] = cls.__dict__.get("_subclasses") or {}
        if "_subclasses" not in cls.__dict__:
            cls._subclasses = cache  # type: ignore[attr-defined]
        subclass = cache.get(args)
        if subclass is None:
            key_type, value_type = _resolve_types(cls, args)
            name = f"{cls.__name__}[{', '.join(map(_type_name, args))}]"
            namespace = {
                "__module__": cls.__module__,
                "__qualname__": name,
                "__doc__": cls.__doc__,
                "_key_type": key_type,
                "_value_type": value_type,
            }
            subclass = cache[args] = type(name, (cls,), namespace)
        return subclass

    # -- construction -----------------------------------------------------------

    def _configure(
        self,
        executor: Any,
        *,
        head: str,
        tail: str,
        param: Param,
        codec: Codec[V],
        ttl_ms: int | None,
        preserve_ttl: bool,
        scan_count: int,
        chunk: int,
        owns_client: bool,
        where: str,
    ) -> None:
        self._executor = executor
        self._head, self._tail = head, tail
        self._param = param
        self._codec = codec
        self._ttl_ms = ttl_ms
        self._preserve = preserve_ttl
        self._count, self._chunk = scan_count, chunk
        self._owns_client = owns_client
        self._where = where
        self._pattern = f"{glob_escape(head)}*{glob_escape(tail)}"
        self._regex = re.compile(f"{re.escape(head)}({VALUE_REGEX}){re.escape(tail)}")
        # Typed keys parse back only from their canonical text ("7", not "007").
        self._canonical = param.annotation not in (None, str)
        # Redis Cluster refuses multi-slot transactions: send plain pipelines there.
        self._atomic = not getattr(executor, "cluster", False)
        # expiring() and batch() state belongs to these keys on this client, so that every
        # view of them (each as_dict() call makes a new one) shares it.
        self._state_key = (id(getattr(executor, "client", executor)), head, tail)

    def _subscription(
        self, pattern: str, source: Source
    ) -> tuple[str, Callable[[tuple[str, Any]], KeyEvent | None]]:
        """The channel pattern for entries whose key matches ``pattern``, and its parser,
        which gives ``None`` for keys that are not entries (``ns:sub:x`` of ``ns:*``)."""
        keys = f"{glob_escape(self._head)}{pattern}{glob_escape(self._tail)}"
        regex, codec = self._regex, self._codec
        channel, parse = subscription(
            keys, source, self._executor.client, lambda key, raw: codec.load(raw, key=key)
        )

        def entry(message: tuple[str, Any]) -> KeyEvent | None:
            return parse(message) if regex.fullmatch(event_key(message[0], source)) else None

        return channel, entry

    def _configure_namespace(
        self,
        executor: Any,
        namespace: str,
        ttl: TTLArg,
        preserve_ttl: bool,
        *,
        default_ttl_ms: int | None,
        scan_count: int,
        chunk: int,
        owns_client: bool,
    ) -> None:
        where = f"{type(self).__name__} {namespace!r}"
        if not isinstance(namespace, str) or not all(namespace.split(SEPARATOR)):
            raise InvalidParameterError(
                f"{where}: a namespace must be non-empty text without empty ':' segments"
            )
        ms = default_ttl_ms if ttl is INHERIT else ttl_ms(ttl, f"{where} ttl")
        self._configure(
            executor,
            head=namespace + SEPARATOR,
            tail="",
            param=make_param("key", self._key_type, where),
            codec=codec_for(self._value_type),
            ttl_ms=cast("int | None", ms),
            preserve_ttl=preserve_ttl,
            scan_count=scan_count,
            chunk=chunk,
            owns_client=owns_client,
            where=where,
        )

    def _configure_standalone(
        self,
        executor: Any,
        namespace: str,
        settings: RedisSettings,
        ttl: TTLArg,
        preserve_ttl: bool,
        owns_client: bool,
    ) -> None:
        default = settings.default_ttl
        default_ms = None if default is None else ttl_ms(default, "REDIS_DEFAULT_TTL")
        self._configure_namespace(
            executor,
            namespace,
            ttl,
            preserve_ttl,
            default_ttl_ms=cast("int | None", default_ms),
            scan_count=settings.scan_count,
            chunk=settings.delete_chunk_size,
            owns_client=owns_client,
        )

    @classmethod
    def _for_namespace(
        cls,
        runtime: Runtime[Any],
        namespace: str,
        *,
        ttl: TTLArg = INHERIT,
        preserve_ttl: bool = False,
    ) -> Self:
        """A mapping over ``<namespace>:<key>`` on a repository's client and settings.

        The key and value types are the class's (``KeyspaceDict[str, Any]._for_namespace``);
        ``ttl=INHERIT`` uses the repository's default TTL.
        """
        self = cls.__new__(cls)
        self._configure_namespace(
            runtime.executor,
            namespace,
            ttl,
            preserve_ttl,
            default_ttl_ms=runtime.default_ttl_ms,
            scan_count=runtime.scan_count,
            chunk=runtime.chunk,
            owns_client=False,
        )
        return self

    @classmethod
    def _for_family(
        cls,
        runtime: Runtime[Any],
        *,
        prefix: str,
        template: Template,
        values: Mapping[str, str],
        param: Param,
        codec: Codec[Any],
        ttl_ms: int | None,
        where: str,
        preserve_ttl: bool = False,
    ) -> Self:
        """A mapping over the keys of one key family of a bound cluster (``as_dict()``).

        The family's single unbound placeholder ``param`` is the mapping's key; ``values``
        holds the other placeholders, rendered. ``ttl_ms`` is the key's resolved TTL.
        """
        head, tail = family_bounds(prefix, template, values, param.name)
        self = cls.__new__(cls)
        self._configure(
            runtime.executor,
            head=head,
            tail=tail,
            param=param,
            codec=codec,
            ttl_ms=ttl_ms,
            preserve_ttl=preserve_ttl,
            scan_count=runtime.scan_count,
            chunk=runtime.chunk,
            owns_client=False,
            where=where,
        )
        return self

    # -- key names --------------------------------------------------------------

    def _name(self, key: object) -> str:
        """The Redis key of ``key``; raises ``InvalidParameterError`` for a key it cannot hold."""
        return f"{self._head}{self._param.render(key)}{self._tail}"

    def _key_of(self, name: str) -> Any:
        """The mapping key of Redis key ``name``, or ``_UNSET`` for a key that is no entry."""
        match = self._regex.fullmatch(name)
        if match is None:
            return _UNSET
        segment = match.group(1)
        try:
            key = self._param.parse(segment)
            if self._canonical and self._param.render(key) != segment:
                return _UNSET
        except ValueError:  # pydantic's ValidationError and InvalidParameterError
            return _UNSET
        return key

    def _accepts(self, name: str) -> bool:
        return self._key_of(name) is not _UNSET

    # -- TTL and batching state ------------------------------------------------

    @contextmanager
    def expiring(self, ttl: TTLArg) -> Iterator[None]:
        """Give the writes inside the block this TTL (``None``: no expiry; ``INHERIT``: the
        mapping's default again).

        Local to the current thread or asyncio task; blocks nest. A call's own ``ttl=`` still
        wins.
        """
        ms = _UNSET if ttl is INHERIT else ttl_ms(ttl, f"{self._where} expiring()")
        key = self._state_key
        before = _EXPIRING.get().get(key, _UNSET)
        _EXPIRING.set(_with(_EXPIRING.get(), key, ms))
        try:
            yield
        finally:
            _EXPIRING.set(_with(_EXPIRING.get(), key, before))

    def _expiry(self, ttl: TTLArg) -> tuple[int | None, bool]:
        """The TTL of a write in ms, and whether an existing entry keeps its own."""
        if ttl is not INHERIT:
            return cast("int | None", ttl_ms(ttl, f"{self._where} ttl")), False
        ms = _EXPIRING.get().get(self._state_key, _UNSET)
        if ms is not _UNSET:
            return cast("int | None", ms), False
        return self._ttl_ms, self._preserve

    def _batch(self) -> _Batch | None:
        state = _BATCHES.get().get(self._state_key)
        if state is None or state.closed or state.owner != threading.get_ident():
            return None
        return state

    def _batch_open(self) -> tuple[bool, int]:
        """Start a ``batch()`` block: whether it is the outermost, and where its writes start."""
        state = self._batch()
        if state is None:
            _BATCHES.set(_with(_BATCHES.get(), self._state_key, _Batch()))
            return True, 0
        return False, state.sent + len(state.ops)

    def _batch_close(self, outermost: bool, mark: int, ok: bool) -> Op[Any] | None:
        """End a ``batch()`` block; the op to send when it was the outermost and succeeded."""
        state = _BATCHES.get().get(self._state_key)
        assert state is not None  # opened by _batch_open
        if not ok:
            del state.ops[max(0, mark - state.sent) :]
        if not outermost:
            return None
        state.closed = True
        _BATCHES.set(_with(_BATCHES.get(), self._state_key, _UNSET))
        return self._combined(state.ops) if state.ops else None

    def _combined(self, ops: list[Op[Any]]) -> Batch[list[Any]]:
        batch = plan.combine(ops, self._atomic)

        def parse(replies: list[Any]) -> list[Any]:
            results = batch.parse(replies)
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return results

        return Batch(batch.commands, parse, atomic=self._atomic)

    def _queued(self, op: Op[Any]) -> Op[Any] | None:
        """Buffer a write inside ``batch()`` (``None``), or return it to be sent now."""
        state = self._batch()
        if state is None:
            return op
        state.ops.append(op)
        return None

    def _take_buffer(self) -> list[Op[Any]]:
        """Take the writes buffered so far out of the current ``batch()``, to send them now."""
        state = self._batch()
        if state is None or not state.ops:
            return []
        taken = state.ops[:]
        state.sent += len(taken)
        state.ops.clear()
        return taken

    def _after_buffer(self, op: Op[T]) -> Op[T]:
        """``op`` preceded, in the same round trip, by the writes buffered so far."""
        pending = self._take_buffer()
        if not pending:
            return op
        combined = self._combined([*pending, op])
        return Batch(
            combined.commands, lambda replies: combined.parse(replies)[-1], atomic=self._atomic
        )

    def _flow_after_buffer(self, flow: Flow[T]) -> Flow[T]:
        """``flow``, after sending the writes buffered so far."""
        pending = self._take_buffer()
        if pending:
            combined = self._combined(pending)
            combined.parse((yield list(combined.commands)))  # raises the first error
        return (yield from flow)

    # -- ops --------------------------------------------------------------------

    def _load(self, data: Any, name: str) -> V:
        return self._codec.load(data, key=name)

    def _op_get(self, key: K, default: T) -> Call[V | T]:
        name = self._name(key)
        load = self._load
        return Call(
            ("GET", name),
            lambda reply: default if reply is None else load(reply, name),
            name,
            self._kind,
        )

    def _op_getitem(self, key: K) -> Call[V]:
        name = self._name(key)
        load = self._load

        def parse(reply: Any) -> V:
            if reply is None:
                raise KeyError(key)
            return load(reply, name)

        return Call(("GET", name), parse, name, self._kind)

    @property
    def _kind(self) -> str:
        return f"an entry of {self._where}"

    def _set_commands(self, name: str, data: bytes, ttl: TTLArg) -> tuple[Command, ...]:
        ms, keep = self._expiry(ttl)
        if not keep:
            expiry = () if ms is None else plan.expiry_args(ms, "EX", "PX")
            return (("SET", name, data, *expiry),)
        if ms is None:
            return (("SET", name, data, "KEEPTTL"),)
        # A new entry gets the default TTL, an existing one keeps its own (or none).
        expiry = plan.expiry_args(ms, "EX", "PX")
        return (("SET", name, data, "NX", *expiry), ("SET", name, data, "XX", "KEEPTTL"))

    def _op_set(self, key: K, value: V, ttl: TTLArg = INHERIT) -> Op[None]:
        name = self._name(key)
        commands = self._set_commands(name, self._codec.dump(value), ttl)
        if len(commands) == 1:
            return Call(commands[0], _none, name, self._kind)
        return Batch(commands, _none, name, self._kind)

    def _op_update(self, pairs: Iterable[tuple[Any, Any]]) -> Op[None] | None:
        """Validate every pair, then one round trip of SETs; ``None`` when there is nothing."""
        data = {self._name(key): self._codec.dump(value) for key, value in pairs}
        commands = tuple(
            command
            for name, raw in data.items()
            for command in self._set_commands(name, raw, INHERIT)
        )
        if not commands:
            return None
        return Batch(commands, _none, atomic=self._atomic)

    def _op_delete(self, key: K) -> Call[None]:
        name = self._name(key)
        if self._batch() is not None:
            return Call(("DEL", name), _none)  # buffered: whether it existed is unknown

        def parse(reply: Any) -> None:
            if not int(reply):
                raise KeyError(key)

        return Call(("DEL", name), parse)

    def _op_contains(self, key: object) -> Call[bool] | None:
        """``EXISTS``; ``None`` for a key the mapping cannot hold (it is not in it)."""
        try:
            name = self._name(key)
        except (InvalidParameterError, TypeError):
            return None
        return Call(("EXISTS", name), plan.truthy)

    def _op_ttl(self, key: K) -> Call[float | None]:
        name = self._name(key)

        def parse(reply: Any) -> float | None:
            ms = int(reply)
            if ms == -2:
                raise KeyError(key)
            return None if ms == -1 else ms / 1000

        return Call(("PTTL", name), parse)

    def _op_pop(self, key: K, default: Any) -> Op[Any]:
        name = self._name(key)
        load = self._load

        def parse(reply: Any) -> Any:
            if reply is not None:
                return load(reply, name)
            if default is _UNSET:
                raise KeyError(key)
            return default

        return self._after_buffer(Call(("GETDEL", name), parse, name, self._kind))

    def _op_setdefault(self, key: K, default: Any) -> Op[V]:
        """SET NX and GET in one MULTI/EXEC: atomic, whoever wins, everyone reads one value.

        (``SET ... NX GET`` would do it in one command, but redis-py's reply callback turns
        its reply into a bool when sent through ``execute_command``.)
        """
        name = self._name(key)
        value = self._codec.validate(default)
        ms, _ = self._expiry(INHERIT)  # NX writes new entries only: nothing to preserve
        expiry = () if ms is None else plan.expiry_args(ms, "EX", "PX")
        load = self._load

        def parse(replies: list[Any]) -> V:
            return value if plan.truthy(replies[0]) else load(replies[1], name)

        commands = (("SET", name, self._codec.dump(value), "NX", *expiry), ("GET", name))
        return self._after_buffer(Batch(commands, parse, name, self._kind))

    # -- flows ------------------------------------------------------------------

    def _page(
        self, cursor: Any, seen: set[bytes]
    ) -> Generator[Scan, Any, tuple[Any, list[tuple[Any, Any]]]]:
        """One SCAN step: the next cursor and the new entries found, as (raw name, key)."""
        cursor, names = yield Scan(self._pattern, self._count, cursor)
        page = []
        for name in names:
            raw = plan.as_bytes(name)
            if raw in seen:
                continue
            key = self._key_of(raw.decode("utf-8", "backslashreplace"))
            if key is not _UNSET:
                seen.add(raw)
                page.append((raw, key))
        return cursor, page

    def _fetch(self, names: list[Any]) -> Command | list[Command]:
        # MGET needs one slot on Redis Cluster; a plain pipeline of GETs is split by node.
        if self._atomic:
            return ("MGET", *names)
        return [("GET", name) for name in names]

    def _flow_keys(self) -> Flow[None]:
        seen: set[bytes] = set()
        cursor: Any = None
        while True:
            cursor, page = yield from self._page(cursor, seen)
            for _, key in page:
                yield Emit(key)
            if cursor is None:
                return

    def _flow_len(self) -> Flow[int]:
        seen: set[bytes] = set()
        cursor: Any = None
        while True:
            cursor, _ = yield from self._page(cursor, seen)
            if cursor is None:
                return len(seen)

    def _flow_items(self, pick: Callable[[Any, V], Any] = lambda k, v: (k, v)) -> Flow[None]:
        """Emit ``pick(key, value)`` for every entry: one SCAN and one bulk read per page."""
        seen: set[bytes] = set()
        cursor: Any = None
        while True:
            cursor, page = yield from self._page(cursor, seen)
            if page:
                replies = yield self._fetch([raw for raw, _ in page])
                for (raw, key), data in zip(page, replies, strict=True):
                    if data is not None and not isinstance(data, Exception):  # gone meanwhile
                        yield Emit(pick(key, self._load(data, raw.decode("utf-8", "replace"))))
            if cursor is None:
                return

    def _flow_dict(self) -> Flow[dict[K, V]]:
        out: dict[K, V] = {}
        yield from self._flow_items(out.__setitem__)
        return out

    def _flow_popitem(self) -> Flow[tuple[K, V]]:
        return self._flow_after_buffer(self._popitem_scan())

    def _popitem_scan(self) -> Flow[tuple[K, V]]:
        """SCAN for an entry and GETDEL it; entries that vanish meanwhile are skipped."""
        seen: set[bytes] = set()
        cursor: Any = None
        while True:
            cursor, page = yield from self._page(cursor, seen)
            for raw, key in page:
                data = yield ("GETDEL", raw)
                if data is not None:
                    return key, self._load(data, raw.decode("utf-8", "replace"))
            if cursor is None:
                raise KeyError(f"popitem(): {self._where} is empty")

    def _flow_clear(self) -> Flow[int]:
        return self._flow_after_buffer(
            plan.scan_unlink(self._pattern, self._accepts, self._count, self._chunk)
        )

    def _pairs(self, other: Any, kwargs: Mapping[str, Any]) -> list[tuple[Any, Any]]:
        """``dict.update``'s arguments as a list of pairs."""
        if isinstance(other, Mapping):
            pairs = list(other.items())
        elif hasattr(other, "keys"):
            pairs = [(key, other[key]) for key in other.keys()]  # noqa: SIM118 - as dict does
        else:
            pairs = []
            for index, item in enumerate(other):
                pair = tuple(item)
                if len(pair) != 2:
                    raise ValueError(
                        f"update sequence element #{index} has length {len(pair)}; 2 is required"
                    )
                pairs.append(pair)
        pairs.extend(kwargs.items())
        return pairs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._head}*{self._tail}>"


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
        writer = uuid.uuid4().hex if publish_events else None
        executor = SyncExecutor(built, settings.log_commands, writer, Limits.of(settings))
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
