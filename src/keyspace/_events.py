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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._cluster import ClusterNode, KeySpec
from ._errors import OptionsError
from ._plan import Batch, Call, Command, Op, as_text

__all__ = [
    "CHANNEL_PREFIX",
    "KeyEvent",
    "event_key",
    "Source",
    "key_specs",
    "parse_event",
    "publishing",
    "spec_decoder",
    "subscription",
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
_EXPIRY = frozenset({"EXPIRE", "PEXPIRE", "PERSIST"})
# Every way of deleting a key is reported as "del".
_OPERATION = {"UNLINK": "del", "GETDEL": "del"}


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
    """One PUBLISH per write, in order, leaving out the steps that belong to another write:
    the expiry after a write of the same key, and the DEL before a key is rewritten whole
    (a list's ``set()`` is DEL, RPUSH, EXPIRE: one ``rpush`` event)."""
    writes = [
        (str(command[0]).upper(), as_text(key), command)
        for command in commands
        if str(command[0]).upper() in _WRITES
        for key in (command[1:] if str(command[0]).upper() in _MULTI_KEY else command[1:2])
    ]
    last_write = {key: index for index, (name, key, _) in enumerate(writes) if name not in _EXPIRY}
    out: list[Command] = []
    written: set[str] = set()
    for index, (name, key, command) in enumerate(writes):
        if name in _EXPIRY and key in written:
            continue
        if name in _MULTI_KEY and last_write[key] > index:  # the key is rewritten later on
            continue
        written.add(key)
        value = command[2] if name == "SET" else None
        payload = {
            "op": _OPERATION.get(name, name.lower()),
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


def subscription(
    keys: str, source: Source, client: Any, decode: Callable[[str, str], Any]
) -> tuple[str, Callable[[tuple[str, Any]], KeyEvent]]:
    """The channel pattern for keys matching ``keys``, and the parser of its messages.

    ``decode(key, raw)`` turns a published value into the key's declared type.
    """
    if source not in ("publish", "keyspace"):
        raise OptionsError(f"events(source={source!r}): use 'publish' or 'keyspace'")
    if source == "keyspace":
        pool = getattr(client, "connection_pool", None)
        db = pool.connection_kwargs.get("db", 0) if pool is not None else 0  # Cluster: db 0
        channel = f"__keyspace@{db}__:{keys}"
    else:
        channel = CHANNEL_PREFIX + keys
    return channel, lambda message: parse_event(message[0], message[1], source, decode)


def event_key(channel: str, source: Source) -> str:
    """The key name a pub/sub channel of ``source`` is about."""
    return channel.split(":", 1)[1] if source == "keyspace" else channel[len(CHANNEL_PREFIX) :]


def parse_event(
    channel: str, data: Any, source: Source, decode: Callable[[str, str], Any]
) -> KeyEvent:
    """Turn one pub/sub message into a :class:`KeyEvent`."""
    key = event_key(channel, source)
    if source == "keyspace":
        return KeyEvent(key, as_text(data), source="keyspace")
    payload = json.loads(as_text(data))
    raw = payload.get("value")
    value = None if raw is None else decode(key, raw)
    return KeyEvent(key, payload["op"], value, payload.get("writer"), "publish")


def spec_decoder(specs: list[tuple[re.Pattern[str], KeySpec]]) -> Callable[[str, str], Any]:
    """Decode published values with the declared key that matches the name."""

    def decode(key: str, raw: str) -> Any:
        for regex, spec in specs:
            if regex.fullmatch(key):
                # A secret's payload is ciphertext: events never carry it, decrypted or not.
                return None if spec.kind.secret else spec.codec.load(raw, key=key)
        return raw

    return decode
