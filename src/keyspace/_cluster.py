"""``Cluster``: a pydantic model class that declares a part of the keyspace.

Declaring a cluster compiles it once, at class creation, into a
:class:`ClusterSpec` (its templates, keys, child clusters and typed
placeholders). A tree of :class:`ClusterNode` objects, one per path from a
root, resolves what depends on the path: inherited parameters and TTLs.
Everything a request needs is precomputed here so that binding
``repo.user(1).age`` only renders strings.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticUndefined

from ._codec import Codec, codec_for
from ._errors import DeclarationError
from ._keys import INHERIT, MISSING, HashKey, Inherit, Key, TTLArg, ttl_ms
from ._template import Param, Template, make_param, overlaps, parse_template

__all__ = ["RESERVED_NAMES", "Cluster", "ClusterNode", "ClusterSpec", "KeyNode", "KeySpec"]

# Attributes of bound handles; a field with one of these names would be
# unreachable through ``repo.<cluster>.<name>``.
RESERVED_NAMES = frozenset(
    {
        "aclose",
        "clear",
        "client",
        "close",
        "describe",
        "enable_keyspace_notifications",
        "events",
        "get_full_prefix",
        "instances",
        "load",
        "pipeline",
        "save",
        "subkeys",
        "update",
        "writer_id",
    }
)

_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, tuple, frozenset)


@dataclass(frozen=True, slots=True, eq=False)
class KeySpec:
    """A compiled key declaration (independent of where its cluster is nested)."""

    name: str
    kind: type[Key[Any]]
    template: Template
    annotation: Any  # what get() returns
    member: Any  # the declared type argument: value, member or model
    codec: Codec[Any]  # encodes the value (strings, counters) or one member (collections)
    default: Any
    ttl: int | Inherit | None
    sliding: bool
    fields: dict[str, Codec[Any]]  # per model field, for hashes
    kind_name: str  # "ListKey[int]", "Counter": names the kind in error messages

    def fresh_default(self) -> Any:
        """A copy of the declared default that callers may mutate freely."""
        default = self.default
        return default if isinstance(default, _IMMUTABLE) else copy.deepcopy(default)

    @property
    def default_factory(self) -> Callable[[], Any] | None:
        """``fresh_default``, or ``None`` when the key declares no default."""
        return None if self.default is MISSING else self.fresh_default


@dataclass(frozen=True, slots=True, eq=False)
class ClusterSpec:
    """A compiled cluster declaration."""

    cls: type[Cluster]
    prefix: Template | None
    ttl: int | Inherit | None
    keys: dict[str, KeySpec]
    children: dict[str, type[Cluster]]
    param_types: dict[str, Any]
    hash_tag: bool


class Cluster(BaseModel):
    """Base class of keyspace declarations.

    Subclass it with class keywords ``prefix`` (a template such as
    ``"user:{user_id}"``), ``ttl`` (seconds, ``timedelta`` or ``None``) and
    ``hash_tag`` (Redis Cluster: wrap the rendered prefix in braces, so that
    every key of one bound instance shares a hash slot: ``root:{user:1}:age``);
    annotate keys as ``Key[T]`` and nested clusters with their class.
    Annotate a placeholder's name (``user_id: int``) to type the parameter.
    """

    model_config = ConfigDict(
        ignored_types=(Key,), arbitrary_types_allowed=True, protected_namespaces=()
    )

    __keyspace__: ClassVar[ClusterSpec]
    __keyspace_options__: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(
        cls,
        *,
        prefix: str | None = None,
        ttl: TTLArg = INHERIT,
        hash_tag: bool = False,
        **kwargs: Any,
    ) -> None:
        # Class keywords reach both hooks; consume them here so that
        # pydantic's own ``__init_subclass__`` does not see them.
        super().__init_subclass__(**kwargs)
        cls.__keyspace_options__ = {"prefix": prefix, "ttl": ttl, "hash_tag": hash_tag}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_complete__:
            cls.__keyspace__ = _compile(cls)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The declared keyspace below this class, as plain data (see ``ClusterNode.describe``)."""
        return root_node(cls).describe(default_ttl_ms=INHERIT)


def spec_of(cls: type[Cluster]) -> ClusterSpec:
    """The compiled spec of ``cls``, compiling it now if forward references delayed it."""
    spec = cls.__dict__.get("__keyspace__")
    if spec is None:
        if not cls.__pydantic_complete__ and not cls.model_rebuild(raise_errors=False):
            raise DeclarationError(
                f"{cls.__name__}: annotations could not be resolved; define the classes they"
                " name first, or call model_rebuild()"
            )
        spec = cls.__keyspace__ = _compile(cls)
    return spec


_COMPILING: set[type[Cluster]] = set()  # the classes being compiled, to catch cycles


def _compile(cls: type[Cluster]) -> ClusterSpec:
    options = cls.__keyspace_options__
    name = cls.__name__
    for attr, value in cls.__dict__.items():
        if isinstance(value, Key) and attr not in cls.model_fields:
            raise DeclarationError(f"{name}.{attr}: a key needs a type, e.g. '{attr}: Key[int]'")
    prefix = options["prefix"]
    prefix_template = None if prefix is None else parse_template(prefix, where=f"{name} prefix")
    cluster_ttl = ttl_ms(options["ttl"], f"{name} ttl")

    keys: dict[str, KeySpec] = {}
    children: dict[str, type[Cluster]] = {}
    typed: dict[str, Any] = {}
    for field_name, info in cls.model_fields.items():
        where = f"{name}.{field_name}"
        annotation = info.annotation
        if field_name in RESERVED_NAMES:
            raise DeclarationError(
                f"{where}: the name {field_name!r} shadows the bound-cluster attribute of the"
                " same name; rename the field (the key's template can keep the name)"
            )
        if _is_key(annotation):
            keys[field_name] = _compile_key(field_name, annotation, info.default, where)
        elif isinstance(annotation, type) and issubclass(annotation, Cluster):
            if annotation is cls or annotation in _COMPILING:
                raise DeclarationError(f"{where}: cluster {annotation.__name__} contains itself")
            _COMPILING.add(cls)
            try:
                child = spec_of(annotation)
            finally:
                _COMPILING.discard(cls)
            if child.prefix is None:
                raise DeclarationError(
                    f"{where}: nested cluster {annotation.__name__} has no prefix; declare it"
                    f" with 'class {annotation.__name__}(Cluster, prefix=...)'"
                )
            children[field_name] = annotation
        else:
            typed[field_name] = annotation

    placeholders = set(prefix_template.params if prefix_template else ())
    for key in keys.values():
        placeholders.update(key.template.params)
    for field_name in typed:
        if field_name not in placeholders:
            raise DeclarationError(
                f"{name}.{field_name}: not a Key[...], a nested Cluster, or the type of one of"
                f" this cluster's placeholders ({', '.join(sorted(placeholders)) or 'none'})"
            )
    _check_siblings(name, keys, children)
    hash_tag = bool(options["hash_tag"])
    if hash_tag and prefix_template is None:
        raise DeclarationError(f"{name}: hash_tag=True needs a prefix to tag")
    return ClusterSpec(cls, prefix_template, cluster_ttl, keys, children, typed, hash_tag)


def _with_metadata(annotation: Any, metadata: list[Any]) -> Any:
    """The annotation with a model field's constraints, so field writes check them too."""
    annotated: Any = Annotated
    args = (annotation, *metadata)
    return annotated[args] if metadata else annotation


def _is_key(annotation: Any) -> bool:
    kind = get_origin(annotation) or annotation
    return isinstance(kind, type) and issubclass(kind, Key)


def _compile_key(field_name: str, annotation: Any, declared: Any, where: str) -> KeySpec:
    kind = get_origin(annotation) or annotation
    args = get_args(annotation)
    member = args[0] if args else kind.fixed_type
    if member is None:
        raise DeclarationError(f"{where}: a key needs a type, e.g. '{field_name}: Key[int]'")
    if issubclass(kind, HashKey) and not (
        isinstance(member, type) and issubclass(member, BaseModel)
    ):
        raise DeclarationError(f"{where}: HashKey needs a pydantic model, got {member!r}")
    options = declared if isinstance(declared, Key) else Key(default=declared)
    default = MISSING if options.default is PydanticUndefined else options.default
    value_type = kind.value_type(member)
    template = parse_template(options.template or field_name, where=where)
    codec = codec_for(member, strict=options.strict)
    if default is MISSING:
        default = kind.implicit_default()
    else:
        try:
            default = codec_for(value_type, strict=options.strict).validate(default)
        except ValueError as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            shown = "<redacted>" if kind.secret else repr(default)
            raise DeclarationError(
                f"{where}: default {shown} is not a valid {_type_repr(value_type)}: {reason}"
            ) from None
    fields: dict[str, Codec[Any]] = {}
    if issubclass(kind, HashKey):
        fields = {
            name: codec_for(_with_metadata(info.annotation, info.metadata), strict=options.strict)
            for name, info in member.model_fields.items()
        }
    ttl = ttl_ms(options.ttl, f"{where} ttl")
    return KeySpec(
        field_name,
        kind,
        template,
        value_type,
        member,
        codec,
        default,
        ttl,
        options.sliding,
        fields,
        kind.__name__ if args == () else f"{kind.__name__}[{_type_repr(member)}]",
    )


def _check_siblings(
    name: str, keys: dict[str, KeySpec], children: dict[str, type[Cluster]]
) -> None:
    members: list[tuple[str, Template, bool]] = [
        (key_name, spec.template, False) for key_name, spec in keys.items()
    ]
    for child_name, child in children.items():
        prefix = spec_of(child).prefix
        assert prefix is not None  # checked by the caller
        members.append((child_name, prefix, True))
    for i, (a_name, a, a_prefix) in enumerate(members):
        for b_name, b, b_prefix in members[i + 1 :]:
            if overlaps(a, a_prefix, b, b_prefix):
                raise DeclarationError(
                    f"{name}: {a_name!r} ({a.text!r}) and {b_name!r} ({b.text!r}) can produce"
                    " the same key names; give them distinct literal segments"
                )


@dataclass(eq=False, slots=True)
class KeyNode:
    """A key at one position in a keyspace tree."""

    spec: KeySpec
    cluster: ClusterNode
    own_params: tuple[Param, ...]
    ttl: int | Inherit | None  # resolved through the clusters; INHERIT = settings default
    literal: str | None  # the rendered template when it has no own placeholders

    @property
    def where(self) -> str:
        """The key and its template, for error messages."""
        cluster = self.cluster.spec.cls.__name__
        return f"key {cluster}.{self.spec.name} (template {self.spec.template.text!r})"


@dataclass(eq=False, slots=True)
class ClusterNode:
    """A cluster at one position in a keyspace tree (a class may appear at several)."""

    spec: ClusterSpec
    parent: ClusterNode | None
    field_name: str  # the attribute that reaches it from its parent ("" for a root)
    own_params: tuple[Param, ...]
    path_params: frozenset[str]  # every placeholder bound once this cluster is bound
    ttl: int | Inherit | None
    keys: dict[str, KeyNode] = field(default_factory=dict)
    children: dict[str, ClusterNode] = field(default_factory=dict)
    snapshot: type[BaseModel] | None = None  # built by _whole.snapshot_model on first use
    # What surrounds the value of a prefix with exactly one placeholder, braces included:
    # ("user:", "") for "user:{user_id}". Binding it is a concatenation (the hot path).
    affixes: tuple[str, str] | None = field(init=False, default=None)
    # The handle classes of this node, one per flavour (see ClusterHandle._for_node).
    handle_classes: dict[type, type] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        template = self.spec.prefix
        if template is not None and len(template.parts) == 3 and len(self.own_params) == 1:
            head, _, tail = template.parts
            self.affixes = ("{" + head, tail + "}") if self.spec.hash_tag else (head, tail)

    @property
    def name(self) -> str:
        return self.spec.cls.__name__

    @property
    def where(self) -> str:
        prefix = self.spec.prefix
        shown = f"{self.name} (template {prefix.text!r})" if prefix else self.name
        return f"cluster {shown}"

    def render_prefix(self, values: Mapping[str, str], missing: str | None = None) -> str:
        """This cluster's own part of the key prefix (braced when it is a hash tag)."""
        template = self.spec.prefix
        assert template is not None  # only the root may lack one, and it is never rendered
        text = template.render(values, missing)
        return f"{{{text}}}" if self.spec.hash_tag else text

    def prefix_regex(self, values: Mapping[str, str], capture: bool = False) -> str:
        """A regex for this cluster's own part of the key prefix (see ``Template.regex``)."""
        template = self.spec.prefix
        assert template is not None
        source = template.regex(values, capture)
        return re.escape("{") + source + re.escape("}") if self.spec.hash_tag else source

    def template_path(self) -> str:
        """The full prefix template from the root, e.g. ``root:user:{user_id}``."""
        parts: list[str] = []
        node: ClusterNode | None = self
        while node is not None:
            if node.spec.prefix is not None:
                parts.append(node.spec.prefix.text)
            node = node.parent
        return ":".join(reversed(parts))

    def describe(self, default_ttl_ms: int | Inherit | None) -> dict[str, Any]:
        """Prefix template, parameters, keys (types, templates, resolved TTLs) and subclusters."""
        full = self.template_path()

        def ttl_of(ms: int | Inherit | None) -> float | str | None:
            if isinstance(ms, Inherit):
                ms = default_ttl_ms
            if isinstance(ms, Inherit):
                return "default"
            return None if ms is None else _seconds(ms)

        return {
            "cluster": self.name,
            "prefix": full,
            "params": [p.name for p in self.own_params],
            "ttl": ttl_of(self.ttl),
            "hash_tag": self.spec.hash_tag,
            "keys": {
                name: {
                    "key": f"{full}:{key.spec.template.text}" if full else key.spec.template.text,
                    "type": _type_repr(key.spec.annotation),
                    "params": [p.name for p in key.own_params],
                    "default": _shown_default(key.spec),
                    "has_default": key.spec.default is not MISSING,
                    "ttl": ttl_of(key.ttl),
                }
                for name, key in self.keys.items()
            },
            "clusters": {
                name: child.describe(default_ttl_ms) for name, child in self.children.items()
            },
        }


def _shown_default(spec: KeySpec) -> Any:
    if spec.default is MISSING:
        return None
    return "<redacted>" if spec.kind.secret else spec.default


def _seconds(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _type_repr(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


_ROOTS: dict[type[Cluster], ClusterNode] = {}


def root_node(cls: type[Cluster]) -> ClusterNode:
    """The keyspace tree rooted at ``cls`` (built once per class)."""
    node = _ROOTS.get(cls)
    if node is None:
        node = _ROOTS[cls] = _build(cls, None, "", frozenset(), (cls,), {})
    return node


def _build(
    cls: type[Cluster],
    parent: ClusterNode | None,
    field_name: str,
    inherited: frozenset[str],
    lineage: tuple[type[Cluster], ...],
    inherited_types: dict[str, Any],
) -> ClusterNode:
    spec = spec_of(cls)
    prefix = spec.prefix
    where = f"cluster {cls.__name__} (template {prefix.text!r})" if prefix else cls.__name__
    own = tuple(
        make_param(p, spec.param_types.get(p), where)
        for p in (prefix.params if prefix else ())
        if p not in inherited
    )
    for name in spec.param_types:
        if name in inherited and inherited_types.get(name) != spec.param_types[name]:
            raise DeclarationError(
                f"{cls.__name__}.{name}: placeholder {{{name}}} is bound by an enclosing cluster,"
                " which gives its type; declare the same type there"
            )
    path_params = inherited | {p.name for p in own}
    path_types = {**inherited_types, **{p.name: p.annotation for p in own}}
    ttl = spec.ttl if spec.ttl is not INHERIT or parent is None else parent.ttl
    node = ClusterNode(spec, parent, field_name, own, path_params, ttl)
    for name, key in spec.keys.items():
        where = f"key {cls.__name__}.{name} (template {key.template.text!r})"
        key_params = tuple(
            make_param(p, spec.param_types.get(p), where)
            for p in key.template.params
            if p not in path_params
        )
        literal = None if key.template.params else key.template.text
        key_ttl = key.ttl if key.ttl is not INHERIT else ttl
        node.keys[name] = KeyNode(key, node, key_params, key_ttl, literal)
    for name, child in spec.children.items():
        if child in lineage:
            raise DeclarationError(
                f"{cls.__name__}.{name}: cluster {child.__name__} contains itself"
            )
        node.children[name] = _build(child, node, name, path_params, (*lineage, child), path_types)
    return node
