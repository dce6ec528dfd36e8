"""What the benchmark scripts share: cases, interleaved rounds, traffic counts, servers, reports.

Most scripts measure cases with two sides, keyspace and a baseline (hand-written redis-py code
doing the same work, or another way of doing it with keyspace); a line-up measures one operation
done several ways (keyspace, raw redis-py, peer libraries). Either way the sides run in
interleaved rounds, and the round trips and commands each side sends are counted.
``benchmarks/README.md`` explains the method.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pydantic
import redis
import redis.asyncio
from _target import (
    bench_settings,
    clients,
    delete_matching,
    dist_version,
    is_memory,
    public_url,
    refuse_foreign_keys,
    server_version,
    single_server_clients,
    start_redis_server,
    target,
)

import keyspace

# The scripts import everything from here, the server helpers of _target included.
__all__ = [
    "Case",
    "CaseResult",
    "Lineup",
    "LineupResult",
    "LineupSide",
    "Side",
    "SideResult",
    "Timer",
    "Traffic",
    "TrafficCounter",
    "add_common_arguments",
    "baselines",
    "bench_settings",
    "clients",
    "commands_text",
    "comparison_tables",
    "delete_matching",
    "dist_version",
    "duration",
    "evaluate",
    "evaluate_lineups",
    "format_table",
    "is_memory",
    "keyspace_revision",
    "lineup_table",
    "machine",
    "measure",
    "paired_ratio",
    "pin",
    "positive",
    "public_url",
    "refuse_foreign_keys",
    "report",
    "run_on_target",
    "run_parameters",
    "server_version",
    "single_server_clients",
    "spread",
    "start_redis_server",
    "summarize",
    "target",
    "timed_async",
    "timed_sync",
    "traffic_per_op",
    "warm_up",
    "write_report",
]

Timer = Callable[[int], Awaitable[float]]
"""Runs ``n`` operations and returns the seconds they took (setup it does is not counted)."""


# -- cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One benchmarked operation: its keyspace side and its baseline side.

    ``ops`` overrides the run's operations per round (a clear of 100,000 keys is one operation);
    ``items`` is what one operation handles (keys loaded, sets queued, keys cleared), for the
    cost per item.
    """

    name: str
    keyspace_code: str
    raw_code: str
    keyspace: Timer
    raw: Timer
    client: Any = None  # the client both sides talk through; None for cases without I/O
    ops: int | None = None
    items: int = 1
    baseline: str = "raw redis-py"

    @property
    def io(self) -> bool:
        """Whether the case talks to Redis (and so has round trips to count)."""
        return self.client is not None


def timed_async(body: Callable[[int], Awaitable[None]]) -> Timer:
    """Time a coroutine function that runs ``n`` operations."""

    async def timer(n: int) -> float:
        start = time.perf_counter()
        await body(n)
        return time.perf_counter() - start

    return timer


def timed_sync(body: Callable[[int], None]) -> Timer:
    """Time a blocking function that runs ``n`` operations (called from the event loop)."""

    async def timer(n: int) -> float:
        start = time.perf_counter()
        body(n)
        return time.perf_counter() - start

    return timer


# -- traffic ------------------------------------------------------------------------------


class TrafficCounter:
    """Counts what clients put on the wire: each write of packed commands to one of their
    connections is one round trip, and the commands in it are counted by name.

    It patches redis-py's connection classes (sync and asyncio) while :meth:`counting` is
    active, so the timed rounds run unpatched, and it sees every path alike:
    ``execute_command``, redis-py pipelines and transactions (with their MULTI and EXEC),
    Redis Cluster's per-node connections, and keyspace's own batched sends. A read that a
    client answers from its own cache sends nothing and counts nothing. Only the connections
    of the clients given to :meth:`counting` count, so a side's setup through a client of its
    own is left out.
    """

    def __init__(self) -> None:
        self.round_trips = 0
        self.commands: Counter[str] = Counter()

    @contextlib.contextmanager
    def counting(self, *clients: Any) -> Iterator[None]:
        """Count the traffic of ``clients`` inside the ``with`` block."""
        classes = (redis.connection.AbstractConnection, redis.asyncio.connection.AbstractConnection)
        originals = [(cls, vars(cls)["send_packed_command"]) for cls in classes]
        for cls, send in originals:
            cls.send_packed_command = self._sending(send, clients)  # type: ignore[method-assign]
        try:
            yield
        finally:
            for cls, send in originals:
                cls.send_packed_command = send  # type: ignore[method-assign]

    def _sending(self, send: Callable[..., Any], clients: tuple[Any, ...]) -> Callable[..., Any]:
        def send_packed_command(connection: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
            if any(connection in _connections(client) for client in clients):
                self.round_trips += 1
                self.commands.update(_command_names(command))
            return send(connection, command, *args, **kwargs)

        return send_packed_command


def _connections(client: Any) -> list[Any]:
    """The connections a client holds now: its pool's, or every cluster node's."""
    if isinstance(client, (redis.RedisCluster, redis.asyncio.RedisCluster)):
        found: list[Any] = []
        nodes: list[Any] = client.get_nodes()  # sync and asyncio ClusterNode differ
        for node in nodes:
            if node.redis_connection is not None and hasattr(
                node.redis_connection, "connection_pool"
            ):
                found.extend(_connections(node.redis_connection))  # sync: a client per node
            found.extend(getattr(node, "_connections", ()))  # asyncio: the node's own list
        return found
    pool = client.connection_pool
    single = getattr(client, "connection", None)
    held = [*pool._available_connections, *pool._in_use_connections, *([single] if single else [])]
    # A caching client's pool holds proxies that send through the connection they wrap.
    return [getattr(connection, "_conn", connection) for connection in held]


def _command_names(packed: Any) -> list[str]:
    """The names of the commands in RESP-packed output (bytes or a list of chunks)."""
    data = (
        packed if isinstance(packed, (bytes, str)) else b"".join(bytes(chunk) for chunk in packed)
    )
    data = data.encode() if isinstance(data, str) else data
    names: list[str] = []
    at = 0
    while at < len(data):
        end = data.index(b"\r\n", at)
        assert data[at : at + 1] == b"*", f"not a RESP command at byte {at}"
        arguments = int(data[at + 1 : end])
        at = end + 2
        for position in range(arguments):
            end = data.index(b"\r\n", at)
            length = int(data[at + 1 : end])
            if position == 0:
                names.append(data[end + 2 : end + 2 + length].decode().upper())
            at = end + 2 + length + 2
    return names


@dataclass
class Traffic:
    """What one side sends per operation."""

    round_trips_per_op: float
    commands_per_op: dict[str, float]


async def traffic_per_op(clients: Sequence[Any], timer: Timer, ops: int) -> Traffic:
    """Run ``ops`` operations of one side with counting on (on every client the side talks
    through); its traffic per operation."""
    counter = TrafficCounter()
    with counter.counting(*clients):
        await timer(ops)
    commands = {name: count / ops for name, count in sorted(counter.commands.items())}
    return Traffic(counter.round_trips / ops, commands)


# -- measuring ----------------------------------------------------------------------------


@dataclass
class SideResult:
    """One side of one case: per-round throughput and its summary."""

    median_ops_per_s: float
    min_ops_per_s: float
    max_ops_per_s: float
    median_us_per_op: float
    rounds_ops_per_s: list[float]
    round_trips_per_op: float | None
    commands_per_op: dict[str, float] | None


@dataclass
class CaseResult:
    """Both sides of one case and how they compare."""

    name: str
    io: bool
    keyspace_code: str
    raw_code: str
    baseline: str
    ops_per_round: int
    items_per_op: int
    keyspace: SideResult
    raw: SideResult
    ratio: float
    """Throughput ratio keyspace/baseline of the medians: above 1 means keyspace is faster."""
    paired_ratio: float
    """Median over rounds of each round's keyspace/baseline ratio (robust to drift)."""
    extra_us_per_op: float
    """Median time per operation of keyspace minus the baseline's, in microseconds."""


def summarize(samples: list[float], traffic: Traffic | None) -> SideResult:
    """Summarize one side's per-round ops/s."""
    median = statistics.median(samples)
    return SideResult(
        median,
        min(samples),
        max(samples),
        1e6 / median,
        samples,
        None if traffic is None else traffic.round_trips_per_op,
        None if traffic is None else traffic.commands_per_op,
    )


def paired_ratio(first: SideResult, second: SideResult) -> float:
    """The median of the per-round throughput ratios ``first / second``: both sides of a round
    ran back to back."""
    pairs = zip(first.rounds_ops_per_s, second.rounds_ops_per_s, strict=True)
    return statistics.median(a / b for a, b in pairs)


Contest = tuple[str, int, Sequence[tuple[str, Timer]]]
"""What the rounds run: a name, the operations per round, and its sides (name, timer)."""


async def warm_up(contests: Sequence[Contest]) -> None:
    """Run every side of every contest once (connections, caches, code paths)."""
    for _, n, sides in contests:
        for _, timer in sides:
            await timer(n)


async def measure(contests: Sequence[Contest], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds: each contest's sides run back to back, and which goes first rotates
    from round to round (with two sides, they alternate)."""
    samples: dict[str, dict[str, list[float]]] = {
        name: {side: [] for side, _ in sides} for name, _, sides in contests
    }
    for round_index in range(rounds):
        for name, n, sides in contests:
            shift = round_index % len(sides)
            for side, timer in [*sides[shift:], *sides[:shift]]:
                elapsed = await timer(n)
                samples[name][side].append(n / elapsed)
    return samples


async def evaluate(cases: Sequence[Case], rounds: int, ops: int) -> list[CaseResult]:
    """Warm up, measure, count traffic, and compare the two sides of every case."""
    contests = [
        (case.name, case.ops or ops, [("keyspace", case.keyspace), ("raw", case.raw)])
        for case in cases
    ]
    await warm_up(contests)
    samples = await measure(contests, rounds)
    results = []
    for case in cases:
        n = case.ops or ops
        ks_traffic = raw_traffic = None
        if case.io:
            ks_traffic = await traffic_per_op([case.client], case.keyspace, n)
            raw_traffic = await traffic_per_op([case.client], case.raw, n)
        ks = summarize(samples[case.name]["keyspace"], ks_traffic)
        raw = summarize(samples[case.name]["raw"], raw_traffic)
        results.append(
            CaseResult(
                name=case.name,
                io=case.io,
                keyspace_code=case.keyspace_code,
                raw_code=case.raw_code,
                baseline=case.baseline,
                ops_per_round=n,
                items_per_op=case.items,
                keyspace=ks,
                raw=raw,
                ratio=ks.median_ops_per_s / raw.median_ops_per_s,
                paired_ratio=paired_ratio(ks, raw),
                extra_us_per_op=ks.median_us_per_op - raw.median_us_per_op,
            )
        )
    return results


# -- line-ups: one operation, several ways ------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One way of doing a line-up's operation: who does it, the code, and its timer.

    ``clients`` are the clients the side talks through, whose traffic is counted (a library that
    builds its own client gets it from the script, so that it can be counted); empty for a side
    without I/O.
    """

    name: str
    code: str
    timer: Timer
    clients: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Lineup:
    """One operation done several ways, measured side by side; ``baseline`` names the side the
    others are compared with."""

    name: str
    sides: tuple[Side, ...]
    baseline: str
    ops: int | None = None

    @property
    def io(self) -> bool:
        """Whether the operation talks to Redis (and so has round trips to count)."""
        return any(side.clients for side in self.sides)


@dataclass
class LineupSide:
    """One side of a line-up: its timing and traffic, and how it compares with the baseline."""

    name: str
    code: str
    timing: SideResult
    time_vs_baseline: float
    """Median time per operation over the baseline's: 2.0 takes twice the baseline's time."""
    paired_time_vs_baseline: float
    """Median over rounds of each round's time ratio to the baseline (robust to drift)."""
    extra_us_per_op: float
    """Median time per operation minus the baseline's, in microseconds."""


@dataclass
class LineupResult:
    """Every side of one line-up, the baseline first."""

    name: str
    io: bool
    baseline: str
    ops_per_round: int
    sides: list[LineupSide]


async def evaluate_lineups(lineups: Sequence[Lineup], rounds: int, ops: int) -> list[LineupResult]:
    """Warm up, measure in interleaved rounds, count traffic, and compare every side of every
    line-up with its baseline."""
    contests = [
        (lineup.name, lineup.ops or ops, [(side.name, side.timer) for side in lineup.sides])
        for lineup in lineups
    ]
    await warm_up(contests)
    samples = await measure(contests, rounds)
    results = []
    for lineup in lineups:
        n = lineup.ops or ops
        timings = {}
        for side in lineup.sides:
            traffic = await traffic_per_op(side.clients, side.timer, n) if side.clients else None
            timings[side.name] = summarize(samples[lineup.name][side.name], traffic)
        base = timings[lineup.baseline]
        ordered = sorted(lineup.sides, key=lambda side: side.name != lineup.baseline)
        sides = [
            LineupSide(
                name=side.name,
                code=side.code,
                timing=timings[side.name],
                time_vs_baseline=base.median_ops_per_s / timings[side.name].median_ops_per_s,
                paired_time_vs_baseline=paired_ratio(base, timings[side.name]),
                extra_us_per_op=timings[side.name].median_us_per_op - base.median_us_per_op,
            )
            for side in ordered
        ]
        results.append(LineupResult(lineup.name, lineup.io, lineup.baseline, n, sides))
    return results


def lineup_table(results: Sequence[LineupResult]) -> str:
    """Line-ups as one table, a row per side: time per operation, its range over rounds, the
    time ratios to the baseline (``x base``: 2.00 takes twice its time), and the traffic."""
    rows = [
        (
            "case",
            "side",
            "time/op",
            "min-max",
            "x base",
            "paired",
            "+us/op",
            "RT/op",
            "commands/op",
        )
    ]
    for result in results:
        for index, side in enumerate(result.sides):
            rows.append(
                (
                    result.name if index == 0 else "",
                    side.name,
                    duration(1 / side.timing.median_ops_per_s),
                    _time_spread(side.timing),
                    f"{side.time_vs_baseline:.2f}" if result.io else "n/a",
                    f"{side.paired_time_vs_baseline:.2f}" if result.io else "n/a",
                    f"{side.extra_us_per_op:+.2f}",
                    _trips(side.timing),
                    commands_text(side.timing.commands_per_op),
                )
            )
    return format_table(rows, left=(0, 1, 8))


# -- reporting ----------------------------------------------------------------------------


def keyspace_revision() -> str | None:
    """The git commit of the imported keyspace, ``+dirty`` when its sources have local edits."""
    source = Path(keyspace.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, text=True, timeout=10
        )
        done.check_returncode()
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def machine(server: str) -> dict[str, Any]:
    """The machine and software the numbers were measured on."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "keyspace": keyspace.__version__,
        "keyspace_revision": keyspace_revision(),
        "redis_py": redis.__version__,
        "hiredis": dist_version("hiredis") if importlib.util.find_spec("hiredis") else None,
        "pydantic": pydantic.__version__,
        "pydantic_core": dist_version("pydantic-core"),
        "server": server,
    }


def report(benchmark: str, server: str, parameters: dict[str, Any], **body: Any) -> dict[str, Any]:
    """The JSON document of a run; ``body`` holds its results (dataclasses are converted)."""
    converted = {
        name: [asdict(item) for item in value] if isinstance(value, list) else value
        for name, value in body.items()
    }
    return {
        "benchmark": benchmark,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(server),
        "parameters": parameters,
        **converted,
    }


def write_report(path: Path, document: dict[str, Any]) -> None:
    """Write the report as JSON, creating its directory, and print where it went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"JSON written to {path}")


def format_table(rows: Sequence[Sequence[str]], left: Collection[int] = (0,)) -> str:
    """A plain-text table whose first row is the header: the columns numbered in ``left``
    left-aligned, the others (numbers) right-aligned."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "-" * max(len(line(row)) for row in rows)
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def _unit(seconds: float) -> tuple[float, str]:
    if seconds >= 1:
        return 1.0, "s"
    if seconds >= 1e-3:
        return 1e3, "ms"
    return 1e6, "us"


def duration(seconds: float) -> str:
    """A duration in s, ms or us, whichever keeps it at 1 or more."""
    scale, unit = _unit(seconds)
    return f"{seconds * scale:.4g} {unit}"


def spread(median: float, low: float, high: float) -> str:
    """``low-high`` in the unit :func:`duration` picks for ``median``."""
    scale, _ = _unit(median)
    return f"{low * scale:.4g}-{high * scale:.4g}"


def commands_text(commands: dict[str, float] | None) -> str:
    """Commands per operation, compactly: ``GET x10``, ``SCAN x101 UNLINK x200``."""
    if commands is None:
        return "-"
    return " ".join(f"{name} x{_count(count)}" for name, count in commands.items()) or "none"


def _count(count: float) -> str:
    return f"{count:,.0f}" if count == round(count) else f"{count:,.2f}"


def comparison_tables(results: Sequence[CaseResult]) -> str:
    """Timing and traffic of cases measured in time per operation (batches, whole clusters).

    ``ratio`` and ``paired`` are keyspace's throughput over the baseline's, as in bench_core:
    above 1 keyspace is faster.
    """
    timing = [("case", "keyspace", "min-max", "baseline", "min-max", "ratio", "paired", "+us/item")]
    traffic = [("case", "RT/op ks", "RT/op base", "commands/op ks", "commands/op base")]
    for result in results:
        ks, raw = result.keyspace, result.raw
        timing.append(
            (
                result.name,
                duration(1 / ks.median_ops_per_s),
                _time_spread(ks),
                duration(1 / raw.median_ops_per_s),
                _time_spread(raw),
                f"{result.ratio:.2f}",
                f"{result.paired_ratio:.2f}",
                f"{result.extra_us_per_op / result.items_per_op:+.3f}",
            )
        )
        traffic.append(
            (
                result.name,
                _trips(ks),
                _trips(raw),
                commands_text(ks.commands_per_op),
                commands_text(raw.commands_per_op),
            )
        )
    return f"{format_table(timing)}\n\n{format_table(traffic)}"


def _time_spread(side: SideResult) -> str:
    return spread(1 / side.median_ops_per_s, 1 / side.max_ops_per_s, 1 / side.min_ops_per_s)


def _trips(side: SideResult) -> str:
    return "-" if side.round_trips_per_op is None else f"{side.round_trips_per_op:.4g}"


def baselines(results: Sequence[CaseResult]) -> str:
    """What each case compares, one line per case."""
    return "\n".join(
        f"{result.name}: keyspace `{result.keyspace_code}` vs {result.baseline} `{result.raw_code}`"
        for result in results
    )


# -- command line -------------------------------------------------------------------------


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_common_arguments(parser: argparse.ArgumentParser, default_json: Path) -> None:
    """``--url``, ``--json`` and ``--cpu``, as every script has them."""
    parser.add_argument(
        "--url",
        help="server to benchmark (redis://..., or memory:// for the embedded fakeredis, whose"
        " timings are meaningless); default: start a private redis-server from PATH",
    )
    parser.add_argument(
        "--json", type=Path, default=default_json, help=f"where to write JSON ({default_json})"
    )
    parser.add_argument(
        "--cpu",
        type=int,
        help="pin this process, and the redis-server it starts, to this CPU (Linux); on small"
        " VMs this removes the bimodal noise of cross-CPU wake-ups",
    )


def pin(cpu: int | None) -> list[int] | None:
    """Pin this process (and so the children it starts) to ``cpu``; return the CPUs it may use."""
    if not hasattr(os, "sched_setaffinity"):
        if cpu is not None:
            raise SystemExit("--cpu needs os.sched_setaffinity (Linux)")
        return None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return sorted(os.sched_getaffinity(0))


def run_parameters(
    args: argparse.Namespace, cpus: list[int] | None, kind: str, url: str
) -> dict[str, Any]:
    """The parameters every report records about where and how it ran."""
    return {
        "smoke": args.smoke,
        "pinned_cpu": args.cpu,
        "allowed_cpus": cpus,
        "target": kind,
        "url": public_url(url),
    }


MEMORY_NOTE = "note: memory:// runs the embedded fakeredis; its timings are meaningless"


class Measured(Protocol):
    """What a script's run returns: at least the version of the server it measured."""

    @property
    def server_version(self) -> str: ...


MeasuredT = TypeVar("MeasuredT", bound=Measured)


def run_on_target(
    args: argparse.Namespace, title: str, measure: Callable[[str], MeasuredT]
) -> tuple[MeasuredT, dict[str, Any]]:
    """Run ``measure(url)`` on the server of ``--url`` (or a private redis-server), pinned to
    ``--cpu``, and say what ran where.

    Before the run it prints ``title`` (which ends with the ``,`` or ``;`` that leads to the
    target), what the target is, its URL without credentials and the pinned CPU; after it, the
    server's version and, on ``memory://``, that the timings mean nothing. Returns what
    ``measure`` returned and the :func:`run_parameters` every report records.
    """
    cpus = pin(args.cpu)
    with target(args.url) as (url, kind):
        pinned = "" if args.cpu is None else f", pinned to CPU {args.cpu}"
        print(f"{title} {kind} at {public_url(url)}{pinned}", flush=True)
        result = measure(url)
    print(f"server: {result.server_version}")
    if is_memory(url):
        print(MEMORY_NOTE)
    return result, run_parameters(args, cpus, kind, url)
