"""``keyspace export`` and ``keyspace import``: a root's declared keys as JSON lines, and back.

One line per key, in key-name order::

    {"key": "shop:item:7:stock", "type": "string", "ttl_ms": null, "value": 12}
    {"key": "shop:item:7:tags", "type": "set", "ttl_ms": 59412, "value": ["new", "sale"]}
    {"key": "shop:ranking", "type": "zset", "ttl_ms": null, "value": [["\\"ann\\"", 3.5]]}

``type`` is the Redis type; ``ttl_ms`` the time the key had left when it was
exported (``null``: no expiry); ``value`` the stored data: a string's value, a
hash's ``{field: value}``, a list's or set's members, a sorted set's
``[member, score]`` pairs (scores ``"inf"``/``"-inf"`` for infinities).

Each stored string (a value, field value or member) appears as the JSON it holds
when re-encoding that JSON gives back the very same bytes, which is the case for
everything keyspace writes. Otherwise the line carries ``"encoding": "text"``
(the stored strings as text) or ``"encoding": "base64"`` (binary data; hash field
names are then base64 too). Either way, import writes back exactly the bytes
that were exported.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json, to_json

from ._cli_common import CliError, Declared, Keyspace, Progress, chunks, survey
from ._codec import _describe
from ._errors import CorruptValueError
from ._plan import Command, as_bytes, as_text, parse_reply
from ._sorted_sets import _pairs as _zset_pairs

__all__ = ["export", "import_"]

_BATCH = 500  # keys per round trip
_CHUNK = 1000  # members per write command
_READS: dict[str, tuple[str, ...]] = {
    "string": ("GET",),
    "hash": ("HGETALL",),
    "list": ("LRANGE", "0", "-1"),
    "set": ("SMEMBERS",),
    "zset": ("ZRANGE", "0", "-1", "WITHSCORES"),
}
_SHOWN = 10  # problems listed before "... and N more"

RedisType = Literal["string", "hash", "list", "set", "zset"]
Encoding = Literal["json", "text", "base64"]


# -- export -------------------------------------------------------------------------


def export(space: Keyspace, out: TextIO, progress: Progress) -> dict[str, int]:
    """Write every declared key under the root to ``out``; how many were written and skipped.

    Keys no declaration produces, and keys holding another Redis type than
    declared, are skipped (``keyspace audit`` lists them).
    """
    found = survey(space, progress)
    pairs = found.matched
    exported = wrong_kind = 0
    with progress.task("Exporting", len(pairs)) as advance:
        for batch in chunks(pairs, _BATCH):
            commands: list[Command] = []
            for declared, name in batch:
                word, *args = _READS[declared.redis_type]
                commands += [("TYPE", name), ("PTTL", name), (word, name, *args)]
            replies = space.executor.send(commands)
            for at, (declared, name) in enumerate(batch):
                found_type, ttl, data = replies[3 * at : 3 * at + 3]
                for reply in (found_type, ttl):
                    if isinstance(reply, Exception):
                        raise reply
                found_type = as_text(found_type)
                if found_type != declared.redis_type:
                    wrong_kind += found_type != "none"  # "none": deleted since the scan
                    continue
                if isinstance(data, Exception):
                    raise data
                record = _record(name, found_type, int(ttl), data)
                if record is not None:
                    out.write(to_json(record).decode() + "\n")
                    exported += 1
            advance(len(batch))
    return {"exported": exported, "wrong_kind": wrong_kind, "foreign": len(found.undeclared)}


def _record(name: str, redis_type: str, ttl: int, data: Any) -> dict[str, Any] | None:
    """The line of one key; ``None`` when it vanished between the commands that read it."""
    if ttl == -2 or data is None or (redis_type != "string" and not data):
        return None
    value: Any
    if redis_type == "hash":
        items = _items(data)
        names = [as_bytes(field) for field, _ in items]
        encoding, values = _encode([raw for _, raw in items], binary=not _is_text(names))
        keys = _texts(names, "base64" if encoding == "base64" else "text")
        value = dict(zip(keys, values, strict=True))
    elif redis_type == "zset":
        pairs = _zset_pairs(data)
        encoding, members = _encode([member for member, _ in pairs])
        value = [[m, _score(s)] for m, (_, s) in zip(members, pairs, strict=True)]
    elif redis_type == "set":
        encoding, value = _encode(sorted(as_bytes(member) for member in data))
    elif redis_type == "list":
        encoding, value = _encode(list(data))
    else:
        encoding, (value,) = _encode([data])
    # PTTL can say 0 for a key in its last millisecond; PEXPIRE needs a positive time.
    ttl_ms = None if ttl < 0 else max(ttl, 1)
    record = {"key": name, "type": redis_type, "ttl_ms": ttl_ms, "value": value}
    if encoding != "json":
        record["encoding"] = encoding
    return record


def _items(data: Any) -> list[tuple[Any, Any]]:
    """HGETALL as pairs: a dict after redis-py's callback (or RESP3), else a flat list."""
    if isinstance(data, Mapping):
        return list(data.items())
    return _zset_pairs(data)


def _encode(raws: Sequence[Any], binary: bool = False) -> tuple[Encoding, list[Any]]:
    """Stored strings as JSON values when that is exact, else as text, else as base64."""
    stored = [as_bytes(raw) for raw in raws]
    if not binary:
        try:
            values = [from_json(raw) for raw in stored]
        except ValueError:
            pass
        else:
            # "null" for NaN and infinities: such values are kept as text, so lines stay JSON.
            pairs = zip(values, stored, strict=True)
            if all(to_json(value, inf_nan_mode="null") == raw for value, raw in pairs):
                return "json", values
        if _is_text(stored):
            return "text", _texts(stored, "text")
    return "base64", _texts(stored, "base64")


def _is_text(raws: list[bytes]) -> bool:
    try:
        for raw in raws:
            raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _texts(raws: list[bytes], encoding: str) -> list[str]:
    if encoding == "base64":
        return [base64.b64encode(raw).decode("ascii") for raw in raws]
    return [raw.decode("utf-8") for raw in raws]


def _score(score: Any) -> float | str:
    number = float(score)
    return number if math.isfinite(number) else ("inf" if number > 0 else "-inf")


# -- import -------------------------------------------------------------------------


class _Record(BaseModel):
    """One exported line."""

    model_config = ConfigDict(extra="forbid")

    key: str
    type: RedisType
    ttl_ms: int | None = Field(default=None, gt=0)
    value: Any
    encoding: Encoding = "json"


def import_(
    space: Keyspace,
    lines: Iterable[str],
    progress: Progress,
    *,
    replace: bool = False,
    validate: bool = True,
) -> int:
    """Check every line, then write the keys; how many were written.

    Nothing is written when a line is malformed, names a key no declaration of
    the root produces, holds another type than declared or (with ``validate``)
    a value the declared type rejects, or, without ``replace``, when a key
    already exists. With ``replace``, each key is deleted before it is written.
    """
    records = _check(space, lines, validate)
    names = [name for name, _ in records]
    if not replace:
        existing = _existing(space, names)
        if existing:
            raise CliError(
                f"{len(existing)} of {len(names)} keys already exist, so nothing was imported"
                f" (pass --replace to overwrite them): {_some(existing)}",
                code=1,
            )
    pending: list[Command] = []
    with progress.task("Importing", len(records)) as advance:
        for name, writes in records:
            pending += [("DEL", name), *writes] if replace else writes
            advance(1)
            if len(pending) >= _CHUNK:
                _send(space, pending)
                pending = []
        _send(space, pending)
    return len(records)


def _check(
    space: Keyspace, lines: Iterable[str], validate: bool
) -> list[tuple[str, list[Command]]]:
    """Each line's key and write commands; ``CliError`` listing every bad line."""
    records: list[tuple[str, list[Command]]] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = _Record.model_validate_json(line)
            if record.key in seen:
                raise ValueError(f"key {record.key!r} repeats line {seen[record.key]}")
            seen[record.key] = number
            declared = space.match(record.key)
            if declared is None:
                raise ValueError(
                    f"key {record.key!r} matches no declared key of {space.root}"
                    f" under {space.prefix!r}"
                )
            if record.type != declared.redis_type:
                raise ValueError(
                    f"key {record.key!r} is a {record.type}, but {declared.template!r} declares"
                    f" {declared.kind} (a Redis {declared.redis_type})"
                )
            reply, writes = _decode(record)
            if validate:
                _validate(space, declared, record.key, reply)
        except ValidationError as exc:
            problems.append(f"line {number}: not an exported key: {_describe(exc)}")
        except (ValueError, CorruptValueError) as exc:
            problems.append(f"line {number}: {exc}")
        else:
            records.append((record.key, writes))
    if problems:
        more = len(problems) - _SHOWN
        shown = problems[:_SHOWN] + ([f"... and {more} more"] if more > 0 else [])
        raise CliError("nothing was imported:\n  " + "\n  ".join(shown), code=1)
    return records


def _decode(record: _Record) -> tuple[Any, list[Command]]:
    """The reply Redis would give for the key (to validate) and the commands that write it."""
    name, value, kind = record.key, record.value, record.type
    if kind == "hash":
        if not isinstance(value, dict) or not value:
            raise ValueError(f"key {name!r}: a hash is a non-empty object of fields")
        fields = _bytes(list(value), "base64" if record.encoding == "base64" else "text")
        values = _bytes(list(value.values()), record.encoding)
        reply: Any = dict(zip(fields, values, strict=True))
        flat = [item for pair in reply.items() for item in pair]
        writes = [("HSET", name, *chunk) for chunk in chunks(flat, 2 * _CHUNK)]
    elif kind == "zset":
        if not isinstance(value, list) or not value:
            raise ValueError(f"key {name!r}: a sorted set is a non-empty list of [member, score]")
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
            raise ValueError(f"key {name!r}: each sorted-set entry is a [member, score] pair")
        members = _bytes([member for member, _ in value], record.encoding)
        scores = [_number(score, name) for _, score in value]
        reply = [item for pair in zip(members, scores, strict=True) for item in pair]
        flat = [item for pair in zip(scores, members, strict=True) for item in pair]
        writes = [("ZADD", name, *chunk) for chunk in chunks(flat, 2 * _CHUNK)]
    elif kind in ("list", "set"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"key {name!r}: a {kind} is a non-empty list of members")
        reply = _bytes(value, record.encoding)
        word = "RPUSH" if kind == "list" else "SADD"
        writes = [(word, name, *chunk) for chunk in chunks(reply, _CHUNK)]
    else:
        (reply,) = _bytes([value], record.encoding)
        writes = [("SET", name, reply)]
    if record.ttl_ms is not None:
        writes.append(("PEXPIRE", name, record.ttl_ms))
    return reply, writes


def _bytes(values: list[Any], encoding: str) -> list[bytes]:
    if encoding == "json":
        return [to_json(value) for value in values]
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"with encoding {encoding!r}, every stored string is a JSON string")
    if encoding == "text":
        return [value.encode("utf-8") for value in values]
    try:
        return [base64.b64decode(value, validate=True) for value in values]
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def _number(score: Any, name: str) -> float:
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        return float(score)
    if score in ("inf", "+inf", "-inf"):
        return float(score)
    raise ValueError(f"key {name!r}: a score is a number, 'inf' or '-inf'; got {score!r}")


def _validate(space: Keyspace, declared: Declared, name: str, reply: Any) -> None:
    """Decode the value with the core's ``get()`` op, as the application will read it."""
    parse_reply(declared.read_op(name, space.repo), reply)


def _existing(space: Keyspace, names: list[str]) -> list[str]:
    existing: list[str] = []
    for batch in chunks(names, _BATCH):
        replies = space.executor.send([("EXISTS", name) for name in batch])
        existing += [name for name, found in zip(batch, replies, strict=True) if int(found)]
    return existing


def _send(space: Keyspace, commands: list[Command]) -> None:
    if not commands:
        return
    for reply in space.executor.send(commands):
        if isinstance(reply, Exception):
            raise reply


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
