"""Whole-cluster operations as plans: load, save, clear by schema, instances.

A bound cluster knows every key its declaration can produce below it: the
static ones by name, and *families* (keys or clusters with placeholders not
bound yet) by a SCAN pattern plus a regular expression that accepts exactly
the names the declaration can produce. ``clear()`` deletes the static keys by
name in one command and scans only for families.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from . import _plan as plan
from ._cluster import ClusterNode, KeyNode
from ._errors import KeyNotFoundError, OptionsError, WrongTypeError
from ._keys import MISSING, Counter, FloatCounter, Key
from ._plan import Batch, Command, Emit, Flow, Op

__all__ = [
    "Family",
    "clear_flow",
    "instances_flow",
    "load_op",
    "save_op",
    "snapshot_model",
    "targets",
]


# Kinds stored as one plain string value that an MGET can read.
_MGET_KINDS: frozenset[type[Any]] = frozenset({Key, Counter, FloatCounter})


def _join(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if prefix else name


@dataclass(frozen=True, slots=True)
class Family:
    """Keys of one parameterized declaration: a SCAN glob and the exact names it may hold.

    ``every`` matches a whole SCAN reply joined by ``plan.NAME_SEPARATOR`` when each of its
    names matches ``regex``: no name ``regex`` accepts can hold the separator, so the
    joined text splits into the names one way only.
    """

    glob: str
    regex: re.Pattern[str]
    every: re.Pattern[str]

    @classmethod
    def of(cls, glob: str, source: str) -> Family:
        """The family of names matching the regular expression ``source``."""
        separator = re.escape(plan.NAME_SEPARATOR)
        every = f"(?:(?:{source}){separator})*(?:{source})"
        return cls(glob, re.compile(source), re.compile(every))


def targets(
    node: ClusterNode, prefix: str, values: Mapping[str, str]
) -> tuple[list[str], list[Family]]:
    """The static key names and the families below a bound cluster."""
    statics: list[str] = []
    families: list[Family] = []
    head = re.escape(_join(prefix, ""))
    for key in node.keys.values():
        template = key.spec.template
        if not key.own_params:
            statics.append(_join(prefix, key.literal or template.render(values)))
        else:
            glob = _join(prefix, template.render(values, missing="*"))
            families.append(Family.of(glob, head + template.regex(values)))
    for child in node.children.values():
        if not child.own_params:
            more_statics, more_families = targets(
                child, _join(prefix, child.render_prefix(values)), values
            )
            statics.extend(more_statics)
            families.extend(more_families)
        else:
            glob = _join(prefix, child.render_prefix(values, missing="*"))
            if not glob.endswith("*"):  # a trailing "*" already reaches every key below
                glob += ":*"
            regex = head + child.prefix_regex(values) + ":" + _subtree(child)
            families.append(Family.of(glob, regex))
    return statics, families


def _subtree(node: ClusterNode) -> str:
    """A regex for every name relative to ``node``'s prefix that its declaration can produce."""
    branches = [key.spec.template.regex({}) for key in node.keys.values()]
    for child in node.children.values():
        assert child.spec.prefix is not None
        branches.append(child.prefix_regex({}) + ":" + _subtree(child))
    return "(?:" + "|".join(branches) + ")" if branches else "(?!)"


def clear_flow(
    node: ClusterNode,
    prefix: str,
    values: Mapping[str, str],
    count: int,
    chunk: int,
    slot_of: Callable[[Any], int] | None = None,
) -> Flow[int]:
    """UNLINK the static keys by name, then SCAN for each family; how many keys existed.

    ``slot_of`` (Redis Cluster) groups a family's names by hash slot (see ``scan_unlink``).
    """
    statics, families = targets(node, prefix, values)
    deleted: int = yield from plan.unlink(statics, chunk)
    for family in families:
        deleted += yield from plan.scan_unlink(
            family.glob, family.regex.fullmatch, count, chunk, slot_of, family.every.fullmatch
        )
    return deleted


def instances_flow(
    node: ClusterNode, parent_prefix: str, values: Mapping[str, str], count: int
) -> Flow[None]:
    """Emit the parameter values (rendered) of every instance of ``node`` that has a key."""
    glob = _join(parent_prefix, node.render_prefix(values, missing="*")) + ":*"
    regex = re.compile(
        re.escape(_join(parent_prefix, ""))
        + node.prefix_regex(values, capture=True)
        + ":"
        + _subtree(node)
    )
    seen: set[tuple[str, ...]] = set()
    scan = plan.scan_keys(glob, count)
    reply: Any = None
    while True:
        try:
            message = scan.send(reply)
        except StopIteration:
            return
        if not isinstance(message, Emit):
            reply = yield message
            continue
        reply = None
        match = regex.fullmatch(message.value)
        if match is None:
            continue
        found = tuple(match.group(p.name) for p in node.own_params)
        if found not in seen:
            seen.add(found)
            yield Emit(dict(zip((p.name for p in node.own_params), found, strict=True)))


# -- load and save ------------------------------------------------------------------


def snapshot_model(node: ClusterNode) -> type[BaseModel]:
    """The pydantic model ``load()`` returns: one field per static key of ``node``."""
    model = node.snapshot
    if model is None:
        fields: dict[str, Any] = {}
        for name, key in node.keys.items():
            if key.own_params:
                continue
            spec = key.spec
            annotation = spec.annotation if spec.default is not MISSING else spec.annotation | None
            default = None if spec.default is MISSING else spec.default
            # Secrets stay out of reprs and validation errors.
            fields[name] = (annotation, Field(default, repr=not spec.kind.secret))
        secret = any(k.spec.kind.secret for k in node.keys.values())
        config = ConfigDict(hide_input_in_errors=secret)
        model = node.snapshot = create_model(f"{node.name}Snapshot", __config__=config, **fields)
    return model


def load_op(
    node: ClusterNode,
    prefix: str,
    values: Mapping[str, str],
    handle: Callable[[str], Any],
    multi_get: bool,
) -> Batch[BaseModel]:
    """Read every static key in one round trip (a plain read, no MULTI).

    With ``multi_get`` (one server), the plain string keys (``Key[T]`` and
    counters that do not renew a sliding TTL) are read with one ``MGET``,
    which costs a fraction of separate GETs; the other kinds, and every key on
    Redis Cluster (where MGET must keep to one slot), use their own read op.
    An MGET cannot tell a key of another Redis type from a missing one.
    """
    direct: list[tuple[str, KeyNode, str]] = []
    others: list[str] = []
    for name, key in node.keys.items():
        if key.own_params:
            continue
        if multi_get and key.spec.kind in _MGET_KINDS and not key.spec.sliding:
            direct.append(
                (name, key, _join(prefix, key.literal or key.spec.template.render(values)))
            )
        else:
            others.append(name)
    batch = plan.combine([handle(name)._op_get() for name in others], atomic=False)
    names = tuple(full for _, _, full in direct)
    # EXISTS counts keys of any type: more than MGET found means one holds another type.
    head: tuple[Command, ...] = (("MGET", *names), ("EXISTS", *names)) if direct else ()
    model = snapshot_model(node)

    def parse(replies: list[Any]) -> BaseModel:
        data: dict[str, Any] = {}
        if direct:
            got, existing = replies[0], replies[1]
            for reply in (got, existing):
                if isinstance(reply, Exception):
                    raise reply
            if int(existing) > sum(reply is not None for reply in got):
                unread = [
                    full for (_, _, full), reply in zip(direct, got, strict=True) if reply is None
                ]
                raise WrongTypeError(
                    f"load() of {node.where}: one of {', '.join(map(repr, unread))} holds"
                    " another Redis type than its declaration"
                )
            for (name, key, full), reply in zip(direct, got, strict=True):
                spec = key.spec
                if reply is not None:
                    data[name] = spec.codec.load(reply, key=full)
                else:
                    data[name] = None if spec.default is MISSING else spec.fresh_default()
            replies = replies[2:]
        for name, result in zip(others, batch.parse(replies), strict=True):
            if isinstance(result, KeyNotFoundError):
                result = None
            elif isinstance(result, Exception):
                raise result
            data[name] = result
        return model.model_construct(**data)

    return Batch(head + batch.commands, parse, atomic=False, sees_errors=True)


def save_op(
    node: ClusterNode, keys: Mapping[str, Any], snapshot: BaseModel | Mapping[str, Any]
) -> Batch[None]:
    """Validate, then write the given keys with their TTLs in one MULTI/EXEC.

    A model writes only the fields that were set on it; a mapping writes its
    items. ``None`` for a key without a default that cannot hold ``None``
    deletes the key.
    """
    if isinstance(snapshot, BaseModel):
        data = {name: getattr(snapshot, name) for name in snapshot.model_fields_set}
    else:
        data = dict(snapshot)
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise OptionsError(
            f"save() of {node.where}: no static key named {', '.join(map(repr, unknown))}"
            f" (static keys: {', '.join(keys) or 'none'})"
        )
    ops: list[Op[Any]] = []
    for name, value in data.items():
        handle = keys[name]
        if value is None and _absent_means_delete(handle._node):
            ops.append(handle._op_delete())
        else:
            ops.append(handle._op_set(value))
    batch = plan.combine(ops, atomic=True)
    return Batch(batch.commands, _raise_first(batch.parse), atomic=True, sees_errors=True)


def _absent_means_delete(key: KeyNode) -> bool:
    spec = key.spec
    if spec.default is not MISSING:
        return False
    try:
        spec.codec.validate(None)
    except ValueError:
        return True
    return False


def _raise_first(parse: Callable[[list[Any]], list[Any]]) -> Callable[[list[Any]], None]:
    def check(replies: list[Any]) -> None:
        for result in parse(replies):
            if isinstance(result, Exception):
                raise result

    return check
