"""Binding: the flavour-independent half of the bound cluster and key handles.

``repo.user`` is a cluster handle waiting for its parameters, ``repo.user(1)``
a bound one, ``repo.user(1).age`` a key handle. Handles are immutable and
cheap: binding renders strings and allocates one small object. The I/O
methods live in the async and sync subclasses (``_repository``), which only
hand plans from ``_plan`` to their executor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar, Generic, TypeVar, get_origin

from pydantic import BaseModel
from typing_extensions import Self

from . import _plan as plan
from ._cluster import ClusterNode, KeyNode
from ._crypto import Keyring
from ._errors import BindingError, OptionsError, TTLError
from ._events import Source, key_specs, spec_decoder, subscription
from ._keys import INHERIT, Inherit, TTLArg, ttl_ms
from ._plan import Batch, Call, Command, Flow, Op
from ._slots import slot_of
from ._template import bind, bind_item
from ._whole import clear_flow, instances_flow, load_op, save_op

__all__ = ["ClusterHandle", "KeyHandle", "Runtime", "expose_members"]

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R")
X = TypeVar("X")


class Runtime(Generic[E]):
    """What every handle of one repository shares: the executor and the settings it needs."""

    __slots__ = ("chunk", "default_ttl_ms", "executor", "keyring", "scan_count")

    def __init__(
        self,
        executor: E,
        default_ttl_ms: int | None,
        scan_count: int,
        chunk: int,
        keyring: Keyring | None = None,
    ):
        self.executor = executor
        self.default_ttl_ms = default_ttl_ms
        self.scan_count = scan_count
        self.chunk = chunk
        # SecretKey values are encrypted with it; without keys, they fail when used.
        self.keyring = keyring if keyring is not None else Keyring()

    def with_executor(self, executor: X) -> Runtime[X]:
        """The same settings around another executor (a pipeline's queue, say)."""
        copy: Runtime[X] = Runtime.__new__(Runtime)
        for name in Runtime.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.executor = executor
        return copy


def _join(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if prefix else name


class KeyHandle(Generic[T]):
    """A key at a bound position; ``key`` is its full Redis name."""

    __slots__ = ("_name", "_node", "_prefix", "_rt", "_values")

    def __init__(
        self,
        node: KeyNode,
        prefix: str,
        name: str | None,
        values: dict[str, str],
        runtime: Runtime[Any],
    ) -> None:
        self._node = node
        self._prefix = prefix
        self._name = name
        self._values = values
        self._rt = runtime

    @property
    def key(self) -> str:
        """The full Redis key name, e.g. ``"root:user:1:age"``."""
        name = self._name
        if name is None:
            raise BindingError(
                f"{self._node.where}: missing parameter(s)"
                f" {', '.join(repr(p.name) for p in self._node.own_params)}; bind them with"
                f" .{self._node.spec.name}(...) or .{self._node.spec.name}[...]"
            )
        return name

    def __call__(self, *args: object, **kwargs: object) -> Self:
        """Bind the key's own placeholders, positionally in template order or by name."""
        values = bind(
            self._own(),
            self._values,
            args,
            kwargs,
            self._node.where,
            self._node.cluster.path_params,
        )
        return self._bound(values)

    def __getitem__(self, item: object) -> Self:
        """Bind the key's single placeholder: ``messages.message[5]``."""
        return self._bound(bind_item(self._own(), self._values, item, self._node.where))

    def _own(self) -> tuple[Any, ...]:
        if not self._node.own_params:
            raise BindingError(f"{self._node.where} has no parameters to bind")
        if self._name is not None:
            raise BindingError(f"{self._node.where}: parameters are already bound ({self._name!r})")
        return self._node.own_params

    def _bound(self, values: dict[str, str]) -> Self:
        name = _join(self._prefix, self._node.spec.template.render(values))
        return type(self)(self._node, self._prefix, name, values, self._rt)

    def _ttl(self, ttl: TTLArg) -> int | None:
        """Resolve a TTL: the call's, the key's, its clusters', the settings default."""
        ms = ttl_ms(ttl, f"{self._node.where} ttl") if ttl is not INHERIT else self._node.ttl
        return self._rt.default_ttl_ms if isinstance(ms, Inherit) else ms

    def _with_ttl(
        self, name: str, commands: tuple[Command, ...], ttl: TTLArg = INHERIT
    ) -> tuple[Command, ...]:
        """Write commands followed by the expiry they owe (sent in the same MULTI/EXEC)."""
        ms = self._ttl(ttl)
        if ms is None:
            return (*commands, ("PERSIST", name))
        return (*commands, plan.expire(name, ms).command)

    @property
    def _kind(self) -> str:
        return self._node.spec.kind_name

    def _loader(self) -> Callable[[Any], Any]:
        """Decode one stored value or member of this key, naming it in errors."""
        name = self.key
        load = self._node.spec.codec.load
        return lambda data: load(data, key=name)

    def _write(self, commands: tuple[Command, ...], parse: Callable[[list[Any]], R]) -> Batch[R]:
        """Write commands and the expiry they owe, in one MULTI/EXEC."""
        name = self.key
        return Batch(self._with_ttl(name, commands), parse, name, self._kind)

    def _read(self, command: Command, parse: Callable[[Any], R]) -> Op[R]:
        """A read; with ``sliding=True`` the key's TTL is renewed in the same MULTI/EXEC."""
        name = self.key
        if self._node.spec.sliding:
            ms = self._ttl(INHERIT)
            if ms is not None:
                renew = plan.expire(name, ms).command
                return Batch((command, renew), lambda replies: parse(replies[0]), name, self._kind)
        return Call(command, parse, name, self._kind)

    # -- operations every kind shares (the façades in _facade run them) ---------------

    def _op_delete(self) -> Call[bool]:
        return plan.delete(self.key)

    def _op_exists(self) -> Call[bool]:
        return plan.exists(self.key)

    def _op_expire(self, ttl: int | float | timedelta) -> Call[bool]:
        return plan.expire(self.key, self._expiry(ttl))

    def _op_persist(self) -> Call[bool]:
        return plan.persist(self.key)

    def _op_ttl(self) -> Call[float | None]:
        return plan.ttl(self.key)

    def _op_the_type(self) -> Call[type | None]:
        spec = self._node.spec
        python_type = get_origin(spec.annotation) or spec.annotation
        return plan.kind_type(self.key, self._kind, spec.kind.redis_type, python_type)

    def _expiry(self, ttl: int | float | timedelta) -> int:
        ms = ttl_ms(ttl, f"{self._node.where} expire")
        if not isinstance(ms, int):
            raise TTLError(
                f"{self._node.where}: expire() needs a positive duration, got {ttl!r};"
                " use persist() to remove the expiry"
            )
        return ms

    def __repr__(self) -> str:
        shown = (
            self._name if self._name is not None else f"<unbound {self._node.spec.template.text}>"
        )
        return f"<{type(self).__name__} {shown!r}: {self._node.spec.annotation!r}>"


class _Member:
    """A key or nested cluster of a node, as an attribute of the node's handle class.

    ``handle.age`` is then found by one class lookup; ``__getattr__`` is reached only
    after a failed lookup, which costs CPython 3.11 about eight times as much.
    """

    __slots__ = ("literal", "name")

    def __init__(self, name: str, node: ClusterNode) -> None:
        self.name = name
        key = node.keys.get(name)
        # The hot path, repo.user(1).age: a literal key of a cluster with parameters, whose
        # bound handles are made afresh (static clusters cache what they navigate to).
        fresh = key is not None and key.literal is not None and bool(node.own_params)
        self.literal = key if fresh else None

    def __get__(self, handle: ClusterHandle | None, owner: type | None = None) -> Any:
        if handle is None:
            return self
        key = self.literal
        prefix = handle._prefix
        if key is None or prefix is None:
            return handle._navigate(self.name)
        name = f"{prefix}:{key.literal}"
        return handle._key_classes[key.spec.kind](key, prefix, name, handle._values, handle._rt)


class ClusterHandle:
    """A cluster at a position in the keyspace, bound or waiting for parameters."""

    __slots__ = ("_cache", "_node", "_parent_prefix", "_prefix", "_rt", "_values")
    # The flavour's classes: navigation builds these, also from a repository.
    _key_classes: ClassVar[dict[type[Any], type[KeyHandle[Any]]]]
    _cluster_class: ClassVar[type[ClusterHandle]]

    def __init__(
        self,
        node: ClusterNode,
        parent_prefix: str,
        prefix: str | None,
        values: dict[str, str],
        runtime: Runtime[Any],
    ) -> None:
        self._node = node
        self._parent_prefix = parent_prefix
        self._prefix = prefix
        self._values = values
        self._rt = runtime
        self._cache: dict[str, Any] | None = None  # made on first navigation

    @classmethod
    def _for_node(cls, node: ClusterNode) -> type[ClusterHandle]:
        """The class of ``node``'s handles: ``cls`` with an attribute per key and nested
        cluster of the node (but names ``cls`` has already, which keep their meaning)."""
        made = node.handle_classes.get(cls)
        if made is None:
            members = {
                name: _Member(name, node)
                for name in (*node.keys, *node.children)
                if not hasattr(cls, name)
            }
            namespace = {"__slots__": (), "__module__": cls.__module__, **members}
            made = node.handle_classes[cls] = type(cls.__name__, (cls,), namespace)
        return made

    def __getattr__(self, name: str) -> Any:
        return self._navigate(name)

    def _navigate(self, name: str) -> Any:
        """The key or nested cluster ``name`` below this cluster."""
        cache = self._cache
        if cache is not None:
            found = cache.get(name)
            if found is not None:
                return found
        node = self._node
        key = node.keys.get(name)
        child = node.children.get(name) if key is None else None
        if key is None and child is None:
            raise AttributeError(
                f"cluster {node.name} has no key or nested cluster {name!r}"
                f" (keys: {', '.join(node.keys) or 'none'};"
                f" clusters: {', '.join(node.children) or 'none'})"
            )
        prefix = self._require_bound()
        values = self._values
        handle: Any
        full: str | None = None
        if key is not None:
            if key.literal is not None:
                full = _join(prefix, key.literal)
            elif not key.own_params:
                full = _join(prefix, key.spec.template.render(values))
            handle = self._key_classes[key.spec.kind](key, prefix, full, values, self._rt)
        else:
            assert child is not None  # one of the two was found
            if not child.own_params:
                full = _join(prefix, child.render_prefix(values))
            handle = self._cluster_class._for_node(child)(child, prefix, full, values, self._rt)
        if not node.own_params:
            # Static clusters (the repository, repo.app) are navigated again and again;
            # a bound repo.user(1) is usually used once, so caching would only cost.
            if cache is None:
                cache = self._cache = {}
            cache[name] = handle
        return handle

    def __call__(self, *args: object, **kwargs: object) -> ClusterHandle:
        """Bind the cluster's placeholders: ``repo.user(1)`` or ``repo.user(user_id=1)``."""
        node = self._node
        affixes = node.affixes
        if affixes is not None and len(args) == 1 and not kwargs and self._prefix is None:
            # The common case, without the general checks: repo.user(1).
            param = node.own_params[0]
            text = param.render(args[0])
            values = {**self._values, param.name: text}
            head, tail = affixes
            parent = self._parent_prefix
            prefix = f"{parent}:{head}{text}{tail}" if parent else f"{head}{text}{tail}"
            flavour = self._cluster_class
            made: type[ClusterHandle] = node.handle_classes.get(flavour) or flavour._for_node(node)
            return made(node, parent, prefix, values, self._rt)
        values = bind(
            self._own(), self._values, args, kwargs, self._node.where, self._node.path_params
        )
        return self._bound(values)

    def __getitem__(self, item: object) -> ClusterHandle:
        """Bind the cluster's single placeholder: ``repo.user[1]``."""
        return self._bound(bind_item(self._own(), self._values, item, self._node.where))

    def _own(self) -> tuple[Any, ...]:
        if not self._node.own_params:
            raise BindingError(f"{self._node.where} has no parameters to bind")
        if self._prefix is not None:
            raise BindingError(
                f"{self._node.where}: parameters are already bound ({self._prefix!r})"
            )
        return self._node.own_params

    def _bound(self, values: dict[str, str]) -> ClusterHandle:
        prefix = _join(self._parent_prefix, self._node.render_prefix(values))
        made = self._cluster_class._for_node(self._node)
        return made(self._node, self._parent_prefix, prefix, values, self._rt)

    def _require_bound(self) -> str:
        prefix = self._prefix
        if prefix is None:
            missing = ", ".join(repr(p.name) for p in self._node.own_params)
            raise BindingError(
                f"{self._node.where}: missing parameter(s) {missing}; bind them first"
                f" with {'.' + self._node.field_name if self._node.field_name else 'repo'}(...)"
                " or [...]"
            )
        return prefix

    def get_full_prefix(self) -> str:
        """The bound prefix, e.g. ``"root:user:1"``."""
        return self._require_bound()

    def describe(self) -> dict[str, Any]:
        """This cluster's declared keyspace as plain data, with resolved TTLs."""
        return self._node.describe(self._rt.default_ttl_ms)

    def _subkeys_flow(self) -> Flow[None]:
        prefix = self._require_bound()
        # The separator before '*' keeps user(1) away from user(10) and
        # "root" away from "rootbeer"; values never contain glob characters.
        return plan.scan_keys(f"{prefix}:*" if prefix else "*", self._rt.scan_count)

    def _clear_flow(self) -> Flow[int]:
        prefix = self._require_bound()
        if not prefix:
            raise OptionsError(
                f"cluster {self._node.name} has no prefix, so clear() would reach every key"
                " in the database; give the root cluster a prefix"
            )
        rt = self._rt
        by_slot = slot_of if rt.executor.cluster else None
        return clear_flow(self._node, prefix, self._values, rt.scan_count, rt.chunk, by_slot)

    def _static_keys(self) -> dict[str, KeyHandle[Any]]:
        keys = self._node.keys
        return {name: getattr(self, name) for name, key in keys.items() if not key.own_params}

    def _op_load(self) -> Batch[BaseModel]:
        prefix = self._require_bound()
        multi_get = not self._rt.executor.cluster
        return load_op(self._node, prefix, self._values, self._navigate, multi_get)

    def _op_save(self, snapshot: BaseModel | Mapping[str, Any]) -> Batch[None]:
        self._require_bound()
        return save_op(self._node, self._static_keys(), snapshot)

    def _instances_flow(self) -> Flow[None]:
        if not self._node.own_params or self._prefix is not None:
            raise BindingError(
                f"{self._node.where}: instances() lists the instances of a cluster"
                " whose parameters are not bound, such as repo.user.instances()"
            )
        return instances_flow(self._node, self._parent_prefix, self._values, self._rt.scan_count)

    def _subscription(self, pattern: str, source: Source) -> tuple[str, Any]:
        """The channel pattern to subscribe to, and a parser of its messages."""
        prefix = self._require_bound()
        keys = f"{prefix}:{pattern}" if prefix else pattern
        decode = spec_decoder(key_specs(self._node, prefix, self._values))
        return subscription(keys, source, self._rt.executor.client, decode)

    def _instance(self, found: dict[str, str]) -> ClusterHandle:
        """The bound handle of an instance found by ``instances()`` (values parsed back)."""
        params = {}
        for param in self._node.own_params:
            segment = found[param.name]
            value = param.parse(segment)
            if param.render(value) != segment:  # "007" is not how user(7) is written
                raise ValueError(f"{segment!r} is not a canonical {param.name}")
            params[param.name] = value
        return self(**params)

    def __repr__(self) -> str:
        shown = (
            self._prefix if self._prefix is not None else f"<unbound {self._node.template_path()}>"
        )
        return f"<{type(self).__name__} {self._node.name} {shown!r}>"


def expose_members(target: Any, root: ClusterHandle) -> None:
    """Make the keys and clusters below ``root`` attributes of ``target`` itself (a
    repository, a pipeline): ``repo.user`` is then an instance-dict lookup instead of a
    failed lookup and ``__getattr__``. Names ``target``'s class has already (its methods)
    keep their meaning, as they do with ``__getattr__``."""
    if root._prefix is None:  # a root with parameters: nothing to reach before binding
        return
    node = root._node
    for name in (*node.keys, *node.children):
        if not hasattr(type(target), name):
            target.__dict__[name] = root._navigate(name)
