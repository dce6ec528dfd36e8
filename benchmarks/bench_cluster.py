"""``clear()`` of N keys spread over three Redis Cluster primaries vs raw per-node SCAN + UNLINK.

Run ``python benchmarks/bench_cluster.py --help``; ``benchmarks/README.md`` explains the method.

Without ``--url`` the script starts its own cluster (three ``--cluster-enabled yes`` primaries on
free ports of 127.0.0.1, joined with ``redis-cli --cluster create``, with the helpers the tests
use) and stops it at the end; ``--url redis+cluster://host:port,...`` measures a cluster you run.

``repo.clear()`` of a root whose only child is ``user:{user_id}`` scans every primary for
``ksbench:user:*`` (redis-py's ``scan_iter``), keeps the names the declaration can produce and
UNLINKs them in chunks, each chunk split by slot and sent as one pipeline per node. The raw side
is what one writes by hand for a cluster: on each primary in turn, SCAN ``MATCH ksbench:user:*``
with the same COUNT, group the names by slot (a multi-key UNLINK must keep to one slot), and send
one pipeline of UNLINKs (at most the same chunk size each) to that node. Each operation clears a
freshly written family (written per node, outside the timing). Commands are counted on the
servers (``INFO commandstats`` of every primary, before and after one clear of each side).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
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
    comparison_tables,
    evaluate,
    pin,
    positive,
    public_url,
    report,
    run_parameters,
    write_report,
)
from pydantic import TypeAdapter
from redis.crc import key_slot

from keyspace import Cluster, Key, RedisSettings, Repository, SyncRepository

DEFAULT_ROUNDS = 7
DEFAULT_KEYS = 100_000
SMOKE_ROUNDS = 2
SMOKE_KEYS = 300
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "cluster.json"
TESTS = Path(__file__).resolve().parents[1] / "tests"

TTL_SECONDS = 120
PREFIX = "ksbench"
RAW_PATTERN = f"{PREFIX}:user:*"
FILL_CHUNK = 1000
AGE: TypeAdapter[int] = TypeAdapter(int)
# Server-side bookkeeping commands, not part of either side's work.
UNCOUNTED = frozenset({"info", "config|resetstat", "cluster|slots", "cluster|shards", "command"})


class User(Cluster, prefix="user:{user_id}", ttl=TTL_SECONDS):
    """The family: ``ksbench:user:{user_id}:age``."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix=PREFIX):
    """The root: clearing it clears the whole ``user`` family."""

    user: User


# -- the target cluster -------------------------------------------------------------------


@contextlib.contextmanager
def own_cluster() -> Iterator[str]:
    """Start a private three-primary cluster with the tests' helpers; yield its URL."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise SystemExit("redis-server and redis-cli must be on PATH; or pass --url")
    sys.path.insert(0, str(TESTS))
    from servers import start_cluster

    with tempfile.TemporaryDirectory(prefix="keyspace-bench-cluster-") as tmp:
        deployment = start_cluster(server, cli, Path(tmp))
        try:
            yield deployment.url
        finally:
            deployment.stop()


@contextlib.contextmanager
def cluster_target(url: str | None) -> Iterator[tuple[str, str]]:
    """The cluster URL to benchmark and what it is: a given one, or a private cluster."""
    if url is None:
        with own_cluster() as own:
            yield own, "private 3-primary cluster"
        return
    if not RedisSettings(url=url).is_cluster:
        raise SystemExit(f"{public_url(url)} is not a Redis Cluster URL (redis+cluster://...)")
    yield url, "given cluster"


class Nodes:
    """The primaries of the cluster, as plain clients, and the family's names on each."""

    def __init__(self, client: redis.RedisCluster, keys: int) -> None:
        self.sync = {
            node.name: client.get_redis_connection(node) for node in client.get_primaries()
        }
        self.names: dict[str, list[bytes]] = defaultdict(list)
        self.values: dict[bytes, bytes] = {}
        for i in range(keys):
            name = f"{PREFIX}:user:{i}:age".encode()
            self.names[client.get_node_from_key(name).name].append(name)
            self.values[name] = AGE.dump_json(i)

    def fill(self) -> None:
        """Write the family straight to the nodes that own the names, in pipelines."""
        for node, names in self.names.items():
            for start in range(0, len(names), FILL_CHUNK):
                with self.sync[node].pipeline(transaction=False) as pipe:
                    for name in names[start : start + FILL_CHUNK]:
                        pipe.set(name, self.values[name], ex=TTL_SECONDS)
                    pipe.execute()

    def count(self, pattern: str) -> int:
        """How many keys match ``pattern`` on all primaries."""
        return sum(
            sum(1 for _ in node.scan_iter(match=pattern, count=1000)) for node in self.sync.values()
        )

    def delete(self) -> None:
        """Delete every key of the benchmark's prefix, on every primary."""
        for node in self.sync.values():
            names = list(node.scan_iter(match=f"{PREFIX}:*", count=1000))
            with node.pipeline(transaction=False) as pipe:
                for group in by_slot(names, FILL_CHUNK):
                    pipe.unlink(*group)
                pipe.execute()

    def command_calls(self) -> dict[str, int]:
        """Calls per command, summed over the primaries (``INFO commandstats``)."""
        calls: dict[str, int] = defaultdict(int)
        for node in self.sync.values():
            for name, stats in node.info("commandstats").items():
                command = name.removeprefix("cmdstat_")
                if command not in UNCOUNTED:
                    calls[command.upper()] += int(stats["calls"])
        return calls


def by_slot(names: Sequence[Any], chunk: int) -> list[Sequence[Any]]:
    """``names`` grouped by hash slot, in groups of at most ``chunk``."""
    slots: dict[int, list[Any]] = defaultdict(list)
    for name in names:
        slots[key_slot(name if isinstance(name, bytes) else str(name).encode())].append(name)
    return [group[i : i + chunk] for group in slots.values() for i in range(0, len(group), chunk)]


# -- the two sides ------------------------------------------------------------------------


def raw_async(
    primaries: list[redis.asyncio.Redis], count: int, chunk: int
) -> Callable[[], Awaitable[None]]:
    """Per primary: SCAN it all, then one pipeline of UNLINKs grouped by slot."""

    async def clear() -> None:
        for node in primaries:
            names = [name async for name in node.scan_iter(match=RAW_PATTERN, count=count)]
            async with node.pipeline(transaction=False) as pipe:
                for group in by_slot(names, chunk):
                    pipe.unlink(*group)
                await pipe.execute()

    return clear


def raw_sync(primaries: list[redis.Redis], count: int, chunk: int) -> Callable[[], None]:
    """:func:`raw_async` for sync redis-py."""

    def clear() -> None:
        for node in primaries:
            names = list(node.scan_iter(match=RAW_PATTERN, count=count))
            with node.pipeline(transaction=False) as pipe:
                for group in by_slot(names, chunk):
                    pipe.unlink(*group)
                pipe.execute()

    return clear


def clearing(nodes: Nodes, clear: Callable[[], Any]) -> Timer:
    """A timer of ``n`` clears, each of a freshly written family (the writing is not timed)."""

    async def timer(n: int) -> float:
        elapsed = 0.0
        for _ in range(n):
            nodes.fill()
            start = time.perf_counter()
            done = clear()
            if isinstance(done, Awaitable):
                await done
            elapsed += time.perf_counter() - start
        return elapsed

    return timer


async def commands_per_clear(nodes: Nodes, clear: Callable[[], Any]) -> dict[str, float]:
    """The commands one clear sends, counted on the servers."""
    nodes.fill()
    before = nodes.command_calls()
    done = clear()
    if isinstance(done, Awaitable):
        await done
    after = nodes.command_calls()
    return {
        name: float(after[name] - before.get(name, 0))
        for name in sorted(after)
        if after[name] != before.get(name, 0)
    }


# -- a run --------------------------------------------------------------------------------


async def run(url: str, rounds: int, keys: int) -> tuple[str, list[CaseResult]]:
    """Benchmark both flavours against the cluster at ``url``; the clients are closed at the end."""
    settings = bench_settings(url)
    count, chunk = settings.scan_count, settings.delete_chunk_size
    async_client: Any = settings.async_client()
    sync_client: Any = settings.sync_client()
    primaries: list[redis.asyncio.Redis] = []
    try:
        await async_client.initialize()
        for node in async_client.get_primaries():
            pool = redis.asyncio.ConnectionPool(
                connection_class=node.connection_class, **node.connection_kwargs
            )
            primaries.append(redis.asyncio.Redis.from_pool(pool))  # closes the pool too
        nodes = Nodes(sync_client, keys)
        if nodes.count(f"{PREFIX}:*"):
            raise SystemExit(
                f"the cluster already holds keys matching {PREFIX}:*; the benchmark would"
                " delete them"
            )
        if len(nodes.names) < len(nodes.sync):
            raise SystemExit(f"{keys} keys do not reach every primary; use more --keys")
        version = str(nodes.sync[next(iter(nodes.sync))].info("server")["redis_version"])
        repo = Repository(Root, async_client, settings=settings)
        sync_repo = SyncRepository(Root, sync_client, settings=settings)
        sides = {
            "async": (repo.clear, raw_async(primaries, count, chunk)),
            "sync": (sync_repo.clear, raw_sync(list(nodes.sync.values()), count, chunk)),
        }
        try:
            await check(nodes, sides, keys)
            cases = [
                Case(
                    f"{flavour} clear ({keys:,} keys, {len(nodes.sync)} primaries)",
                    "await repo.clear()" if flavour == "async" else "repo.clear()",
                    f"per primary: SCAN MATCH {RAW_PATTERN} COUNT {count}, then one pipeline of"
                    f" UNLINK by slot (x{chunk} at most)",
                    clearing(nodes, keyspace_clear),
                    clearing(nodes, raw_clear),
                    ops=1,
                    items=keys,
                )
                for flavour, (keyspace_clear, raw_clear) in sides.items()
            ]
            results = await evaluate(cases, rounds, 1)
            for result, (keyspace_clear, raw_clear) in zip(results, sides.values(), strict=True):
                # Counted on the servers: a cluster client's traffic fans out below the
                # methods the harness's counter wraps.
                result.io = True
                result.keyspace.commands_per_op = await commands_per_clear(nodes, keyspace_clear)
                result.raw.commands_per_op = await commands_per_clear(nodes, raw_clear)
        finally:
            nodes.delete()
        return version, results
    finally:
        for primary in primaries:
            await primary.aclose()
        await async_client.aclose()
        sync_client.close()


async def check(
    nodes: Nodes, sides: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], keys: int
) -> None:
    """Every side must delete exactly the family, on every primary."""
    for keyspace_clear, raw_clear in sides.values():
        nodes.fill()
        done = keyspace_clear()
        deleted = await done if isinstance(done, Awaitable) else done
        assert deleted == keys, (deleted, keys)
        assert nodes.count(f"{PREFIX}:*") == 0
        nodes.fill()
        done = raw_clear()
        if isinstance(done, Awaitable):
            await done
        assert nodes.count(f"{PREFIX}:*") == 0


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace clear() on a three-primary Redis Cluster vs raw per-node SCAN and"
        " UNLINK."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument("--keys", type=positive, default=DEFAULT_KEYS, help="keys per clear")
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
    cpus = pin(args.cpu)
    with cluster_target(args.url) as (url, kind):
        print(
            f"keyspace clear() on Redis Cluster: {args.rounds} rounds x 1 clear of {args.keys:,}"
            f" keys; {kind} at {public_url(url)}",
            flush=True,
        )
        version, results = asyncio.run(run(url, args.rounds, args.keys))
    parameters = {"rounds": args.rounds, "keys": args.keys, **run_parameters(args, cpus, kind, url)}
    print(f"server: {version}")
    print(comparison_tables(results))
    print(baselines(results))
    write_report(args.json, report("cluster", version, parameters, cases=results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
