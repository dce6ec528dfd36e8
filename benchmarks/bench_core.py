"""keyspace vs raw redis-py, side by side: the core key operations, async and sync.

Run ``python benchmarks/bench_core.py --help``; ``benchmarks/README.md`` explains the method and
how to read the table.

Every case runs the same Redis commands on the same keys through the same client twice: once
through keyspace, once as hand-written redis-py code that does the equivalent work (pydantic
JSON for the value, ``SET key data EX 120``). The two sides are measured in interleaved rounds
of sequentially awaited operations; the table reports median throughput per side, the spread
across rounds, their ratio, and the round trips each side makes per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pydantic
import redis
import redis.asyncio
from pydantic import TypeAdapter

import keyspace
from keyspace import Cluster, Key, RedisSettings, Repository, SyncRepository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 2000
SMOKE_ROUNDS = 2
SMOKE_OPS = 20
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "core.json"

TTL_SECONDS = 120
BOUND_USER_ID = 1
SHARED_REDIS_PORT = 6379  # the shared server: never started on, never flushed
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


class User(Cluster, prefix="user:{user_id}", ttl=TTL_SECONDS):
    """The benchmarked cluster: ``root:user:{user_id}:age`` holds an ``int``, TTL 120 s."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix="root"):
    """The benchmarked keyspace root."""

    user: User


AGE: TypeAdapter[int] = TypeAdapter(int)
"""The raw side's codec: the same pydantic JSON keyspace stores for a ``Key[int]``."""

Timer = Callable[[int], Awaitable[float]]
"""Runs ``n`` operations back to back and returns the elapsed seconds."""


def raw_key(user_id: int) -> str:
    """The Redis name keyspace renders for ``repo.user(user_id).age``."""
    return f"root:user:{user_id}:age"


# -- cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One benchmarked operation: its keyspace side and its raw redis-py side."""

    name: str
    keyspace_code: str
    raw_code: str
    keyspace: Timer
    raw: Timer
    client: Any = None  # the client both sides talk through; None for cases without I/O

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


def async_cases(repo: Repository[Root], client: redis.asyncio.Redis) -> list[Case]:
    """Cases 1-4 for ``Repository`` against raw ``redis.asyncio`` on the same client."""
    bound = repo.user(BOUND_USER_ID).age
    bound_name = raw_key(BOUND_USER_ID)

    async def ks_set_bound(n: int) -> None:
        for i in range(n):
            await bound.set(i)

    async def raw_set_bound(n: int) -> None:
        for i in range(n):
            await client.set(bound_name, AGE.dump_json(i), ex=TTL_SECONDS)

    async def ks_get_bound(n: int) -> None:
        for _ in range(n):
            await bound.get()

    async def raw_get_bound(n: int) -> None:
        for _ in range(n):
            data = await client.get(bound_name)
            _ = 0 if data is None else AGE.validate_json(data)

    async def ks_set_chained(n: int) -> None:
        for i in range(n):
            await repo.user(i).age.set(i)

    async def raw_set_chained(n: int) -> None:
        for i in range(n):
            await client.set(f"root:user:{i}:age", AGE.dump_json(i), ex=TTL_SECONDS)

    async def ks_get_chained(n: int) -> None:
        for i in range(n):
            await repo.user(i).age.get()

    async def raw_get_chained(n: int) -> None:
        for i in range(n):
            data = await client.get(f"root:user:{i}:age")
            _ = 0 if data is None else AGE.validate_json(data)

    raw_get = "data = await r.get(key); 0 if data is None else AGE.validate_json(data)"
    return [
        Case(
            "async set (bound key)",
            "await key.set(i)",
            "await r.set(key, AGE.dump_json(i), ex=120)",
            timed_async(ks_set_bound),
            timed_async(raw_set_bound),
            client,
        ),
        Case(
            "async get (bound key)",
            "await key.get()",
            raw_get,
            timed_async(ks_get_bound),
            timed_async(raw_get_bound),
            client,
        ),
        Case(
            "async set (chained)",
            "await repo.user(i).age.set(i)",
            'await r.set(f"root:user:{i}:age", AGE.dump_json(i), ex=120)',
            timed_async(ks_set_chained),
            timed_async(raw_set_chained),
            client,
        ),
        Case(
            "async get (chained)",
            "await repo.user(i).age.get()",
            raw_get.replace("key", 'f"root:user:{i}:age"'),
            timed_async(ks_get_chained),
            timed_async(raw_get_chained),
            client,
        ),
    ]


def sync_cases(repo: SyncRepository[Root], client: redis.Redis) -> list[Case]:
    """Cases 1-4 for ``SyncRepository`` against raw sync redis-py on the same client."""
    bound = repo.user(BOUND_USER_ID).age
    bound_name = raw_key(BOUND_USER_ID)

    def ks_set_bound(n: int) -> None:
        for i in range(n):
            bound.set(i)

    def raw_set_bound(n: int) -> None:
        for i in range(n):
            client.set(bound_name, AGE.dump_json(i), ex=TTL_SECONDS)

    def ks_get_bound(n: int) -> None:
        for _ in range(n):
            bound.get()

    def raw_get_bound(n: int) -> None:
        for _ in range(n):
            data = client.get(bound_name)
            _ = 0 if data is None else AGE.validate_json(data)

    def ks_set_chained(n: int) -> None:
        for i in range(n):
            repo.user(i).age.set(i)

    def raw_set_chained(n: int) -> None:
        for i in range(n):
            client.set(f"root:user:{i}:age", AGE.dump_json(i), ex=TTL_SECONDS)

    def ks_get_chained(n: int) -> None:
        for i in range(n):
            repo.user(i).age.get()

    def raw_get_chained(n: int) -> None:
        for i in range(n):
            data = client.get(f"root:user:{i}:age")
            _ = 0 if data is None else AGE.validate_json(data)

    raw_get = "data = r.get(key); 0 if data is None else AGE.validate_json(data)"
    return [
        Case(
            "sync set (bound key)",
            "key.set(i)",
            "r.set(key, AGE.dump_json(i), ex=120)",
            timed_sync(ks_set_bound),
            timed_sync(raw_set_bound),
            client,
        ),
        Case(
            "sync get (bound key)",
            "key.get()",
            raw_get,
            timed_sync(ks_get_bound),
            timed_sync(raw_get_bound),
            client,
        ),
        Case(
            "sync set (chained)",
            "repo.user(i).age.set(i)",
            'r.set(f"root:user:{i}:age", AGE.dump_json(i), ex=120)',
            timed_sync(ks_set_chained),
            timed_sync(raw_set_chained),
            client,
        ),
        Case(
            "sync get (chained)",
            "repo.user(i).age.get()",
            raw_get.replace("key", 'f"root:user:{i}:age"'),
            timed_sync(ks_get_chained),
            timed_sync(raw_get_chained),
            client,
        ),
    ]


def bind_case(repo: Repository[Root]) -> Case:
    """Case 5: binding ``repo.user(i).age`` without I/O; the raw side formats the key name."""

    def ks_bind(n: int) -> None:
        for i in range(n):
            _ = repo.user(i).age

    def raw_bind(n: int) -> None:
        for i in range(n):
            _ = f"root:user:{i}:age"

    return Case(
        "bind only (no I/O)",
        "repo.user(i).age",
        'f"root:user:{i}:age"',
        timed_sync(ks_bind),
        timed_sync(raw_bind),
    )


# -- round trips --------------------------------------------------------------------------


class RoundTripCounter:
    """Counts a client's round trips: each ``execute_command`` and each pipeline ``execute``.

    It patches the client *instance* (``r.set()``, ``r.get()`` and keyspace's executors all
    call ``self.execute_command``), and only while :meth:`counting` is active, so that the
    timed rounds run on the unpatched client.
    """

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def counting(self, client: Any) -> Iterator[None]:
        """Count the round trips ``client`` makes inside the ``with`` block."""
        is_async = isinstance(client, redis.asyncio.Redis)
        client.execute_command = self._wrap(client.execute_command, is_async)
        make_pipeline = client.pipeline

        def pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = make_pipeline(*args, **kwargs)
            pipe.execute = self._wrap(pipe.execute, is_async)
            return pipe

        client.pipeline = pipeline
        try:
            yield
        finally:
            del client.execute_command, client.pipeline

    def _wrap(self, method: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return method(*args, **kwargs)

        async def counted_async(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await method(*args, **kwargs)

        return counted_async if is_async else counted


async def round_trips_per_op(client: Any, timer: Timer, ops: int) -> float:
    """Run ``ops`` operations of one side with counting on and return round trips per op."""
    counter = RoundTripCounter()
    with counter.counting(client):
        await timer(ops)
    return counter.count / ops


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


@dataclass
class CaseResult:
    """Both sides of one case and how they compare."""

    name: str
    io: bool
    keyspace_code: str
    raw_code: str
    keyspace: SideResult
    raw: SideResult
    ratio: float
    """Throughput ratio keyspace/raw of the medians: above 1 means keyspace is faster."""
    paired_ratio: float
    """Median over rounds of each round's keyspace/raw ratio (robust to drift between rounds)."""
    extra_us_per_op: float
    """Median time per operation of keyspace minus raw, in microseconds."""


def summarize(samples: list[float], round_trips: float | None) -> SideResult:
    """Summarize one side's per-round ops/s."""
    median = statistics.median(samples)
    return SideResult(median, min(samples), max(samples), 1e6 / median, samples, round_trips)


def paired_ratio(keyspace: SideResult, raw: SideResult) -> float:
    """The median of the per-round ratios: both sides of a round ran back to back."""
    pairs = zip(keyspace.rounds_ops_per_s, raw.rounds_ops_per_s, strict=True)
    return statistics.median(ks / raw for ks, raw in pairs)


async def warm_up(cases: Sequence[Case], ops: int) -> None:
    """Run every side of every case once (connections, caches, code paths)."""
    for case in cases:
        await case.keyspace(ops)
        await case.raw(ops)


async def measure(
    cases: Sequence[Case], rounds: int, ops: int
) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds: each case's sides run back to back, alternating which goes first."""
    samples: dict[str, dict[str, list[float]]] = {
        case.name: {"keyspace": [], "raw": []} for case in cases
    }
    for round_index in range(rounds):
        for case in cases:
            sides = [("keyspace", case.keyspace), ("raw", case.raw)]
            if round_index % 2:
                sides.reverse()
            for side, timer in sides:
                elapsed = await timer(ops)
                samples[case.name][side].append(ops / elapsed)
    return samples


async def evaluate(cases: Sequence[Case], rounds: int, ops: int) -> list[CaseResult]:
    """Warm up, measure, count round trips, and compare the two sides of every case."""
    await warm_up(cases, ops)
    samples = await measure(cases, rounds, ops)
    results = []
    for case in cases:
        ks_trips = raw_trips = None
        if case.io:
            ks_trips = await round_trips_per_op(case.client, case.keyspace, ops)
            raw_trips = await round_trips_per_op(case.client, case.raw, ops)
        ks = summarize(samples[case.name]["keyspace"], ks_trips)
        raw = summarize(samples[case.name]["raw"], raw_trips)
        results.append(
            CaseResult(
                name=case.name,
                io=case.io,
                keyspace_code=case.keyspace_code,
                raw_code=case.raw_code,
                keyspace=ks,
                raw=raw,
                ratio=ks.median_ops_per_s / raw.median_ops_per_s,
                paired_ratio=paired_ratio(ks, raw),
                extra_us_per_op=ks.median_us_per_op - raw.median_us_per_op,
            )
        )
    return results


# -- the target server --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.settimeout(0.5)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SHUTDOWN_TIMEOUT)


def _launch(binary: str, directory: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    """Start ``redis-server`` on a free port; ``None`` if it did not come up."""
    port = _free_port()
    if port == SHARED_REDIS_PORT:  # pragma: no cover - the kernel never hands out 6379
        return None
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--logfile", str(directory / f"redis-{port}.log"),
        "--daemonize", "no",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if _answers_ping(port):
            return process, port
        time.sleep(0.05)
    _stop(process)
    return None


@contextlib.contextmanager
def start_redis_server() -> Iterator[str]:
    """Run a private ``redis-server`` (no persistence, temp dir) and yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH; install it or pass --url")
    with tempfile.TemporaryDirectory(prefix="keyspace-bench-") as tmp:
        for _ in range(5):
            launched = _launch(binary, Path(tmp))
            if launched is not None:
                break
        else:
            raise SystemExit(f"could not start {binary}; see the logs in {tmp}")
        process, port = launched
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


@contextlib.contextmanager
def target(url: str | None) -> Iterator[tuple[str, str]]:
    """Yield the URL to benchmark and what it is: a given URL, or a private server."""
    if url is not None:
        kind = "memory (fakeredis)" if url.lower().startswith("memory://") else "given URL"
        yield url, kind
        return
    with start_redis_server() as own:
        yield own, "private redis-server"


def public_url(url: str) -> str:
    """The URL without its credentials, for reports."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


# -- a run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything a run measured, plus the server it measured."""

    server_version: str
    cases: list[CaseResult]


async def server_version(client: redis.asyncio.Redis, url: str) -> str:
    """The server's ``redis_version`` (and the fakeredis version for ``memory://``)."""
    try:
        info = await client.info("server")
        version = str(info.get("redis_version", "unknown"))
    except redis.RedisError:
        version = "unknown"
    if url.lower().startswith("memory://"):
        version += f" (fakeredis {_dist_version('fakeredis')})"
    return version


async def populate(client: redis.asyncio.Redis, ops: int) -> None:
    """Write every key the get cases read, so both sides always find a value."""
    async with client.pipeline(transaction=False) as pipe:
        for user_id in {BOUND_USER_ID, *range(ops)}:
            pipe.set(raw_key(user_id), AGE.dump_json(user_id), ex=TTL_SECONDS)
        await pipe.execute()


async def cleanup(client: redis.asyncio.Redis, ops: int) -> None:
    """Delete exactly the keys the benchmark wrote (the target may be someone else's server)."""
    names = [raw_key(user_id) for user_id in sorted({BOUND_USER_ID, *range(ops)})]
    for start in range(0, len(names), 500):
        await client.delete(*names[start : start + 500])


async def single_server_clients(
    settings: RedisSettings,
) -> tuple[redis.asyncio.Redis, redis.Redis]:
    """The asyncio and sync clients of ``settings``, which must name one server (no cluster)."""
    async_client = settings.async_client()
    sync_client = settings.sync_client()
    if isinstance(async_client, redis.asyncio.Redis) and isinstance(sync_client, redis.Redis):
        return async_client, sync_client
    sync_client.close()
    await async_client.aclose()
    raise SystemExit("bench_core measures one Redis server; the settings select a cluster")


async def run(url: str, rounds: int, ops: int) -> RunResult:
    """Benchmark every case against ``url``; the clients are closed on the way out."""
    # Explicit values beat REDIS_* variables that would make one side do extra work.
    settings = RedisSettings(url=url, log_commands=False, default_ttl=None, decode_responses=False)
    async_client, sync_client = await single_server_clients(settings)
    try:
        repo = Repository(Root, async_client, settings=settings)
        sync_repo = SyncRepository(Root, sync_client, settings=settings)
        version = await server_version(async_client, url)
        await populate(async_client, ops)
        cases = [
            *async_cases(repo, async_client),
            bind_case(repo),
            *sync_cases(sync_repo, sync_client),
        ]
        try:
            results = await evaluate(cases, rounds, ops)
        finally:
            await cleanup(async_client, ops)
        return RunResult(version, results)
    finally:
        await async_client.aclose()
        sync_client.close()


# -- reporting ----------------------------------------------------------------------------


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


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
        "hiredis": _dist_version("hiredis") if importlib.util.find_spec("hiredis") else None,
        "pydantic": pydantic.__version__,
        "pydantic_core": _dist_version("pydantic-core"),
        "server": server,
    }


def _ops(value: float) -> str:
    return f"{value:,.0f}"


def _spread(side: SideResult) -> str:
    return f"{_ops(side.min_ops_per_s)}-{_ops(side.max_ops_per_s)}"


def _trips(side: SideResult) -> str:
    return "-" if side.round_trips_per_op is None else f"{side.round_trips_per_op:.2f}"


TABLE_HEADER = (
    "case",
    "keyspace ops/s",
    "min-max",
    "raw ops/s",
    "min-max",
    "ratio",
    "paired",
    "+us/op",
    "RT/op ks",
    "RT/op raw",
)


def table_row(result: CaseResult) -> tuple[str, ...]:
    """One case as table cells (see ``TABLE_HEADER``)."""
    ks, raw = result.keyspace, result.raw
    return (
        result.name,
        _ops(ks.median_ops_per_s),
        _spread(ks),
        _ops(raw.median_ops_per_s),
        _spread(raw),
        f"{result.ratio:.2f}" if result.io else "n/a",
        f"{result.paired_ratio:.2f}" if result.io else "n/a",
        f"{result.extra_us_per_op:+.2f}",
        _trips(ks),
        _trips(raw),
    )


def table(results: Sequence[CaseResult]) -> str:
    """The results as a plain-text table: the case name left-aligned, numbers right-aligned."""
    rows = [TABLE_HEADER, *(table_row(result) for result in results)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADER))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    rule = "-" * len(line(TABLE_HEADER))
    return "\n".join([line(TABLE_HEADER), rule, *(line(row) for row in rows[1:])])


def binding_summary(results: Sequence[CaseResult]) -> str:
    """The absolute cost of binding, in microseconds per operation."""
    for result in results:
        if not result.io:
            return (
                f"binding {result.keyspace_code}: {result.keyspace.median_us_per_op:.2f} us/op"
                f" (min-max {1e6 / result.keyspace.max_ops_per_s:.2f}-"
                f"{1e6 / result.keyspace.min_ops_per_s:.2f});"
                f" {result.raw_code}: {result.raw.median_us_per_op:.3f} us/op"
            )
    return ""


def report(run_result: RunResult, parameters: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of a run."""
    return {
        "benchmark": "core",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(run_result.server_version),
        "parameters": parameters,
        "cases": [asdict(result) for result in run_result.cases],
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write the report, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# -- command line -------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace vs raw redis-py: get/set/binding, async and sync, side by side."
    )
    parser.add_argument(
        "--url",
        help="server to benchmark (redis://..., or memory:// for the embedded fakeredis, whose"
        " timings are meaningless); default: start a private redis-server from PATH",
    )
    parser.add_argument("--rounds", type=_positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument("--ops", type=_positive, default=DEFAULT_OPS, help="operations per round")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"where to write JSON ({DEFAULT_JSON})"
    )
    parser.add_argument(
        "--cpu",
        type=int,
        help="pin this process, and the redis-server it starts, to this CPU (Linux); on small"
        " VMs this removes the bimodal noise of cross-CPU wake-ups",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds x {SMOKE_OPS} ops) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.ops = SMOKE_ROUNDS, SMOKE_OPS
    return args


def pin(cpu: int | None) -> list[int] | None:
    """Pin this process (and so the children it starts) to ``cpu``; return the CPUs it may use."""
    if not hasattr(os, "sched_setaffinity"):
        if cpu is not None:
            raise SystemExit("--cpu needs os.sched_setaffinity (Linux)")
        return None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return sorted(os.sched_getaffinity(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON report."""
    args = parse_args(argv)
    cpus = pin(args.cpu)
    with target(args.url) as (url, kind):
        pinned = "" if args.cpu is None else f", pinned to CPU {args.cpu}"
        print(
            f"keyspace vs raw redis-py: {args.rounds} rounds x {args.ops} ops, {kind} at"
            f" {public_url(url)}{pinned}",
            flush=True,
        )
        run_result = asyncio.run(run(url, args.rounds, args.ops))
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "warmup_ops_per_side": args.ops,
        "smoke": args.smoke,
        "pinned_cpu": args.cpu,
        "allowed_cpus": cpus,
        "target": kind,
        "url": public_url(url),
    }
    print(f"server: {run_result.server_version}")
    if kind.startswith("memory"):
        print("note: memory:// runs the embedded fakeredis; its timings are meaningless")
    print(table(run_result.cases))
    print(binding_summary(run_result.cases))
    write_json(args.json, report(run_result, parameters))
    print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
