"""Whole-cluster reads, pipelines and clearing static keys: keyspace vs the ways around it.

Run ``python benchmarks/bench_batching.py --help``; ``benchmarks/README.md`` explains the method
and how to read the tables. Three groups of cases, each async and sync:

- ``load()`` of a cluster of 10 static keys (one round trip) against 10 sequential raw GETs,
  10 sequential keyspace ``get()`` calls, a raw pipeline of the same 10 GETs, and a raw MGET;
- a pipeline of 10,000 typed ``set()`` calls against a raw redis-py pipeline of the same
  ``SET ... EX`` commands with pydantic JSON;
- ``clear()`` of a bound cluster of 10 static keys, in a database of 100,000 other keys, against
  a raw ``UNLINK`` of the 10 names: no SCAN, one round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
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
    positive,
    refuse_foreign_keys,
    report,
    run_on_target,
    server_version,
    timed_async,
    timed_sync,
    write_report,
)
from pydantic import BaseModel, TypeAdapter

from keyspace import Cluster, Key, Repository, SyncRepository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 1000
DEFAULT_PIPELINE = 10_000
DEFAULT_FILLER = 100_000
SMOKE_ROUNDS = 2
SMOKE_OPS = 5
SMOKE_PIPELINE = 50
SMOKE_FILLER = 200
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "batching.json"

TTL_SECONDS = 120
PREFIX = "ksbench"
LOADED_USER = 1  # the profile load() reads; never written during the run
CLEARED_USER = 2  # the profile clear() deletes; rewritten before every clear
FILL_CHUNK = 1000


class Address(BaseModel):
    """A small model stored in one key."""

    street: str
    city: str
    country: str


class Profile(Cluster, prefix="profile:{user_id}", ttl=TTL_SECONDS):
    """Ten static keys of assorted types: what ``load()`` reads and ``clear()`` deletes."""

    name: Key[str] = Key(default="")
    email: Key[str] = Key(default="")
    age: Key[int] = Key(default=0)
    score: Key[float] = Key(default=0.0)
    active: Key[bool] = Key(default=False)
    tags: Key[list[str]] = Key(default=[])
    joined: Key[datetime | None] = Key(default=None)
    address: Key[Address | None] = Key(default=None)
    visits: Key[int] = Key(default=0)
    bio: Key[str] = Key(default="")


class User(Cluster, prefix="user:{user_id}", ttl=TTL_SECONDS):
    """The pipelined keys ``ksbench:user:{user_id}:age``, and the 100,000 filler keys."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix=PREFIX):
    """The benchmarked keyspace root."""

    profile: Profile
    user: User


# The raw side's codecs, written by hand as code without keyspace would: pydantic JSON.
PROFILE_CODECS: dict[str, TypeAdapter[Any]] = {
    "name": TypeAdapter(str),
    "email": TypeAdapter(str),
    "age": TypeAdapter(int),
    "score": TypeAdapter(float),
    "active": TypeAdapter(bool),
    "tags": TypeAdapter(list[str]),
    "joined": TypeAdapter(datetime | None),
    "address": TypeAdapter(Address | None),
    "visits": TypeAdapter(int),
    "bio": TypeAdapter(str),
}
PROFILE_DEFAULTS: dict[str, Any] = {
    "name": "",
    "email": "",
    "age": 0,
    "score": 0.0,
    "active": False,
    "tags": [],
    "joined": None,
    "address": None,
    "visits": 0,
    "bio": "",
}
PROFILE_VALUES: dict[str, Any] = {
    "name": "Ann Example",
    "email": "ann@example.com",
    "age": 37,
    "score": 4.25,
    "active": True,
    "tags": ["admin", "beta", "eu-west"],
    "joined": datetime(2024, 1, 1, 12, 30, 45, tzinfo=timezone.utc),
    "address": Address(street="1 Main Street", city="Springfield", country="US"),
    "visits": 1234,
    "bio": "Writes benchmarks. " * 4,
}
PROFILE_DATA = {
    name: PROFILE_CODECS[name].dump_json(PROFILE_VALUES[name]) for name in PROFILE_CODECS
}
AGE: TypeAdapter[int] = TypeAdapter(int)


def profile_names(user_id: int) -> list[str]:
    """The Redis names of one profile's keys, in declaration order."""
    return [f"{PREFIX}:profile:{user_id}:{name}" for name in PROFILE_CODECS]


def user_age(user_id: int) -> str:
    """The Redis name keyspace renders for ``repo.user(user_id).age``."""
    return f"{PREFIX}:user:{user_id}:age"


def parse_profile(replies: Sequence[Any]) -> dict[str, Any]:
    """The raw side's typed values of a profile from its GET replies (defaults when missing)."""
    return {
        name: PROFILE_DEFAULTS[name] if data is None else codec.validate_json(data)
        for (name, codec), data in zip(PROFILE_CODECS.items(), replies, strict=True)
    }


# -- setup (a client of its own, so that traffic counts leave it out) -------------------------


def profile_mapping(user_id: int) -> dict[str, bytes]:
    """The stored data of a whole profile, for MSET."""
    return dict(zip(profile_names(user_id), PROFILE_DATA.values(), strict=True))


async def fill(client: redis.asyncio.Redis, filler: int) -> None:
    """The profile ``load()`` reads, and ``filler`` other keys that ``clear()`` must not scan."""
    await client.mset(profile_mapping(LOADED_USER))
    async with client.pipeline(transaction=False) as pipe:
        for start in range(0, filler, FILL_CHUNK):
            stop = min(start + FILL_CHUNK, filler)
            pipe.mset({user_age(i): AGE.dump_json(i) for i in range(start, stop)})
        await pipe.execute()


# -- cases --------------------------------------------------------------------------------


def async_cases(
    repo: Repository[Root],
    client: redis.asyncio.Redis,
    setup: redis.asyncio.Redis,
    size: int,
) -> list[Case]:
    """Load, pipeline and static clear for ``Repository`` against ``redis.asyncio``."""
    loaded = repo.profile(LOADED_USER)
    loaded_keys = [getattr(loaded, name) for name in PROFILE_CODECS]
    names = profile_names(LOADED_USER)
    cleared = repo.profile(CLEARED_USER)
    cleared_names = profile_names(CLEARED_USER)
    cleared_mapping = profile_mapping(CLEARED_USER)

    async def ks_load(n: int) -> None:
        for _ in range(n):
            await loaded.load()

    async def raw_gets(n: int) -> None:
        for _ in range(n):
            parse_profile([await client.get(name) for name in names])

    async def ks_gets(n: int) -> None:
        for _ in range(n):
            _ = [await key.get() for key in loaded_keys]

    async def raw_pipelined_gets(n: int) -> None:
        for _ in range(n):
            async with client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.get(name)
                parse_profile(await pipe.execute())

    async def raw_mget(n: int) -> None:
        for _ in range(n):
            parse_profile(await client.mget(names))

    async def ks_pipeline(n: int) -> None:
        for _ in range(n):
            async with repo.pipeline() as p:
                for i in range(size):
                    p.user(i).age.set(i)

    async def raw_pipeline(n: int) -> None:
        for _ in range(n):
            async with client.pipeline(transaction=False) as pipe:
                for i in range(size):
                    pipe.set(f"ksbench:user:{i}:age", AGE.dump_json(i), ex=TTL_SECONDS)
                await pipe.execute()

    def clearing(clear: Callable[[], Awaitable[Any]]) -> Timer:
        async def timer(n: int) -> float:
            elapsed = 0.0
            for _ in range(n):
                await setup.mset(cleared_mapping)
                start = time.perf_counter()
                await clear()
                elapsed += time.perf_counter() - start
            return elapsed

        return timer

    load_code = "await repo.profile(1).load()"
    return [
        Case(
            "async load (10 keys)",
            load_code,
            "data = [await r.get(name) for name in names]; parse each with its TypeAdapter",
            timed_async(ks_load),
            timed_async(raw_gets),
            client,
            items=10,
        ),
        Case(
            "async load vs keyspace gets",
            load_code,
            "[await key.get() for key in (profile.name, profile.email, ...)]",
            timed_async(ks_load),
            timed_async(ks_gets),
            client,
            items=10,
            baseline="10 sequential keyspace get()",
        ),
        Case(
            "async load vs raw pipeline",
            load_code,
            "a pipeline of the 10 GETs; parse each with its TypeAdapter",
            timed_async(ks_load),
            timed_async(raw_pipelined_gets),
            client,
            items=10,
            baseline="raw redis-py pipeline",
        ),
        Case(
            "async load vs raw MGET",
            load_code,
            "parse_profile(await r.mget(names))",
            timed_async(ks_load),
            timed_async(raw_mget),
            client,
            items=10,
            baseline="raw redis-py MGET",
        ),
        Case(
            f"async pipeline ({size:,} sets)",
            "async with repo.pipeline() as p: for i ...: p.user(i).age.set(i)",
            'pipe.set(f"ksbench:user:{i}:age", AGE.dump_json(i), ex=120) ...; await pipe.execute()',
            timed_async(ks_pipeline),
            timed_async(raw_pipeline),
            client,
            ops=1,
            items=size,
        ),
        Case(
            "async clear (10 static keys)",
            "await repo.profile(2).clear()",
            "await r.unlink(*names)",
            clearing(cleared.clear),
            clearing(lambda: client.unlink(*cleared_names)),
            client,
            items=10,
        ),
    ]


def sync_cases(
    repo: SyncRepository[Root], client: redis.Redis, setup: redis.Redis, size: int
) -> list[Case]:
    """The same cases for ``SyncRepository`` against sync redis-py."""
    loaded = repo.profile(LOADED_USER)
    loaded_keys = [getattr(loaded, name) for name in PROFILE_CODECS]
    names = profile_names(LOADED_USER)
    cleared = repo.profile(CLEARED_USER)
    cleared_names = profile_names(CLEARED_USER)
    cleared_mapping = profile_mapping(CLEARED_USER)

    def ks_load(n: int) -> None:
        for _ in range(n):
            loaded.load()

    def raw_gets(n: int) -> None:
        for _ in range(n):
            parse_profile([client.get(name) for name in names])

    def ks_gets(n: int) -> None:
        for _ in range(n):
            _ = [key.get() for key in loaded_keys]

    def raw_pipelined_gets(n: int) -> None:
        for _ in range(n):
            with client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.get(name)
                parse_profile(pipe.execute())

    def raw_mget(n: int) -> None:
        for _ in range(n):
            parse_profile(client.mget(names))

    def ks_pipeline(n: int) -> None:
        for _ in range(n):
            with repo.pipeline() as p:
                for i in range(size):
                    p.user(i).age.set(i)

    def raw_pipeline(n: int) -> None:
        for _ in range(n):
            with client.pipeline(transaction=False) as pipe:
                for i in range(size):
                    pipe.set(f"ksbench:user:{i}:age", AGE.dump_json(i), ex=TTL_SECONDS)
                pipe.execute()

    def clearing(clear: Callable[[], Any]) -> Timer:
        async def timer(n: int) -> float:
            elapsed = 0.0
            for _ in range(n):
                setup.mset(cleared_mapping)
                start = time.perf_counter()
                clear()
                elapsed += time.perf_counter() - start
            return elapsed

        return timer

    load_code = "repo.profile(1).load()"
    return [
        Case(
            "sync load (10 keys)",
            load_code,
            "data = [r.get(name) for name in names]; parse each with its TypeAdapter",
            timed_sync(ks_load),
            timed_sync(raw_gets),
            client,
            items=10,
        ),
        Case(
            "sync load vs keyspace gets",
            load_code,
            "[key.get() for key in (profile.name, profile.email, ...)]",
            timed_sync(ks_load),
            timed_sync(ks_gets),
            client,
            items=10,
            baseline="10 sequential keyspace get()",
        ),
        Case(
            "sync load vs raw pipeline",
            load_code,
            "a pipeline of the 10 GETs; parse each with its TypeAdapter",
            timed_sync(ks_load),
            timed_sync(raw_pipelined_gets),
            client,
            items=10,
            baseline="raw redis-py pipeline",
        ),
        Case(
            "sync load vs raw MGET",
            load_code,
            "parse_profile(r.mget(names))",
            timed_sync(ks_load),
            timed_sync(raw_mget),
            client,
            items=10,
            baseline="raw redis-py MGET",
        ),
        Case(
            f"sync pipeline ({size:,} sets)",
            "with repo.pipeline() as p: for i ...: p.user(i).age.set(i)",
            'pipe.set(f"ksbench:user:{i}:age", AGE.dump_json(i), ex=120) ...; pipe.execute()',
            timed_sync(ks_pipeline),
            timed_sync(raw_pipeline),
            client,
            ops=1,
            items=size,
        ),
        Case(
            "sync clear (10 static keys)",
            "repo.profile(2).clear()",
            "r.unlink(*names)",
            clearing(cleared.clear),
            clearing(lambda: client.unlink(*cleared_names)),
            client,
            items=10,
        ),
    ]


# -- a run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything a run measured, plus the server it measured."""

    server_version: str
    cases: list[CaseResult]


async def check_results(repo: Repository[Root]) -> None:
    """Both sides must agree on what is stored: ``load()`` sees exactly the raw values."""
    snapshot = await repo.profile(LOADED_USER).load()
    assert snapshot.model_dump() == {
        name: value.model_dump() if isinstance(value, BaseModel) else value
        for name, value in PROFILE_VALUES.items()
    }, snapshot


async def run(url: str, rounds: int, ops: int, pipeline: int, filler: int) -> RunResult:
    """Benchmark every case against ``url``; the clients are closed on the way out."""
    settings = bench_settings(url)
    async with (
        clients(settings, "bench_batching") as (async_client, sync_client),
        clients(settings, "bench_batching") as (async_setup, sync_setup),
    ):
        await refuse_foreign_keys(async_client, f"{PREFIX}:*")
        repo = Repository(Root, async_client, settings=settings)
        sync_repo = SyncRepository(Root, sync_client, settings=settings)
        version = await server_version(async_client, url)
        try:
            await fill(async_setup, filler)
            await check_results(repo)
            cases = [
                *async_cases(repo, async_client, async_setup, pipeline),
                *sync_cases(sync_repo, sync_client, sync_setup, pipeline),
            ]
            results = await evaluate(cases, rounds, ops)
        finally:
            await delete_matching(async_setup, f"{PREFIX}:*")
        return RunResult(version, results)


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace load(), pipelines and static clear() vs raw redis-py."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument(
        "--ops", type=positive, default=DEFAULT_OPS, help="loads and clears per round"
    )
    parser.add_argument(
        "--pipeline", type=positive, default=DEFAULT_PIPELINE, help="sets per pipeline"
    )
    parser.add_argument(
        "--filler",
        type=positive,
        default=DEFAULT_FILLER,
        help="other keys in the database while clearing",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds x {SMOKE_OPS} ops, pipelines of"
        f" {SMOKE_PIPELINE}, {SMOKE_FILLER} filler keys) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.ops = SMOKE_ROUNDS, SMOKE_OPS
        args.pipeline, args.filler = SMOKE_PIPELINE, SMOKE_FILLER
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables and write the JSON report."""
    args = parse_args(argv)
    run_result, run_params = run_on_target(
        args,
        f"keyspace batching: {args.rounds} rounds x {args.ops} loads/clears, pipelines of"
        f" {args.pipeline:,} sets, {args.filler:,} filler keys;",
        lambda url: asyncio.run(run(url, args.rounds, args.ops, args.pipeline, args.filler)),
    )
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "pipeline_size": args.pipeline,
        "filler_keys": args.filler,
        **run_params,
    }
    print(comparison_tables(run_result.cases))
    print(baselines(run_result.cases))
    document = report("batching", run_result.server_version, parameters, cases=run_result.cases)
    write_report(args.json, document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
