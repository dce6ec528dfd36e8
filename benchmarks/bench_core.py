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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
import redis.asyncio
from _harness import (
    Case,
    CaseResult,
    SideResult,
    add_common_arguments,
    bench_settings,
    clients,
    evaluate,
    format_table,
    positive,
    report,
    run_on_target,
    server_version,
    timed_async,
    timed_sync,
    write_report,
)
from pydantic import TypeAdapter

from keyspace import Cluster, Key, Repository, SyncRepository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 2000
SMOKE_ROUNDS = 2
SMOKE_OPS = 20
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "core.json"

TTL_SECONDS = 120
BOUND_USER_ID = 1


class User(Cluster, prefix="user:{user_id}", ttl=TTL_SECONDS):
    """The benchmarked cluster: ``root:user:{user_id}:age`` holds an ``int``, TTL 120 s."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix="root"):
    """The benchmarked keyspace root."""

    user: User


AGE: TypeAdapter[int] = TypeAdapter(int)
"""The raw side's codec: the same pydantic JSON keyspace stores for a ``Key[int]``."""


def raw_key(user_id: int) -> str:
    """The Redis name keyspace renders for ``repo.user(user_id).age``."""
    return f"root:user:{user_id}:age"


# -- cases --------------------------------------------------------------------------------


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


# -- a run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything a run measured, plus the server it measured."""

    server_version: str
    cases: list[CaseResult]


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


async def run(url: str, rounds: int, ops: int) -> RunResult:
    """Benchmark every case against ``url``; the clients are closed on the way out."""
    settings = bench_settings(url)
    async with clients(settings, "bench_core") as (async_client, sync_client):
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


# -- reporting ----------------------------------------------------------------------------


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
    return format_table([TABLE_HEADER, *(table_row(result) for result in results)])


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


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace vs raw redis-py: get/set/binding, async and sync, side by side."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument("--ops", type=positive, default=DEFAULT_OPS, help="operations per round")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds x {SMOKE_OPS} ops) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.ops = SMOKE_ROUNDS, SMOKE_OPS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON report."""
    args = parse_args(argv)
    run_result, run_params = run_on_target(
        args,
        f"keyspace vs raw redis-py: {args.rounds} rounds x {args.ops} ops,",
        lambda url: asyncio.run(run(url, args.rounds, args.ops)),
    )
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "warmup_ops_per_side": args.ops,
        **run_params,
    }
    print(table(run_result.cases))
    print(binding_summary(run_result.cases))
    write_report(
        args.json, report("core", run_result.server_version, parameters, cases=run_result.cases)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
