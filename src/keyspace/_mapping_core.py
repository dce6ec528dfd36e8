"""The sans-IO core shared by the dict views :class:`KeyspaceDict` and :class:`AsyncKeyspaceDict`.

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
from collections.abc import (
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
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
)

from typing_extensions import Self

from . import _plan as plan
from ._codec import Codec, codec_for
from ._errors import InvalidParameterError
from ._events import KeyEvent, Source, event_key, subscription
from ._keys import INHERIT, TTLArg, ttl_ms
from ._plan import Batch, Call, Command, Emit, Flow, Op, Scan
from ._settings import RedisSettings
from ._slots import slot_of
from ._template import SEPARATOR, VALUE_REGEX, Param, Template, make_param

if TYPE_CHECKING:
    from ._handles import Runtime

__all__ = ["MappingCore", "family_bounds", "glob_escape"]

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
            expiry = () if ms is None else plan.ex_px(ms)
            return (("SET", name, data, *expiry),)
        if ms is None:
            return (("SET", name, data, "KEEPTTL"),)
        # A new entry gets the default TTL, an existing one keeps its own (or none).
        expiry = plan.ex_px(ms)
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
        expiry = () if ms is None else plan.ex_px(ms)
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
            # On Redis Cluster (no atomic batches there), UNLINKs keep to one slot each.
            plan.scan_unlink(
                self._pattern,
                self._accepts,
                self._count,
                self._chunk,
                None if self._atomic else slot_of,
            )
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
