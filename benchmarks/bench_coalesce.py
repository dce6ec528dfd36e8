"""Coalesced reads: many tasks awaiting gets at once, with and without ``coalesce_reads``.

Run ``python benchmarks/bench_coalesce.py --help``; ``benchmarks/README.md`` explains the method.
Three line-ups, all asyncio, on one client whose pool may open a connection per concurrent get:

- ``--concurrency`` (1,000) concurrent gets, ``asyncio.gather`` of ``repo.user(i).age.get()``,
  with ``coalesce_reads=True`` and without, against raw redis-py's ``asyncio.gather`` of
  ``r.get(...)`` decoded with pydantic (the baseline); and, for reference, what the same reads
  cost by hand in one round trip: a raw pipeline of the GETs, and one raw MGET;
- 10 concurrent gets, the fan-out of a typical request handler, with the same three first sides;
- one get at a time (``await`` in a loop): what coalescing costs a read that has no company.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio
from _harness import (
    Lineup,
    LineupResult,
    Side,
    add_common_arguments,
    bench_settings,
    clients,
    delete_matching,
    evaluate_lineups,
    lineup_table,
    positive,
    refuse_foreign_keys,
    report,
    run_on_target,
    server_version,
    timed_async,
    write_report,
)
from pydantic import TypeAdapter

from keyspace import Cluster, Key, Repository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 50
DEFAULT_CONCURRENCY = 1000
DEFAULT_LONE_OPS = 2000
SMOKE_ROUNDS = 2
SMOKE_OPS = 3
SMOKE_CONCURRENCY = 20
SMOKE_LONE_OPS = 10
SMALL_FANOUT = 10
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "coalesce.json"

PREFIX = "ksbench"
RAW = "raw gather"
COALESCED = "keyspace coalesced"
PLAIN = "keyspace"
AGE: TypeAdapter[int] = TypeAdapter(int)


class User(Cluster, prefix="user:{user_id}"):
    """The keys read: ``ksbench:user:{i}:age``."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix=PREFIX):
    """The benchmarked keyspace root."""

    user: User


def age_name(user_id: int) -> str:
    """The Redis name keyspace renders for ``repo.user(user_id).age``."""
    return f"{PREFIX}:user:{user_id}:age"


def parse_age(data: bytes | None) -> int:
    """The raw side's typed value: pydantic JSON, or the default when missing."""
    return 0 if data is None else AGE.validate_json(data)


# -- sides --------------------------------------------------------------------------------


Gets = Callable[[int], Awaitable[list[int]]]
"""Reads the ages of users ``0 .. n-1``; returns them in order."""


def keyspace_gets(repo: Repository[Root]) -> Gets:
    """``asyncio.gather`` of keyspace gets, each task binding its key; one get is awaited
    directly, as a handler with a single read would."""

    async def gets(n: int) -> list[int]:
        if n == 1:
            return [await repo.user(0).age.get()]
        return await asyncio.gather(*(repo.user(i).age.get() for i in range(n)))

    return gets


def raw_gets(client: redis.asyncio.Redis) -> Gets:
    """``asyncio.gather`` of raw GETs, each decoded with pydantic; one GET is awaited directly."""

    async def get(i: int) -> int:
        return parse_age(await client.get(age_name(i)))

    async def gets(n: int) -> list[int]:
        if n == 1:
            return [await get(0)]
        return await asyncio.gather(*(get(i) for i in range(n)))

    return gets


def raw_pipeline(client: redis.asyncio.Redis) -> Gets:
    """The same GETs, pipelined by hand: one round trip."""

    async def gets(n: int) -> list[int]:
        async with client.pipeline(transaction=False) as pipe:
            for i in range(n):
                pipe.get(age_name(i))
            return [parse_age(data) for data in await pipe.execute()]

    return gets


def raw_mget(client: redis.asyncio.Redis) -> Gets:
    """One MGET of the names: one command, one round trip."""

    async def gets(n: int) -> list[int]:
        return [parse_age(data) for data in await client.mget([age_name(i) for i in range(n)])]

    return gets


def repeated(gets: Gets, size: int) -> Callable[[int], Awaitable[None]]:
    """``n`` operations of ``gets(size)``, one after the other."""

    async def body(n: int) -> None:
        for _ in range(n):
            await gets(size)

    return body


# -- line-ups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ways:
    """Every way of reading, all on one client."""

    client: redis.asyncio.Redis
    coalesced: Gets
    plain: Gets
    raw: Gets
    pipeline: Gets
    mget: Gets

    def side(self, name: str, code: str, gets: Gets, size: int) -> Side:
        """A side that runs ``gets(size)`` per operation, its traffic counted on the client."""
        return Side(name, code, timed_async(repeated(gets, size)), (self.client,))


def concurrent_lineup(ways: Ways, size: int, references: bool) -> Lineup:
    """``size`` concurrent gets per operation; ``references`` adds the by-hand reads in one
    round trip (a pipeline, an MGET)."""
    gather = f"await asyncio.gather(*(repo.user(i).age.get() for i in range({size})))"
    sides = [
        ways.side(RAW, f"asyncio.gather of {size} r.get(name), each parsed", ways.raw, size),
        ways.side(COALESCED, f"{gather}  # coalesce_reads=True", ways.coalesced, size),
        ways.side(PLAIN, gather, ways.plain, size),
    ]
    if references:
        sides += [
            ways.side("raw pipeline", f"{size} GETs in one pipeline", ways.pipeline, size),
            ways.side("raw MGET", f"r.mget(names) of {size} names", ways.mget, size),
        ]
    return Lineup(f"{size:,} concurrent gets", tuple(sides), RAW)


def lone_lineup(ways: Ways, ops: int) -> Lineup:
    """One get at a time: what coalescing costs a read with no company."""
    sides = (
        ways.side(PLAIN, "await repo.user(0).age.get()", ways.plain, 1),
        ways.side(COALESCED, "the same, coalesce_reads=True", ways.coalesced, 1),
        ways.side("raw redis-py", "parse_age(await r.get(name))", ways.raw, 1),
    )
    return Lineup("lone get", sides, PLAIN, ops)


# -- a run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything a run measured, plus the server it measured."""

    server_version: str
    lineups: list[LineupResult]


async def fill(client: redis.asyncio.Redis, size: int) -> None:
    """Every user's age but the last one's: the last get reads a missing key (its default)."""
    await client.mset({age_name(i): AGE.dump_json(i) for i in range(size - 1)})


async def check(ways: Ways, size: int) -> None:
    """Every way must read the same values before anything is measured."""
    expected = [*range(size - 1), 0]
    for gets in (ways.coalesced, ways.plain, ways.raw, ways.pipeline, ways.mget):
        assert await gets(size) == expected, gets


async def run(url: str, rounds: int, ops: int, size: int, lone_ops: int) -> RunResult:
    """Measure every line-up against ``url``; the clients are closed on the way out.

    The client's pool may open one connection per concurrent get, as raw ``asyncio.gather``
    needs: with redis-py's default pool of 100, its 1,000 gets fail with "Too many
    connections". The coalesced side takes one connection per batch.
    """
    settings = bench_settings(url).model_copy(update={"max_connections": max(size, 100)})
    async with clients(settings, "bench_coalesce") as (client, _):
        version = await server_version(client, url)
        await refuse_foreign_keys(client, f"{PREFIX}:*")
        coalescing = Repository(Root, client, settings=settings, coalesce_reads=True)
        plain = Repository(Root, client, settings=settings, coalesce_reads=False)
        ways = Ways(
            client,
            coalesced=keyspace_gets(coalescing),
            plain=keyspace_gets(plain),
            raw=raw_gets(client),
            pipeline=raw_pipeline(client),
            mget=raw_mget(client),
        )
        try:
            await fill(client, size)
            await check(ways, size)
            lineups = [concurrent_lineup(ways, size, references=True)]
            if size > SMALL_FANOUT:
                lineups.append(concurrent_lineup(ways, SMALL_FANOUT, references=False))
            lineups.append(lone_lineup(ways, lone_ops))
            results = await evaluate_lineups(lineups, rounds, ops)
        finally:
            await delete_matching(client, f"{PREFIX}:*")
        return RunResult(version, results)


# -- command line -------------------------------------------------------------------------


def at_least_two(text: str) -> int:
    """An argparse type: an integer of at least 2 (a gather needs company)."""
    value = positive(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, not {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Concurrent keyspace gets with and without coalesce_reads vs raw redis-py."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument(
        "--ops", type=positive, default=DEFAULT_OPS, help="gathers per round and side"
    )
    parser.add_argument(
        "--concurrency",
        type=at_least_two,
        default=DEFAULT_CONCURRENCY,
        help=f"concurrent gets per gather, at least 2 (above {SMALL_FANOUT}, a line-up of"
        f" {SMALL_FANOUT} is added)",
    )
    parser.add_argument(
        "--lone-ops",
        type=positive,
        default=DEFAULT_LONE_OPS,
        help="sequential single gets per round and side",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds x {SMOKE_OPS} gathers of {SMOKE_CONCURRENCY},"
        f" {SMOKE_LONE_OPS} lone gets) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.ops = SMOKE_ROUNDS, SMOKE_OPS
        args.concurrency, args.lone_ops = SMOKE_CONCURRENCY, SMOKE_LONE_OPS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON report."""
    args = parse_args(argv)
    run_result, run_params = run_on_target(
        args,
        f"keyspace coalesced reads: {args.rounds} rounds x {args.ops} gathers of"
        f" {args.concurrency:,} gets, {args.lone_ops} lone gets;",
        lambda url: asyncio.run(run(url, args.rounds, args.ops, args.concurrency, args.lone_ops)),
    )
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "concurrency": args.concurrency,
        "small_fanout": SMALL_FANOUT if args.concurrency > SMALL_FANOUT else None,
        "lone_ops_per_round": args.lone_ops,
        **run_params,
    }
    print(lineup_table(run_result.lineups))
    print("x base, paired: time per operation (one gather, or one lone get) over the baseline's")
    write_report(
        args.json,
        report("coalesce", run_result.server_version, parameters, lineups=run_result.lineups),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
