"""redisimnest's clusters, translated into keyspace clusters when they are declared.

A subclass of :class:`BaseCluster` is compiled at class creation, with every cluster class it
nests (plain classes with ``__prefix__`` and ``__ttl__``, or ``BaseCluster`` subclasses): each
becomes a hidden :class:`keyspace.Cluster` whose keys are ``Key[RedisimnestValue]`` (stored in
redisimnest's envelope) and whose placeholders render like ``str.format`` does. Template
checks, inherited parameters and TTLs, key names, binding by call, keyword and ``[x]``, SCAN
and UNLINK are then keyspace's own. Instances are keyspace cluster handles; each declared class
gets a handle class deriving from it, so methods written on the cluster classes keep working.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, cast

import redis.asyncio
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema
from typing_extensions import Self

from .. import _keys as core_keys
from .. import _plan as plan
from .._cluster import RESERVED_NAMES, Cluster, ClusterNode
from .._errors import DeclarationError, OptionsError
from .._execute import AsyncExecutor
from .._handles import ClusterHandle, KeyHandle, Runtime
from .._pipeline import AsyncPipeline, Pending
from .._repository import _root_prefix, _runtime
from .._settings import RedisSettings
from .._template import parse_template
from ._redisimnest_keys import FIELD_NAMES, BoundKey, Key
from ._redisimnest_values import RedisimnestValue

__all__ = ["BaseCluster", "BoundCluster", "Pipeline", "RedisManager"]


AsyncClient = redis.asyncio.Redis | redis.asyncio.RedisCluster
"""The clients a root cluster accepts."""


class _Placeholder:
    """The type of every placeholder: any value, rendered as redisimnest's ``str.format`` does.

    keyspace still refuses rendered values holding ``:``, braces or glob characters.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _format, serialization=core_schema.to_string_ser_schema()
        )


def _format(value: object) -> str:
    return format(value, "")


@dataclass(frozen=True, slots=True, eq=False)
class _Record:
    """A translated cluster class."""

    source: type
    hidden: type[Cluster]
    handle: type[BoundCluster]
    keys: tuple[str, ...]  # attribute names, in declaration order
    subclusters: tuple[str, ...]


_BY_SOURCE: dict[type, _Record] = {}
_BY_HIDDEN: dict[type[Cluster], _Record] = {}
_TRANSLATING: set[type] = set()


def _members(source: type) -> dict[str, Key | type]:
    """The keys and subcluster classes of ``source``, its bases' included."""
    members: dict[str, Key | type] = {}
    for klass in reversed(source.__mro__):
        if klass is object or issubclass(BaseCluster, klass) or issubclass(klass, BoundCluster):
            continue
        for name, value in vars(klass).items():
            if name.startswith("__") and name.endswith("__"):
                continue
            if isinstance(value, Key):
                members[name] = value
            elif inspect.isclass(value):
                if not hasattr(value, "__prefix__"):
                    raise DeclarationError(
                        f"{source.__name__}.{name}: cluster {value.__name__} must define a"
                        " '__prefix__' attribute to be used as a subcluster"
                    )
                members[name] = value
            else:
                members.pop(name, None)  # a subclass replaced a key or subcluster
    return members


def _free(name: str) -> bool:
    """Whether ``name`` can be a field of a keyspace cluster model."""
    return name not in RESERVED_NAMES and not hasattr(Cluster, name)


def _field_name(name: str, taken: set[str]) -> str:
    field = name.lstrip("_") or "key"
    while field in taken or not _free(field):
        field += "_"
    return field


def _prefix(source: type, nested: bool) -> str | None:
    prefix = getattr(source, "__prefix__", None)
    if not isinstance(prefix, str):
        raise DeclarationError(f"{source.__name__}: __prefix__ must be a string, got {prefix!r}")
    if not prefix and nested:
        raise DeclarationError(
            f"{source.__name__}: a subcluster needs a non-empty __prefix__ (keyspace keeps every"
            " subcluster's keys under a prefix of its own)"
        )
    return prefix or None


def _translate(source: type, nested: bool = False) -> _Record:
    """The keyspace cluster and handle class of a redisimnest cluster class (built once)."""
    record = _BY_SOURCE.get(source)
    if record is not None:
        if nested:
            _prefix(source, nested)
        return record
    if source in _TRANSLATING:
        raise DeclarationError(f"cluster {source.__name__} contains itself")
    _TRANSLATING.add(source)
    try:
        record = _build(source, nested)
    finally:
        _TRANSLATING.discard(source)
    _BY_SOURCE[source] = _BY_HIDDEN[record.hidden] = record
    return record


def _build(source: type, nested: bool) -> _Record:
    name = source.__name__
    prefix = _prefix(source, nested)
    ttl = getattr(source, "__ttl__", None)
    members = _members(source)
    placeholders: list[str] = []
    if prefix is not None:
        placeholders.extend(parse_template(prefix, where=f"{name} __prefix__").params)
    for attr, member in members.items():
        if attr.startswith("_") and hasattr(BoundCluster, attr):
            raise DeclarationError(
                f"{name}.{attr}: the name is taken by keyspace's cluster handles; rename it"
            )
        if isinstance(member, Key):
            where = f"{name}.{attr}"
            placeholders.extend(parse_template(member.prefix_template, where=where).params)
    annotations: dict[str, Any] = {p: _Placeholder for p in dict.fromkeys(placeholders) if _free(p)}
    namespace: dict[str, Any] = {}
    taken = set(annotations)
    fields: dict[str, str] = {}
    for attr, member in members.items():
        field = fields[attr] = _field_name(attr, taken)
        taken.add(field)
        if isinstance(member, Key):
            annotations[field] = core_keys.Key[RedisimnestValue]
            namespace[field] = core_keys.Key(
                member.prefix_template,
                default=member.default,
                ttl=core_keys.INHERIT if member.ttl is None else member.ttl,
                sliding=member.ttl_auto_renew,
            )
        else:
            annotations[field] = _translate(member, nested=True).hidden
    namespace.update(
        __annotations__=annotations, __module__=source.__module__, __qualname__=source.__qualname__
    )
    options = {"prefix": prefix, "ttl": core_keys.INHERIT if ttl is None else ttl}
    # keyspace checks the declaration here: templates, sibling overlaps, TTLs.
    hidden = cast(
        "type[Cluster]", types.new_class(name, (Cluster,), options, lambda ns: ns.update(namespace))
    )
    FIELD_NAMES[hidden] = {field: attr for attr, field in fields.items()}
    shadows: dict[str, Any] = {
        attr: _Member(fields[attr], member) for attr, member in members.items()
    }
    shadows.update(__module__=source.__module__, __qualname__=source.__qualname__)
    try:
        handle: type[BoundCluster] = type(name, (BoundCluster, source), shadows)
    except TypeError:  # a base that cannot be mixed in (a layout conflict): no methods then
        handle = type(name, (BoundCluster,), shadows)
    keys = tuple(attr for attr, member in members.items() if isinstance(member, Key))
    subclusters = tuple(attr for attr in members if attr not in keys)
    return _Record(source, hidden, handle, keys, subclusters)


class _Member:
    """On a handle class, navigates from a bound cluster to one of its keys or subclusters."""

    __slots__ = ("declaration", "field")

    def __init__(self, field: str, declaration: Key | type) -> None:
        self.field = field
        self.declaration = declaration

    def __get__(self, instance: ClusterHandle | None, owner: type | None = None) -> Any:
        if instance is None:
            return self.declaration
        return ClusterHandle.__getattr__(instance, self.field)


class BoundCluster(ClusterHandle):
    """A redisimnest cluster at a position in the keyspace, bound or waiting for parameters.

    Navigate by attribute (``root.app.tokens``), bind by call, keyword or ``[x]``
    (``root.user(1)``, ``root.user(user_id=1)``, ``root.user[1]``).
    """

    __slots__ = ()
    _rt: Runtime[AsyncExecutor]
    _key_classes: ClassVar[dict[type[Any], type[KeyHandle[Any]]]] = {core_keys.Key: BoundKey}

    def __new__(
        cls,
        node: Any,
        parent_prefix: str,
        prefix: str | None,
        values: dict[str, str],
        runtime: Runtime[Any],
    ) -> Self:
        # Navigation builds handles of the cluster's own class, found from its node.
        handle = object.__new__(_BY_HIDDEN[node.spec.cls].handle)
        ClusterHandle.__init__(handle, node, parent_prefix, prefix, values, runtime)
        return cast(Self, handle)

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Initialised by ``__new__`` (and by ``BaseCluster(...)`` for a root)."""

    @classmethod
    def _for_node(cls, node: ClusterNode) -> type[ClusterHandle]:
        return cls  # __new__ builds the handle class of the node's own cluster

    def __call__(self, *args: object, **kwargs: object) -> BoundCluster:
        """Bind the cluster's placeholders, positionally in template order or by name."""
        if not args and not kwargs and (not self._node.own_params or self._prefix is not None):
            return self
        return cast(BoundCluster, super().__call__(*args, **kwargs))

    def __getitem__(self, item: object) -> BoundCluster:
        """Bind the cluster's single placeholder: ``root.user[123]``."""
        return cast(BoundCluster, super().__getitem__(item))

    @property
    def redis(self) -> Any:
        """The ``redis.asyncio`` client of the root cluster."""
        return self._rt.executor.client

    def describe(self) -> dict[str, Any]:
        """The cluster's prefix template, its parameters (and which are missing), subcluster
        names and key names, as redisimnest describes them."""
        template = self._node.spec.prefix
        params = list(template.params) if template is not None else []
        bound = self._values
        record = _BY_HIDDEN[self._node.spec.cls]
        return {
            "prefix": template.text if template is not None else "",
            "params": params,
            "missing_params": [p for p in params if p not in bound],
            "subclusters": list(record.subclusters),
            "keys": list(record.keys),
        }

    async def subkeys(self) -> list[str]:
        """Every key under this cluster's prefix (``SCAN prefix:*``)."""
        return [key async for key in self._rt.executor.stream(self._subkeys_flow())]

    async def clear(self) -> int:
        """Delete every key under this cluster's prefix (what ``subkeys()`` lists); how many.

        ``root.user(1).clear()`` deletes ``root:user:1:*``, never the keys of ``user(10)``.
        """
        prefix = self._require_bound()
        if not prefix:
            raise OptionsError(
                f"cluster {self._node.name} has no prefix, so clear() would reach every key"
                " in the database; give the root cluster a __prefix__"
            )
        rt = self._rt
        flow = plan.scan_unlink(f"{prefix}:*", _everything, rt.scan_count, rt.chunk)
        return await rt.executor.run(flow)

    def __repr__(self) -> str:
        shown = self._prefix if self._prefix is not None else self._node.template_path()
        return f"<{self._node.name} {shown!r}>"

    def get_pipeline(self) -> Pipeline:
        """A pipeline (a MULTI/EXEC transaction) for key methods: ``add(key.set, 1)``."""
        return Pipeline(self)


BoundCluster._cluster_class = BoundCluster


def _everything(key: str) -> bool:
    return True


class BaseCluster:
    """The root of a redisimnest keyspace: ``RootCluster(redis_client=client)``.

    Subclasses declare ``__prefix__`` (with ``{placeholders}``), an optional ``__ttl__`` in
    seconds, :class:`Key` attributes and subclusters (classes with their own ``__prefix__``).
    The declaration is checked when the class is created.

    Args:
        redis_client: a ``redis.asyncio`` client; ``RedisManager.get_client()`` when omitted.
        inherited_params: values of the root prefix's placeholders.
        settings: the keyspace settings to use (scan count, delete chunk size, logging).
    """

    __prefix__: ClassVar[str] = "base"
    __ttl__: ClassVar[int | timedelta | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not issubclass(cls, BoundCluster):  # not one of the handle classes made here
            _translate(cls)

    def __new__(
        cls,
        redis_client: AsyncClient | None = None,
        inherited_params: dict[str, Any] | None = None,
        _parent: object = None,
        *,
        settings: RedisSettings | None = None,
    ) -> Self:
        record = _translate(cls)
        settings = settings if settings is not None else RedisSettings()
        client = redis_client if redis_client is not None else RedisManager.get_client()
        runtime = _runtime(AsyncExecutor.of(client, settings), settings)
        node, prefix = _root_prefix(record.hidden, None)
        root: BoundCluster = BoundCluster(node, "", prefix, {}, runtime)
        if inherited_params:  # values for the root's placeholders (others are ignored)
            own = {p.name for p in node.own_params}
            root = root(**{k: v for k, v in inherited_params.items() if k in own})
        return cast(Self, root)


class Pipeline:
    """Queue key methods and send them in one MULTI/EXEC: ``add(key.method, *args)``.

    ``pipe.add(root.user(1).age.set, 30)``, ``pipe.add(root.user(1).age.get)``, then
    ``await pipe.execute()`` returns every result in order (a ``get`` decoded, with the key's
    default when missing). ``add`` returns a :class:`~keyspace.Pending` holding the result.
    """

    __slots__ = ("_pipeline",)

    def __init__(self, cluster: BoundCluster) -> None:
        self._pipeline = AsyncPipeline(cluster, transaction=True)

    def add(self, method_call: Callable[..., Any], *args: Any, **kwargs: Any) -> Pending[Any]:
        """Queue ``method_call(*args, **kwargs)``, a method of a bound key, without sending it."""
        key = getattr(method_call, "__self__", None)
        name = getattr(method_call, "__name__", "")
        build = getattr(key, f"_rin_{name}", None) if isinstance(key, BoundKey) else None
        if build is None:
            raise TypeError(
                f"add() takes a key method such as root.user(1).age.set, got {method_call!r}"
            )
        return self._pipeline.queue(build(*args, **kwargs))

    async def execute(self) -> list[Any]:
        """Send the queued commands; their results in order."""
        return await self._pipeline.execute()

    def __len__(self) -> int:
        return len(self._pipeline)


class RedisManager:
    """The shared ``redis.asyncio`` client, built once from the ``REDIS_*`` settings.

    ``REDIS_URL`` (or ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_USERNAME``, ``REDIS_PASS`` ...), as
    :class:`~keyspace.RedisSettings` reads them; ``memory://`` gives the in-memory Redis. The
    client decodes responses to ``str``, as redisimnest's does, unless ``REDIS_DECODE_RESPONSES``
    says otherwise.
    """

    _client: ClassVar[AsyncClient | None] = None

    @classmethod
    def get_client(cls) -> AsyncClient:
        """The shared client, created on first use."""
        if cls._client is None:
            settings = RedisSettings()
            if "decode_responses" not in settings.model_fields_set:
                settings = settings.model_copy(update={"decode_responses": True})
            cls._client = settings.async_client()
        return cls._client

    @classmethod
    async def close_client(cls) -> None:
        """Close the shared client; the next ``get_client()`` builds a new one."""
        client, cls._client = cls._client, None
        if client is not None:
            await client.aclose()
