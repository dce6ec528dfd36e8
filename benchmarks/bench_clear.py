"""``clear()`` of a parameterized family of 100,000 keys vs raw SCAN + pipelined UNLINK.

Run ``python benchmarks/bench_clear.py --help``; ``benchmarks/README.md`` explains the method.

``repo.clear()`` of a root whose only child is the parameterized cluster ``user:{user_id}``
finds the keys ``ksbench:user:{i}:age`` with SCAN (``MATCH ksbench:user:*``), keeps the names
its declaration can produce (a regular expression), and UNLINKs them in chunks. The raw side is
what one writes by hand: SCAN ``MATCH ksbench:user:*`` with the same COUNT, then one pipeline of
UNLINKs in chunks of the same size. Every operation clears a freshly written family (written
by another client, outside the timing). ``--profile`` runs one more keyspace clear under
cProfile and reports where its time goes, per key.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from _harness import (
    Case,
    CaseResult,
    Timer,
    add_common_arguments,
    baselines,
    bench_settings,
    clients,
    comparison_tables,
    delete_matching,
    evaluate,
    format_table,
    positive,
    refuse_foreign_keys,
    report,
    run_on_target,
    server_version,
    write_report,
)
from pydantic import TypeAdapter

from keyspace import Cluster, Key, RedisSettings, Repository, SyncRepository

DEFAULT_ROUNDS = 9
DEFAULT_KEYS = 100_000
SMOKE_ROUNDS = 2
SMOKE_KEYS = 300
PROFILE_TOP = 15
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "clear.json"

TTL_SECONDS = 120
PREFIX = "ksbench"
RAW_PATTERN = f"{PREFIX}:user:*"
FILL_CHUNK = 1000
AGE: TypeAdapter[int] = TypeAdapter(int)


class User(Cluster, prefix="user:{user_id}", ttl=TTL_SECONDS):
    """The family: ``ksbench:user:{user_id}:age``."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix=PREFIX):
    """The root: clearing it clears the whole ``user`` family."""

    user: User


async def fill(client: redis.asyncio.Redis, keys: int) -> None:
    """Write the family ``ksbench:user:{i}:age`` for ``i`` below ``keys``."""
    async with client.pipeline(transaction=False) as pipe:
        for start in range(0, keys, FILL_CHUNK):
            stop = min(start + FILL_CHUNK, keys)
            pipe.mset({f"{PREFIX}:user:{i}:age": AGE.dump_json(i) for i in range(start, stop)})
        await pipe.execute()


def fill_sync(client: redis.Redis, keys: int) -> None:
    """:func:`fill` for a sync client."""
    with client.pipeline(transaction=False) as pipe:
        for start in range(0, keys, FILL_CHUNK):
            stop = min(start + FILL_CHUNK, keys)
            pipe.mset({f"{PREFIX}:user:{i}:age": AGE.dump_json(i) for i in range(start, stop)})
        pipe.execute()


# -- cases --------------------------------------------------------------------------------


def async_case(
    repo: Repository[Root],
    client: redis.asyncio.Redis,
    setup: redis.asyncio.Redis,
    keys: int,
    settings: RedisSettings,
) -> Case:
    """``await repo.clear()`` against raw SCAN + pipelined UNLINK on ``redis.asyncio``."""
    count, chunk = settings.scan_count, settings.delete_chunk_size

    async def raw_clear() -> None:
        names: list[Any] = []
        cursor = 0
        while True:
            cursor, found = await client.scan(cursor, match=RAW_PATTERN, count=count)
            names.extend(found)
            if cursor == 0:
                break
        async with client.pipeline(transaction=False) as pipe:
            for start in range(0, len(names), chunk):
                pipe.unlink(*names[start : start + chunk])
            await pipe.execute()

    def clearing(clear: Callable[[], Awaitable[Any]]) -> Timer:
        async def timer(n: int) -> float:
            elapsed = 0.0
            for _ in range(n):
                await fill(setup, keys)
                start = time.perf_counter()
                await clear()
                elapsed += time.perf_counter() - start
            return elapsed

        return timer

    return Case(
        f"async clear ({keys:,} keys)",
        "await repo.clear()",
        f"SCAN MATCH {RAW_PATTERN} COUNT {count}, then one pipeline of UNLINK x{chunk} names",
        clearing(repo.clear),
        clearing(raw_clear),
        client,
        ops=1,
        items=keys,
    )


def sync_case(
    repo: SyncRepository[Root],
    client: redis.Redis,
    setup: redis.Redis,
    keys: int,
    settings: RedisSettings,
) -> Case:
    """``repo.clear()`` against raw SCAN + pipelined UNLINK on sync redis-py."""
    count, chunk = settings.scan_count, settings.delete_chunk_size

    def raw_clear() -> None:
        names: list[Any] = []
        cursor = 0
        while True:
            cursor, found = client.scan(cursor, match=RAW_PATTERN, count=count)
            names.extend(found)
            if cursor == 0:
                break
        with client.pipeline(transaction=False) as pipe:
            for start in range(0, len(names), chunk):
                pipe.unlink(*names[start : start + chunk])
            pipe.execute()

    def clearing(clear: Callable[[], Any]) -> Timer:
        async def timer(n: int) -> float:
            elapsed = 0.0
            for _ in range(n):
                fill_sync(setup, keys)
                start = time.perf_counter()
                clear()
                elapsed += time.perf_counter() - start
            return elapsed

        return timer

    return Case(
        f"sync clear ({keys:,} keys)",
        "repo.clear()",
        f"SCAN MATCH {RAW_PATTERN} COUNT {count}, then one pipeline of UNLINK x{chunk} names",
        clearing(repo.clear),
        clearing(raw_clear),
        client,
        ops=1,
        items=keys,
    )


# -- profile ------------------------------------------------------------------------------


@dataclass
class ProfileRow:
    """One function of a profiled clear: its own and cumulative time per cleared key."""

    function: str
    calls: int
    own_us_per_key: float
    cumulative_us_per_key: float


@dataclass
class Profile:
    """Where one keyspace ``clear()`` spends its time (under cProfile, so slower than measured)."""

    keys: int
    total_us_per_key: float
    top: list[ProfileRow] = field(default_factory=list)


def _where(location: tuple[str, int, str]) -> str:
    path, line, name = location
    if path == "~":  # built-ins
        return name
    parts = Path(path).parts
    short = "/".join(
        parts[parts.index("site-packages") + 1 :] if "site-packages" in parts else parts[-2:]
    )
    return f"{short}:{line}({name})"


async def profile_clear(repo: Repository[Root], setup: redis.asyncio.Redis, keys: int) -> Profile:
    """Run one keyspace clear of ``keys`` fresh keys under cProfile."""
    await fill(setup, keys)
    profiler = cProfile.Profile()
    profiler.enable()
    await repo.clear()
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:PROFILE_TOP]
    scale = 1e6 / keys
    return Profile(
        keys,
        total * scale,
        [
            ProfileRow(_where(location), entry[1], entry[2] * scale, entry[3] * scale)
            for location, entry in rows
        ],
    )


def profile_table(profile: Profile) -> str:
    """The profiled functions, by own time."""
    rows = [("function", "calls", "own us/key", "cumulative us/key")]
    rows += [
        (
            row.function,
            str(row.calls),
            f"{row.own_us_per_key:.3f}",
            f"{row.cumulative_us_per_key:.3f}",
        )
        for row in profile.top
    ]
    return (
        f"profile of one async repo.clear() of {profile.keys:,} keys (cProfile;"
        f" {profile.total_us_per_key:.3f} us/key in total):\n{format_table(rows)}"
    )


# -- a run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything a run measured, plus the server it measured."""

    server_version: str
    cases: list[CaseResult]
    profile: Profile | None


async def check_results(repo: Repository[Root], setup: redis.asyncio.Redis, keys: int) -> None:
    """``clear()`` must delete exactly the family it was given, as the raw side does."""
    await fill(setup, keys)
    deleted = await repo.clear()
    assert deleted == keys, (deleted, keys)
    assert [key async for key in setup.scan_iter(match=f"{PREFIX}:*")] == []


async def run(url: str, rounds: int, keys: int, profile: bool) -> RunResult:
    """Benchmark both flavours against ``url``; the clients are closed on the way out."""
    settings = bench_settings(url)
    async with (
        clients(settings, "bench_clear") as (async_client, sync_client),
        clients(settings, "bench_clear") as (async_setup, sync_setup),
    ):
        await refuse_foreign_keys(async_client, f"{PREFIX}:*")
        repo = Repository(Root, async_client, settings=settings)
        sync_repo = SyncRepository(Root, sync_client, settings=settings)
        version = await server_version(async_client, url)
        try:
            await check_results(repo, async_setup, keys)
            cases = [
                async_case(repo, async_client, async_setup, keys, settings),
                sync_case(sync_repo, sync_client, sync_setup, keys, settings),
            ]
            results = await evaluate(cases, rounds, 1)
            profiled = await profile_clear(repo, async_setup, keys) if profile else None
        finally:
            await delete_matching(async_setup, f"{PREFIX}:*")
        return RunResult(version, results, profiled)


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace clear() of a key family vs raw SCAN + pipelined UNLINK."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument("--keys", type=positive, default=DEFAULT_KEYS, help="keys per clear")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one keyspace clear with cProfile (top functions, us per key)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds, {SMOKE_KEYS} keys) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.keys = SMOKE_ROUNDS, SMOKE_KEYS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables and write the JSON report."""
    args = parse_args(argv)
    run_result, run_params = run_on_target(
        args,
        f"keyspace clear(): {args.rounds} rounds x 1 clear of {args.keys:,} keys;",
        lambda url: asyncio.run(run(url, args.rounds, args.keys, args.profile)),
    )
    parameters = {
        "rounds": args.rounds,
        "keys": args.keys,
        "profile": args.profile,
        **run_params,
    }
    print(comparison_tables(run_result.cases))
    print(baselines(run_result.cases))
    if run_result.profile is not None:
        print(profile_table(run_result.profile))
    document = report(
        "clear",
        run_result.server_version,
        parameters,
        cases=run_result.cases,
        profile=None if run_result.profile is None else asdict(run_result.profile),
    )
    write_report(args.json, document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
