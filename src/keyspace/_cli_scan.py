"""``keyspace scan`` and ``keyspace audit``: the live keys under a root, seen through
its declaration.

Both SCAN every key under the root's prefix (every primary on Redis Cluster) and
match each name to the declared template that produces it. ``scan`` then
summarises each template (how many keys, their remaining TTLs, their memory);
``audit`` reads every declared key with the core's own ``get()`` op, so a value
counts as valid exactly when the application could read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._cli_common import Declared, Keyspace, Progress, chunks, short, survey
from ._errors import CorruptValueError, KeyNotFoundError, PipelineError
from ._plan import Call, Op, as_text

__all__ = ["audit", "render_audit", "render_scan", "scan"]

_BATCH = 500  # keys per round trip


# -- scan ---------------------------------------------------------------------------


def scan(space: Keyspace, progress: Progress) -> dict[str, Any]:
    """Per declared template: live keys, remaining TTLs and memory; then the undeclared keys."""
    found = survey(space, progress)
    stats, memory_known = _stats(space, [name for _, name in found.matched], progress)
    templates: list[dict[str, Any]] = []
    for declared, names in found.groups.items():
        live = [stats[name] for name in names if name in stats]  # some may be gone by now
        expiring = [ttl for ttl, _ in live if ttl >= 0]
        sizes = [size for _, size in live if size is not None]
        templates.append(
            {
                "template": declared.template,
                "kind": declared.kind,
                "redis_type": declared.redis_type,
                "keys": len(live),
                "ttl_ms": {
                    "min": min(expiring, default=None),
                    "max": max(expiring, default=None),
                    "no_expiry": len(live) - len(expiring),
                },
                "memory": sum(sizes) if memory_known else None,
            }
        )
    return {
        "prefix": space.prefix,
        "keys": sum(t["keys"] for t in templates) + len(found.undeclared),
        "templates": templates,
        "undeclared": found.undeclared,
    }


def _stats(
    space: Keyspace, names: list[str], progress: Progress
) -> tuple[dict[str, tuple[int, int | None]], bool]:
    """``{name: (PTTL, MEMORY USAGE)}`` of the keys still there, and whether memory is known.

    Servers that refuse MEMORY USAGE (the in-memory Redis, restrictive ACLs)
    leave the memory unknown rather than failing the scan.
    """
    found: dict[str, tuple[int, int | None]] = {}
    memory = True
    with progress.task("Reading TTLs", len(names)) as advance:
        for batch in chunks(names, _BATCH):
            commands: list[tuple[Any, ...]] = [("PTTL", name) for name in batch]
            if memory:
                commands += [("MEMORY", "USAGE", name) for name in batch]
            replies = space.executor.send(commands)
            sizes: list[Any] = replies[len(batch) :] or [None] * len(batch)
            if any(isinstance(size, Exception) for size in sizes):
                memory = False
                sizes = [None] * len(batch)
            for name, ttl, size in zip(batch, replies[: len(batch)], sizes, strict=True):
                if isinstance(ttl, Exception):
                    raise ttl
                if int(ttl) != -2:  # -2: deleted since the scan
                    found[name] = (int(ttl), None if size is None else int(size))
            advance(len(batch))
    return found, memory


def render_scan(report: dict[str, Any], limit: int) -> str:
    """The scan report as text: one row per template, then the undeclared keys."""
    undeclared = report["undeclared"]
    lines = [
        f"{report['prefix'] or '(no prefix)'}: {report['keys']} keys,"
        f" {report['keys'] - len(undeclared)} declared, {len(undeclared)} undeclared",
        "",
    ]
    rows = [("TEMPLATE", "KIND", "KEYS", "TTL", "MEMORY")]
    for entry in report["templates"]:
        rows.append(
            (
                entry["template"],
                short(entry["kind"]),
                str(entry["keys"]),
                _ttl_range(entry["keys"], entry["ttl_ms"]),
                "-" if entry["memory"] is None or not entry["keys"] else _size(entry["memory"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"
            f"  {row[3]:<{widths[3]}}  {row[4]:>{widths[4]}}".rstrip()
        )
    if undeclared:
        lines += ["", f"Undeclared keys ({len(undeclared)}):", *_listed(undeclared, limit)]
    return "\n".join(lines)


def _ttl_range(count: int, ttl: dict[str, Any]) -> str:
    if count == 0:
        return "-"
    if ttl["min"] is None:
        return "no expiry"
    shown, longest = _duration(ttl["min"]), _duration(ttl["max"])
    if longest != shown:
        shown += f"..{longest}"
    if ttl["no_expiry"]:
        shown += f" ({ttl['no_expiry']} no expiry)"
    return shown


def _duration(ms: int) -> str:
    """``850ms``, ``4.5s``, ``2m05s``, ``3h20m``, ``2d04h``."""
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _listed(lines: list[str], limit: int) -> list[str]:
    shown = [f"  {line}" for line in (lines if limit <= 0 else lines[:limit])]
    if 0 < limit < len(lines):
        shown.append(f"  ... and {len(lines) - limit} more (--limit 0 lists all, --json too)")
    return shown


# -- audit --------------------------------------------------------------------------


def audit(space: Keyspace, progress: Progress) -> dict[str, Any]:
    """Every key under the root, checked: its Redis type, and its value decoded as
    ``get()`` would; plus the keys no declaration produces."""
    found = survey(space, progress)
    invalid: list[dict[str, str]] = []
    wrong_kind: list[dict[str, str]] = []
    checked = 0
    pairs = found.matched
    with progress.task("Checking values", len(pairs)) as advance:
        for batch in chunks(pairs, _BATCH):
            results = _read(space, batch)
            for (declared, name), found_type, value in zip(
                batch, results[::2], results[1::2], strict=True
            ):
                if isinstance(found_type, Exception):
                    raise found_type
                if found_type == "none":  # deleted since the scan
                    continue
                checked += 1
                where = {"key": name, "template": declared.template, "kind": declared.kind}
                if found_type != declared.redis_type:
                    wrong_kind.append(
                        {**where, "expected": declared.redis_type, "found": found_type}
                    )
                elif isinstance(value, CorruptValueError):
                    invalid.append({**where, "error": str(value)})
                elif isinstance(value, Exception) and not isinstance(value, KeyNotFoundError):
                    raise value
            advance(len(batch))
    return {
        "prefix": space.prefix,
        "checked": checked,
        "invalid": invalid,
        "wrong_kind": wrong_kind,
        "foreign": found.undeclared,
        "ok": not (invalid or wrong_kind or found.undeclared),
    }


def _read(space: Keyspace, batch: Sequence[tuple[Declared, str]]) -> list[Any]:
    """TYPE and the core's ``get()`` op of each key, in one round trip; errors in place."""
    ops: list[Op[Any]] = []
    for declared, name in batch:
        ops.append(Call(("TYPE", name), as_text))
        ops.append(declared.read_op(name, space.repo))
    try:
        return space.executor.pipeline(ops, transaction=False)
    except PipelineError as exc:  # values that do not decode, keys of another type
        return exc.results


def render_audit(report: dict[str, Any], limit: int) -> str:
    """The audit report as text."""
    invalid, wrong, foreign = report["invalid"], report["wrong_kind"], report["foreign"]
    head = f"{report['prefix'] or '(no prefix)'}: checked {report['checked']} declared keys"
    if report["ok"]:
        return head + "; all valid, no foreign keys"
    lines = [
        f"{head}; {len(invalid)} invalid, {len(wrong)} of the wrong kind,"
        f" {len(foreign)} foreign (undeclared)"
    ]
    if invalid:
        lines += ["", f"Invalid values ({len(invalid)}):"]
        lines += _listed([f"{e['key']}  [{e['template']}]: {e['error']}" for e in invalid], limit)
    if wrong:
        lines += ["", f"Wrong kind ({len(wrong)}):"]
        lines += _listed(
            [
                f"{e['key']}  [{e['template']}]: declared {short(e['kind'])}"
                f" (a Redis {e['expected']}), holds a Redis {e['found']}"
                for e in wrong
            ],
            limit,
        )
    if foreign:
        lines += ["", f"Foreign keys ({len(foreign)}):", *_listed(foreign, limit)]
    return "\n".join(lines)
