"""Sans-IO operations: the Redis commands each operation sends, and what the
replies mean.

Nothing here imports a Redis client. A one-command operation is a
:class:`Call` (the command and a function that turns its reply into the typed
result). An operation that needs several round trips is a *flow*: a generator
that yields a command (a tuple) or a list of commands (sent as one pipeline)
and receives the reply (or the list of replies) back; items it wants to
hand to the caller as they come (``subkeys()``) are yielded as :class:`Emit`.
The executors in ``_execute`` drive both, once for sync and once for async.

Replies may be ``bytes`` or ``str`` (the caller's client may decode
responses), and may or may not have passed through redis-py's response
callbacks; every parser accepts both shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._errors import KeyNotFoundError, OptionsError
from ._keys import Inherit

__all__ = [
    "Call",
    "Command",
    "Emit",
    "Flow",
    "clear",
    "delete",
    "exists",
    "expire",
    "get",
    "persist",
    "raw",
    "scan_keys",
    "set_",
    "the_type",
    "ttl",
]

R = TypeVar("R")
Command = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Call(Generic[R]):
    """One command and the parser of its reply."""

    command: Command
    parse: Callable[[Any], R]


@dataclass(frozen=True, slots=True)
class Emit:
    """A value a streaming flow hands to its caller."""

    value: Any


Flow = Generator[Command | list[Command] | Emit, Any, R]


# -- string keys ------------------------------------------------------------------


def get(name: str, load: Callable[[Any, str], R], default: Callable[[], R] | None) -> Call[R]:
    """``GET``; a missing key gives ``default()`` or raises ``KeyNotFoundError``."""

    def parse(reply: Any) -> R:
        if reply is None:
            if default is None:
                raise KeyNotFoundError(f"key {name!r} does not exist and declares no default")
            return default()
        return load(reply, name)

    return Call(("GET", name), parse)


def set_(
    name: str,
    data: bytes,
    ttl_ms: int | Inherit | None,
    *,
    nx: bool = False,
    xx: bool = False,
    keepttl: bool = False,
) -> Call[bool]:
    """``SET`` with the expiry in the same command; the result says whether it was written.

    ``ttl_ms`` must already be resolved; ``INHERIT`` here means "no expiry
    applies" only together with ``keepttl``.
    """
    if nx and xx:
        raise OptionsError(f"set {name!r}: nx and xx exclude each other")
    command: list[Any] = ["SET", name, data]
    if keepttl:
        command.append("KEEPTTL")
    elif isinstance(ttl_ms, int):
        command.extend(_expiry_args(ttl_ms, "EX", "PX"))
    if nx:
        command.append("NX")
    elif xx:
        command.append("XX")
    return Call(tuple(command), _truthy)


def delete(name: str) -> Call[bool]:
    """``DEL``; whether the key existed."""
    return Call(("DEL", name), _truthy)


def exists(name: str) -> Call[bool]:
    """``EXISTS``."""
    return Call(("EXISTS", name), _truthy)


def expire(name: str, ttl_ms: int) -> Call[bool]:
    """``EXPIRE`` (whole seconds) or ``PEXPIRE``; whether the key exists."""
    word, amount = _expiry_args(ttl_ms, "EXPIRE", "PEXPIRE")
    return Call((word, name, amount), _truthy)


def persist(name: str) -> Call[bool]:
    """``PERSIST``; whether an expiry was removed."""
    return Call(("PERSIST", name), _truthy)


def ttl(name: str) -> Call[float | None]:
    """``PTTL`` in seconds; ``None`` when the key never expires."""

    def parse(reply: Any) -> float | None:
        ms = int(reply)
        if ms == -2:
            raise KeyNotFoundError(f"key {name!r} does not exist, so it has no TTL")
        return None if ms == -1 else ms / 1000

    return Call(("PTTL", name), parse)


def the_type(name: str, load: Callable[[Any, str], Any]) -> Call[type | None]:
    """``GET``, then the Python type of the stored value (``None`` when missing)."""
    return Call(("GET", name), lambda reply: None if reply is None else type(load(reply, name)))


def raw(name: str) -> Call[bytes | None]:
    """``GET`` without decoding: the bytes as stored."""
    return Call(("GET", name), _as_bytes)


# -- whole-cluster operations -----------------------------------------------------


def scan_keys(pattern: str, count: int) -> Flow[None]:
    """Emit every key name matching ``pattern`` once (``SCAN`` may repeat keys)."""
    seen: set[bytes] = set()
    cursor: Any = 0
    while True:
        cursor, keys = _scan_reply((yield ("SCAN", cursor, "MATCH", pattern, "COUNT", count)))
        for key in keys:
            raw_key = _as_bytes(key)
            if raw_key not in seen:
                seen.add(raw_key)
                yield Emit(raw_key.decode("utf-8", "backslashreplace"))
        if int(cursor) == 0:
            return


def clear(pattern: str, count: int, chunk: int) -> Flow[int]:
    """Delete every key matching ``pattern`` with ``UNLINK`` in chunks; return how many."""
    deleted = 0
    pending: list[Any] = []
    cursor: Any = 0
    while True:
        cursor, keys = _scan_reply((yield ("SCAN", cursor, "MATCH", pattern, "COUNT", count)))
        pending.extend(keys)
        done = int(cursor) == 0
        while len(pending) >= chunk or (done and pending):
            batch, pending = pending[:chunk], pending[chunk:]
            deleted += int((yield ("UNLINK", *batch)))
        if done:
            return deleted


# -- reply helpers ----------------------------------------------------------------


def _expiry_args(ms: int, seconds_word: str, ms_word: str) -> tuple[str, int]:
    # Whole seconds read better in MONITOR and work with every server; PX
    # keeps sub-second precision.
    return (seconds_word, ms // 1000) if ms % 1000 == 0 else (ms_word, ms)


def _truthy(reply: Any) -> bool:
    return bool(reply) and reply != b"0" and reply != "0"


def _as_bytes(reply: Any) -> Any:
    return reply.encode() if isinstance(reply, str) else reply


def _scan_reply(reply: Any) -> tuple[Any, list[Any]]:
    cursor, keys = reply
    return cursor, list(keys)
