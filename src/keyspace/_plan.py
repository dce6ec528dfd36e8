"""Sans-IO operations: the Redis commands each operation sends, and what the
replies mean.

Nothing here imports a Redis client. An operation that takes one round trip
is an *op*: a :class:`Call` (one command and the parser of its reply) or a
:class:`Batch` (several commands sent together, by default as one
MULTI/EXEC, and the parser of their replies). Ops can be queued in a
pipeline. An operation that needs several round trips is a *flow*: a
generator that yields messages and receives their replies:

- a command (a tuple): its reply;
- a :class:`Call`: its parsed result (errors named as for ops), sent on the
  watching connection between :class:`Watch` and :class:`Exec` (:data:`RETRY`
  when that connection dropped);
- a list of commands: sent as one pipeline, the list of replies;
- :class:`Watch`: WATCH the keys on a connection kept for this flow until the
  next :class:`Exec`; commands in between are sent on that connection;
- :class:`Exec`: MULTI, the commands, EXEC; the replies, or ``None`` when a
  watched key changed;
- :class:`Scan`: one step of a SCAN over every primary: ``(cursor, keys)``;
- :class:`Sleep`: pause (retry backoff);
- :class:`Emit`: a value handed to the caller as it comes (``subkeys()``).

The executors in ``_execute`` drive ops and flows, once for sync and once for
async. Replies may be ``bytes`` or ``str`` (the caller's client may decode
responses) and may or may not have passed through redis-py's response
callbacks; every parser accepts both shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar, final

from ._errors import KeyNotFoundError, WrongTypeError

__all__ = [
    "Batch",
    "combine",
    "parse_reply",
    "translate",
    "unlink",
    "scan_unlink",
    "Call",
    "Command",
    "Emit",
    "Exec",
    "Flow",
    "GATHER_CHUNKS",
    "NAME_SEPARATOR",
    "Op",
    "RETRY",
    "Scan",
    "Sleep",
    "Watch",
    "accepted",
    "as_bytes",
    "as_text",
    "delete",
    "exists",
    "expire",
    "ex_px",
    "expiry_args",
    "kind_type",
    "persist",
    "scan_keys",
    "truthy",
    "ttl",
    "wrong_type",
]

R = TypeVar("R")
Command = tuple[Any, ...]


# Ops are built on every operation: plain (not frozen) slotted dataclasses
# initialise several times faster than frozen ones.
@dataclass(slots=True)
class Call(Generic[R]):
    """One command and the parser of its reply.

    ``key`` and ``kind`` name the key and its declared kind when the command
    works on one declared key, so that a ``WRONGTYPE`` reply becomes a
    :class:`WrongTypeError` naming both. ``on_error`` turns other error
    replies into clearer errors (a counter holding a non-number, say).
    """

    command: Command
    parse: Callable[[Any], R]
    key: str | None = None
    kind: str = ""
    on_error: Callable[[Exception], Exception] | None = None


@dataclass(slots=True)
class Batch(Generic[R]):
    """Several commands sent in one round trip; ``atomic`` wraps them in MULTI/EXEC."""

    commands: tuple[Command, ...]
    parse: Callable[[list[Any]], R]
    key: str | None = None
    kind: str = ""
    atomic: bool = True
    on_error: Callable[[Exception], Exception] | None = None
    sees_errors: bool = False  # parse receives error replies itself (combined ops)


Op = Call[R] | Batch[R]


@dataclass(frozen=True, slots=True)
class Emit:
    """A value a streaming flow hands to its caller."""

    value: Any


@dataclass(frozen=True, slots=True)
class Watch:
    """WATCH ``keys`` on a connection the flow keeps until its next :class:`Exec`."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Exec:
    """MULTI, ``commands``, EXEC on the watching connection; ``None`` on a conflict."""

    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Scan:
    """One SCAN step over every primary; the reply is ``(cursor, keys)``.

    ``cursor`` is ``None`` to start, then whatever the executor returned;
    the reply's cursor is ``None`` when the scan is complete. Its shape is
    the executor's business (an int on one server, a per-node iterator on
    Redis Cluster).
    """

    pattern: str
    count: int
    cursor: Any = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause for ``seconds`` before going on."""

    seconds: float


@final
class _Retry:
    def __repr__(self) -> str:
        return "RETRY"


RETRY: Final = _Retry()
"""What a read between :class:`Watch` and :class:`Exec` gives when the watching
connection dropped: nothing was written; start the attempt over."""

Flow = Generator[Command | list[Command] | Call[Any] | Emit | Scan | Watch | Exec | Sleep, Any, R]


def combine(ops: Sequence[Op[Any]], atomic: bool) -> Batch[list[Any]]:
    """Several ops as one round trip; the result lists each op's result in order.

    An op whose reply holds an error yields that exception in its place, so
    that callers see every result; ``raise_first`` turns them into one error.
    """
    commands = tuple(command for op in ops for command in _commands_of(op))

    def parse(replies: list[Any]) -> list[Any]:
        results: list[Any] = []
        at = 0
        for op in ops:
            if isinstance(op, Call):
                reply: Any = replies[at]
                at += 1
            else:
                reply = replies[at : at + len(op.commands)]
                at += len(op.commands)
            try:
                results.append(parse_reply(op, reply))
            except Exception as exc:  # kept in place for the caller
                if op.key is not None and str(exc).startswith("WRONGTYPE"):
                    named = wrong_type(op.key, op.kind, None)
                    named.__cause__ = exc
                    exc = named
                results.append(exc)
        return results

    return Batch(commands, parse, atomic=atomic, sees_errors=True)


def parse_reply(op: Op[R], reply: Any) -> R:
    """Parse one op's reply (or reply list), raising the first error it holds."""
    if isinstance(op, Batch) and op.sees_errors:
        return op.parse(reply)
    for item in reply if isinstance(op, Batch) else (reply,):
        if isinstance(item, Exception):
            raise translate(op, item)
    return op.parse(reply)


def translate(op: Op[Any], error: Exception) -> Exception:
    """The error to raise for an error reply of ``op`` (its ``on_error``, if it has one)."""
    if op.on_error is None or str(error).startswith("WRONGTYPE"):
        return error
    translated = op.on_error(error)
    translated.__cause__ = error
    return translated


def _commands_of(op: Op[Any]) -> tuple[Command, ...]:
    return (op.command,) if isinstance(op, Call) else op.commands


# -- operations every key kind shares ---------------------------------------------


def delete(name: str) -> Call[bool]:
    """``DEL``; whether the key existed."""
    return Call(("DEL", name), truthy)


def exists(name: str) -> Call[bool]:
    """``EXISTS``."""
    return Call(("EXISTS", name), truthy)


def expire(name: str, ttl_ms: int) -> Call[bool]:
    """``EXPIRE`` (whole seconds) or ``PEXPIRE``; whether the key exists."""
    word, amount = expiry_args(ttl_ms, "EXPIRE", "PEXPIRE")
    return Call((word, name, amount), truthy)


def persist(name: str) -> Call[bool]:
    """``PERSIST``; whether an expiry was removed."""
    return Call(("PERSIST", name), truthy)


def ttl(name: str) -> Call[float | None]:
    """``PTTL`` in seconds; ``None`` when the key never expires."""

    def parse(reply: Any) -> float | None:
        ms = int(reply)
        if ms == -2:
            raise KeyNotFoundError(f"key {name!r} does not exist, so it has no TTL")
        return None if ms == -1 else ms / 1000

    return Call(("PTTL", name), parse)


def kind_type(name: str, kind: str, redis_type: str, python_type: type) -> Call[type | None]:
    """``TYPE``: ``python_type`` when the key holds a ``redis_type``, ``None`` when missing."""

    def parse(reply: Any) -> type | None:
        found = as_text(reply)
        if found == "none":
            return None
        if found != redis_type:
            raise wrong_type(name, kind, found)
        return python_type

    return Call(("TYPE", name), parse)


# -- whole-cluster flows ----------------------------------------------------------


def scan_keys(pattern: str, count: int) -> Flow[None]:
    """Emit every key name matching ``pattern`` once (``SCAN`` may repeat keys)."""
    seen: set[bytes] = set()
    cursor: Any = None
    while True:
        cursor, keys = yield Scan(pattern, count, cursor)
        for key in keys:
            raw_key = as_bytes(key)
            if raw_key not in seen:
                seen.add(raw_key)
                yield Emit(raw_key.decode("utf-8", "backslashreplace"))
        if cursor is None:
            return


def unlink(names: Sequence[Any], chunk: int) -> Flow[int]:
    """``UNLINK`` ``names`` in chunks; how many existed."""
    deleted = 0
    for start in range(0, len(names), chunk):
        deleted += int((yield ("UNLINK", *names[start : start + chunk])))
    return deleted


# How many chunks' worth of names a clear gathers before it sends them, as one pipeline: the
# round trips of a hand-written SCAN-then-UNLINK. On Redis Cluster, where a multi-key UNLINK
# must keep to one of 16,384 slots, it also puts several names into each per-slot UNLINK.
GATHER_CHUNKS: Final = 200


def scan_unlink(
    pattern: str,
    accept: Callable[[str], object],
    count: int,
    chunk: int,
    slot_of: Callable[[Any], int] | None = None,
    accept_all: Callable[[str], object] | None = None,
) -> Flow[int]:
    """``UNLINK`` every key matching ``pattern`` that ``accept`` agrees to; how many.

    ``accept_all``, when given, judges a whole SCAN reply at once (see :func:`accepted`).
    Names are gathered, up to :data:`GATHER_CHUNKS` chunks' worth at a time, then sent as
    one pipeline of ``UNLINK`` commands of at most ``chunk`` names each. On Redis Cluster
    (``slot_of`` gives a name's hash slot) each ``UNLINK`` keeps to one slot.
    """
    gather = chunk * GATHER_CHUNKS
    deleted = 0
    pending: list[Any] = []
    cursor: Any = None
    while True:
        cursor, keys = yield Scan(pattern, count, cursor)
        pending.extend(accepted(keys, accept, accept_all))
        done = cursor is None
        while len(pending) >= gather or (done and pending):
            batch, pending = pending[:gather], pending[gather:]
            deleted += yield from _unlink_gathered(batch, chunk, slot_of)
        if done:
            return deleted


NAME_SEPARATOR = "*"
"""Joins the names of a SCAN reply for :func:`accepted`'s ``accept_all``: a glob character,
which no name a declaration produces holds (templates and parameter values refuse it)."""


def accepted(
    keys: list[Any],
    accept: Callable[[str], object],
    accept_all: Callable[[str], object] | None = None,
) -> list[Any]:
    """The keys of a SCAN reply whose names ``accept`` agrees to, in order.

    The names are decoded in one call, joined by :data:`NAME_SEPARATOR`; when none holds
    the separator itself, ``accept_all`` (if given) may accept the whole joined text at
    once, one regular-expression match instead of one per name. The result is the same as
    judging each name's :func:`as_text` with ``accept``.
    """
    if not keys:
        return keys
    if isinstance(keys[0], bytes):
        joined = NAME_SEPARATOR.encode().join(keys).decode("utf-8", "backslashreplace")
    else:
        joined = NAME_SEPARATOR.join(keys)
    if joined.count(NAME_SEPARATOR) != len(keys) - 1:  # a name holds the separator
        return [key for key in keys if accept(as_text(key))]
    if accept_all is not None and accept_all(joined):
        return keys
    texts = joined.split(NAME_SEPARATOR)
    return [key for key, text in zip(keys, texts, strict=True) if accept(text)]


def _unlink_gathered(
    names: list[Any], chunk: int, slot_of: Callable[[Any], int] | None
) -> Flow[int]:
    groups: Iterable[list[Any]] = [names]
    if slot_of is not None:
        by_slot: dict[int, list[Any]] = {}
        for name in names:
            by_slot.setdefault(slot_of(name), []).append(name)
        groups = by_slot.values()
    replies = yield [
        ("UNLINK", *group[start : start + chunk])
        for group in groups
        for start in range(0, len(group), chunk)
    ]
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return sum(int(reply) for reply in replies)


# -- reply helpers ----------------------------------------------------------------


def wrong_type(name: str, kind: str, found: str | None) -> WrongTypeError:
    """The error for a key that holds another Redis type than its declaration."""
    holds = f"a Redis {found}" if found else "another Redis type"
    return WrongTypeError(
        f"key {name!r} is declared as {kind} but holds {holds}; delete it or fix the declaration"
    )


def expiry_args(ms: int, seconds_word: str, ms_word: str) -> tuple[str, int]:
    """Whole seconds read better in MONITOR; milliseconds keep sub-second precision."""
    return (seconds_word, ms // 1000) if ms % 1000 == 0 else (ms_word, ms)


def ex_px(ms: int) -> tuple[str, int]:
    """The expiry arguments of ``SET`` and ``GETEX``: ``EX`` seconds or ``PX`` milliseconds."""
    return expiry_args(ms, "EX", "PX")


def truthy(reply: Any) -> bool:
    """A reply as a bool (``OK``, ``1``, ``True`` are true; ``None``, ``0`` false)."""
    return bool(reply) and reply != b"0" and reply != "0"


def as_bytes(reply: Any) -> Any:
    """``str`` replies (from decoding clients) back to bytes; others unchanged."""
    return reply.encode() if isinstance(reply, str) else reply


def as_text(reply: Any) -> str:
    """A bytes or str reply as text."""
    return reply.decode("utf-8", "backslashreplace") if isinstance(reply, bytes) else str(reply)
