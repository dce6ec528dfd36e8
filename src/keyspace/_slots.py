"""Redis Cluster hash slots: which keys a command touches, and one-slot checks.

A transaction (MULTI/EXEC) or a WATCH in Redis Cluster must keep to one hash
slot. keyspace checks that before sending anything, so the error names the
keys and says how to pin them, instead of a CROSSSLOT reply halfway through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import redis.asyncio.cluster
import redis.cluster
from redis.crc import key_slot

from ._errors import CrossSlotError

__all__ = ["CLUSTER_CLIENTS", "check_one_slot", "command_keys", "slot_of"]

CLUSTER_CLIENTS = (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)

# Commands whose every argument is a key; the others here take no key at all.
_ALL_KEYS = frozenset({"DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH"})
_NO_KEY = frozenset({"PUBLISH", "MULTI", "EXEC", "PING"})


def command_keys(command: Sequence[Any]) -> Iterator[Any]:
    """The keys a command touches."""
    name = str(command[0]).upper()
    if name in _NO_KEY or len(command) < 2:
        return iter(())
    return iter(command[1:] if name in _ALL_KEYS else command[1:2])


def _encoded(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


def slot_of(key: Any) -> int:
    """The hash slot of a key name (``str`` or ``bytes``)."""
    return key_slot(_encoded(key))


def check_one_slot(commands: Iterable[Sequence[Any]]) -> None:
    """Raise :class:`CrossSlotError` when the commands' keys span several slots."""
    slots: dict[int, list[str]] = {}
    for command in commands:
        for key in command_keys(command):
            raw = _encoded(key)
            slots.setdefault(key_slot(raw), []).append(raw.decode("utf-8", "backslashreplace"))
    if len(slots) > 1:
        keys = sorted({key for group in slots.values() for key in group})
        raise CrossSlotError(
            f"a transaction or WATCH in Redis Cluster must keep to one hash slot, but"
            f" {', '.join(map(repr, keys))} span {len(slots)} slots; declare the cluster with"
            " hash_tag=True so that every key of one bound instance shares a slot"
        )
