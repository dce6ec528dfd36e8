"""Key-change events, sans-IO: what writers publish and how subscribers read it.

Two sources, both delivered as :class:`KeyEvent`:

``"publish"``
    A repository created with ``publish_events=True`` adds, to the same round
    trip as every write op, a ``PUBLISH`` on channel
    ``__keyspace_events__:<key>`` for each key the op writes, carrying the
    operation, the written value where the command carries one (``SET``)
    and the writer's id. No server configuration is needed. Whole-cluster
    ``clear()`` does not publish (use keyspace notifications to see it), and
    a conditional write (``nx``/``xx``) is published even when Redis skipped
    it.

``"keyspace"``
    Redis keyspace notifications (``__keyspace@<db>__:<key>``): every change,
    expiry and eviction too, without values. The server must have them
    enabled, which keyspace never does behind your back:
    ``enable_keyspace_notifications()`` is an explicit call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._cluster import ClusterNode, KeySpec
from ._plan import Batch, Call, Command, Op, as_text

__all__ = [
    "CHANNEL_PREFIX",
    "KeyEvent",
    "Source",
    "key_specs",
    "parse_event",
    "publishing",
    "with_publishes",
]

CHANNEL_PREFIX = "__keyspace_events__:"
Source = Literal["publish", "keyspace"]

# Commands that change the key in their first argument (or in all of them, for DEL/UNLINK).
_WRITES = frozenset(
    [
        "SET",
        "GETDEL",
        "GETEX",
        "DEL",
        "UNLINK",
        "EXPIRE",
        "PEXPIRE",
        "PERSIST",
        "INCRBY",
        "DECRBY",
        "INCRBYFLOAT",
        "HSET",
        "HDEL",
        "HINCRBY",
        "HINCRBYFLOAT",
        "RPUSH",
        "LPUSH",
        "RPOP",
        "LPOP",
        "BRPOP",
        "BLPOP",
        "LTRIM",
        "LREM",
        "SADD",
        "SREM",
        "SPOP",
        "ZADD",
        "ZINCRBY",
        "ZREM",
    ]
)
_MULTI_KEY = frozenset({"DEL", "UNLINK"})


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """A change to one key.

    ``operation`` is the Redis command (``"set"``, ``"hset"``, ``"del"``) or,
    from keyspace notifications, the event name (``"expired"``,
    ``"evicted"``). ``value`` is the new value, decoded with the key's
    declared type, when the operation carries one; otherwise ``None``.
    """

    key: str
    operation: str
    value: Any = None
    writer: str | None = None
    source: Source = "publish"


def publishing(op: Op[Any], writer: str) -> Op[Any]:
    """``op`` plus, in the same round trip, one PUBLISH per key it writes."""
    commands = (op.command,) if isinstance(op, Call) else op.commands
    publishes = _publishes(commands, writer)
    if not publishes:
        return op
    if isinstance(op, Call):
        parse = op.parse
        return Batch(
            (op.command, *publishes),
            lambda replies: parse(replies[0]),
            op.key,
            op.kind,
            atomic=True,
            on_error=op.on_error,
        )
    count = len(op.commands)
    parse_all = op.parse
    return Batch(
        op.commands + publishes,
        lambda replies: parse_all(replies[:count]),
        op.key,
        op.kind,
        atomic=op.atomic,
        on_error=op.on_error,
    )


def with_publishes(commands: tuple[Command, ...], writer: str | None) -> tuple[Command, ...]:
    """``commands`` followed by their PUBLISHes, when ``writer`` publishes at all."""
    return commands if writer is None else commands + _publishes(commands, writer)


def _publishes(commands: tuple[Command, ...], writer: str) -> tuple[Command, ...]:
    seen: set[str] = set()
    out: list[Command] = []
    for command in commands:
        name = str(command[0]).upper()
        if name not in _WRITES:
            continue
        for key in command[1:] if name in _MULTI_KEY else command[1:2]:
            key = as_text(key)
            if key in seen:  # the expiry that follows a write is part of it
                continue
            seen.add(key)
            value = command[2] if name == "SET" else None
            payload = {
                "op": name.lower(),
                "value": None if value is None else as_text(value),
                "writer": writer,
            }
            out.append(("PUBLISH", CHANNEL_PREFIX + key, json.dumps(payload)))
    return tuple(out)


def key_specs(
    node: ClusterNode, prefix: str, values: Mapping[str, str]
) -> list[tuple[re.Pattern[str], KeySpec]]:
    """Every declared key below a bound cluster as (exact-name regex, spec)."""
    return [(re.compile(source), spec) for source, spec in _specs(node, _head(prefix), values)]


def _head(prefix: str) -> str:
    return re.escape(f"{prefix}:") if prefix else ""


def _specs(node: ClusterNode, head: str, values: Mapping[str, str]) -> list[tuple[str, KeySpec]]:
    out = [(head + key.spec.template.regex(values), key.spec) for key in node.keys.values()]
    for child in node.children.values():
        out.extend(_specs(child, head + child.prefix_regex(values) + ":", values))
    return out


def parse_event(
    channel: str,
    data: Any,
    source: Source,
    specs: list[tuple[re.Pattern[str], KeySpec]],
) -> KeyEvent:
    """Turn one pub/sub message into a :class:`KeyEvent`."""
    key = channel.split(":", 1)[1] if source == "keyspace" else channel[len(CHANNEL_PREFIX) :]
    if source == "keyspace":
        return KeyEvent(key, as_text(data), source="keyspace")
    payload = json.loads(as_text(data))
    raw = payload.get("value")
    value = None if raw is None else _decode(key, raw, specs)
    return KeyEvent(key, payload["op"], value, payload.get("writer"), "publish")


def _decode(key: str, raw: str, specs: list[tuple[re.Pattern[str], KeySpec]]) -> Any:
    for regex, spec in specs:
        if regex.fullmatch(key):
            # A secret's payload is ciphertext: events never carry it, decrypted or not.
            return None if spec.kind.secret else spec.codec.load(raw, key=key)
    return raw
