"""Client-side caching: repeated sync reads of read-mostly keys, with and without the cache.

Run ``python benchmarks/bench_cache.py --help``; ``benchmarks/README.md`` explains the method.
Every operation reads one of ``KEYS`` keys (``ksbench:config:{i}:value``, a ``Key[int]``) in
turn, so the same few keys are read over and over; nothing writes them during the run. The
cases:

- keyspace without a cache against raw redis-py without a cache (the reference pair);
- keyspace on a caching client (``RedisSettings(client_cache=True)``) against keyspace without
  one, against raw redis-py without one, and against raw redis-py with redis-py's own cache;
- keys that are *not* read-mostly (``KEYS`` others): another client writes the key before
  every read, on both sides, so that the cached side pays for an invalidation and a miss each
  time.

All clients speak RESP3, so the cache is the only difference. The cases with a cache are
counted on the server: the growth of ``INFO commandstats`` during one more round of each side
(commands of ``INFO`` itself left out). The harness counts writes on the connections of a
client's pool, and redis-py's caching client keeps wrappers there, writing through connections
inside them: neither its misses nor its hits would show. On ``memory://`` (fakeredis: no
``CLIENT TRACKING``, no ``INFO``) only the reference pair runs, counted by the harness.

redis-py enables its cache only on Redis 7.4 or later. On an older server (which tracks keys
all the same since 6.0) the script lowers redis-py's version floor for the run and says so in
the output and the JSON report.

On one machine a round trip is cheap, cheaper than a cache hit through redis-py can be.
``--delay-us N`` puts a forwarding proxy (a child process) between every client and the server
that holds each chunk N microseconds in each direction: a server one network hop away, for
every client alike (the invalidations travel through it too).

A consistency probe follows: another client writes a new value, then the caching client reads;
the report counts the reads that still returned the previous value (the invalidation had not
arrived yet).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from _harness import (
    Case,
    CaseResult,
    Timer,
    Traffic,
    add_common_arguments,
    baselines,
    clients,
    comparison_tables,
    delete_matching,
    evaluate,
    is_memory,
    pin,
    positive,
    public_url,
    refuse_foreign_keys,
    report,
    run_parameters,
    server_version,
    target,
    timed_sync,
    write_report,
)
from pydantic import TypeAdapter
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

from keyspace import Cluster, Key, RedisSettings, SyncRepository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 2000
SMOKE_ROUNDS = 2
SMOKE_OPS = 20
KEYS = 10
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "cache.json"
PATTERN = "ksbench:*"
REDIS_PY_CACHE_FLOOR = (7, 4)


class Config(Cluster, prefix="config:{name}"):
    """One read-mostly value: ``ksbench:config:{name}:value``, no TTL."""

    value: Key[int] = Key(default=0)


class Root(Cluster, prefix="ksbench"):
    """The benchmarked keyspace root."""

    config: Config


VALUE: TypeAdapter[int] = TypeAdapter(int)
"""The raw side's codec: the same pydantic JSON keyspace stores for a ``Key[int]``."""

NAMES = [f"ksbench:config:{i}:value" for i in range(3 * KEYS)]
"""The read-mostly keys first, then the keys written before every read, then the probe's."""


def settings_for(url: str, *, cache: bool) -> RedisSettings:
    """As the harness's ``bench_settings``, with RESP3 for every client (the cache needs it)."""
    return RedisSettings(
        url=url,
        log_commands=False,
        default_ttl=None,
        decode_responses=False,
        protocol=3,
        client_cache=cache,
    )


# -- cases --------------------------------------------------------------------------------


@dataclass
class Clients:
    """The clients of a run: ``plain`` and ``writer`` have no cache, ``cached`` is keyspace's
    caching client, ``raw_cached`` a redis-py client with redis-py's own cache (both ``None``
    on ``memory://``)."""

    plain: redis.Redis
    writer: redis.Redis
    cached: redis.Redis | None
    raw_cached: redis.Redis | None


def _keyspace_reads(repo: SyncRepository[Root]) -> Timer:
    keys = [repo.config(i).value for i in range(KEYS)]  # read-mostly: nothing writes them

    def body(n: int) -> None:
        for i in range(n):
            keys[i % KEYS].get()

    return timed_sync(body)


def _raw_reads(client: redis.Redis) -> Timer:
    def body(n: int) -> None:
        for i in range(n):
            data = client.get(NAMES[i % KEYS])
            _ = 0 if data is None else VALUE.validate_json(data)

    return timed_sync(body)


def _reads_after_writes(repo: SyncRepository[Root], writer: redis.Redis) -> Timer:
    keys = [repo.config(KEYS + i).value for i in range(KEYS)]  # written before every read
    names = NAMES[KEYS : 2 * KEYS]

    def body(n: int) -> None:
        for i in range(n):
            writer.set(names[i % KEYS], VALUE.dump_json(i))
            keys[i % KEYS].get()

    return timed_sync(body)


KS_GET = "keys[i % 10].get()"
RAW_GET = "data = r.get(names[i % 10]); 0 if data is None else VALUE.validate_json(data)"


def cases(run: Clients) -> list[Case]:
    """The reference pair; with a caching client, the cached cases too.

    ``client`` is set only where both sides share one client without a cache, so that the
    harness may count at the client; the other cases are counted on the server.
    """
    plain = SyncRepository(Root, run.plain)
    reference = Case(
        "get, no cache",
        KS_GET,
        RAW_GET,
        _keyspace_reads(plain),
        _raw_reads(run.plain),
        run.plain,
        baseline="raw redis-py, no cache",
    )
    if run.cached is None or run.raw_cached is None:
        return [reference]
    cached = SyncRepository(Root, run.cached)
    cached_reads = _keyspace_reads(cached)
    after_writes = "w.set(name, ...); "
    return [
        reference,
        Case(
            "get, cache vs no cache",
            KS_GET,
            KS_GET,
            cached_reads,
            _keyspace_reads(plain),
            baseline="keyspace, no cache",
        ),
        Case(
            "get, cache vs raw",
            KS_GET,
            RAW_GET,
            cached_reads,
            _raw_reads(run.plain),
            baseline="raw redis-py, no cache",
        ),
        Case(
            "get, cache vs raw cached",
            KS_GET,
            RAW_GET,
            cached_reads,
            _raw_reads(run.raw_cached),
            baseline="raw redis-py with its cache",
        ),
        Case(
            "set by another + get",
            after_writes + KS_GET,
            after_writes + KS_GET,
            _reads_after_writes(cached, run.writer),
            _reads_after_writes(plain, run.writer),
            baseline="keyspace, no cache (both sides: another client writes first)",
        ),
    ]


# -- traffic on the server ----------------------------------------------------------------


def _command_calls(observer: redis.Redis) -> Counter[str]:
    stats: dict[str, Any] = observer.info("commandstats")
    return Counter(
        {
            name.removeprefix("cmdstat_").upper(): int(value["calls"])
            for name, value in stats.items()
            if name != "cmdstat_info"
        }
    )


async def server_traffic(observer: redis.Redis, timer: Timer, ops: int) -> Traffic:
    """Run ``ops`` operations; what the server executed for them, per operation. Every
    command here is sent on its own, so each one is a round trip."""
    before = _command_calls(observer)
    await timer(ops)
    grown = _command_calls(observer) - before
    commands = {name: count / ops for name, count in sorted(grown.items())}
    return Traffic(sum(grown.values()) / ops, commands)


async def count_on_server(
    observer: redis.Redis, cases: Sequence[Case], results: list[CaseResult], ops: int
) -> list[CaseResult]:
    """Fill in the traffic of the cases the harness could not count at the client."""
    counted = []
    for case, result in zip(cases, results, strict=True):
        if not result.io:
            sides = {}
            for side, timer in (("keyspace", case.keyspace), ("raw", case.raw)):
                traffic = await server_traffic(observer, timer, case.ops or ops)
                sides[side] = replace(
                    getattr(result, side),
                    round_trips_per_op=traffic.round_trips_per_op,
                    commands_per_op=traffic.commands_per_op,
                )
            result = replace(result, io=True, **sides)
        counted.append(result)
    return counted


# -- consistency --------------------------------------------------------------------------


def stale_reads(cached: redis.Redis, writer: redis.Redis, ops: int) -> int:
    """How many of ``ops`` cached reads, each right after another client's write returned,
    still gave the previous value."""
    probe = 2 * KEYS
    key = SyncRepository(Root, cached).config(probe).value
    key.get()
    stale = 0
    for i in range(1, ops + 1):
        writer.set(NAMES[probe], VALUE.dump_json(i))
        stale += key.get() != i
    return stale


# -- a distant server ---------------------------------------------------------------------


def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
    try:
        while data := source.recv(65536):
            time.sleep(delay)
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            sock.close()


def _serve_proxy(upstream: tuple[str, int], delay: float, report: Connection) -> None:
    """Forward every connection to ``upstream``, each chunk held ``delay`` seconds; the
    listening port goes back through ``report``."""
    listener = socket.create_server(("127.0.0.1", 0))
    report.send(listener.getsockname()[1])
    while True:
        client, _ = listener.accept()
        server = socket.create_connection(upstream)
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=_pump, args=(source, sink, delay), daemon=True).start()


@contextmanager
def distant(url: str, delay_us: int) -> Iterator[str]:
    """``url``, or with ``delay_us`` the URL of a proxy to it that adds that delay each way."""
    if not delay_us:
        yield url
        return
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.hostname is None:
        raise SystemExit("--delay-us needs a redis:// URL of one server")
    upstream = (parts.hostname, parts.port or 6379)
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    receive, send = context.Pipe(duplex=False)
    proxy = context.Process(target=_serve_proxy, args=(upstream, delay_us / 1e6, send), daemon=True)
    proxy.start()
    port = receive.recv()
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"127.0.0.1:{port}" if not credentials else f"{credentials}@127.0.0.1:{port}"
    try:
        yield urlunsplit(parts._replace(netloc=netloc))
    finally:
        proxy.terminate()
        proxy.join()
        receive.close()


# -- a run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """Everything a run measured, plus the server it measured."""

    server_version: str
    floor_lowered: bool
    cases: list[CaseResult]
    stale_reads: int | None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split()[0].split(".") if part.isdigit())


@contextmanager
def redis_py_cache_floor(version: str) -> Iterator[bool]:
    """Lower redis-py's 7.4 floor for the run if the server is older; whether it did."""
    if _version(version) >= REDIS_PY_CACHE_FLOOR:
        yield False
        return
    floor = CacheProxyConnection.MIN_ALLOWED_VERSION
    CacheProxyConnection.MIN_ALLOWED_VERSION = "6.0.0"
    try:
        yield True
    finally:
        CacheProxyConnection.MIN_ALLOWED_VERSION = floor


async def run(url: str, rounds: int, ops: int) -> RunResult:
    """Benchmark every case against ``url``; the clients are closed on the way out."""
    async with clients(settings_for(url, cache=False), "bench_cache") as (setup, plain):
        version = await server_version(setup, url)
        await refuse_foreign_keys(setup, PATTERN)
        await setup.mset({name: VALUE.dump_json(i) for i, name in enumerate(NAMES)})
        memory = is_memory(url)
        writer = settings_for(url, cache=False).sync_client()
        assert isinstance(writer, redis.Redis)
        try:
            with redis_py_cache_floor("0" if memory else version) as lowered:
                cached = None if memory else settings_for(url, cache=True).sync_client()
                raw_cached = (
                    None
                    if memory
                    else redis.Redis.from_url(url, protocol=3, cache_config=CacheConfig())
                )
                assert cached is None or isinstance(cached, redis.Redis)
                try:
                    run_cases = cases(Clients(plain, writer, cached, raw_cached))
                    results = await evaluate(run_cases, rounds, ops)
                    if not memory:
                        results = await count_on_server(writer, run_cases, results, ops)
                    stale = None if cached is None else stale_reads(cached, writer, ops)
                finally:
                    for client in (cached, raw_cached):
                        if client is not None:
                            client.close()
        finally:
            writer.close()
            await delete_matching(setup, PATTERN)
        return RunResult(version, lowered and not memory, results, stale)


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Client-side caching: repeated sync reads with and without the cache."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument("--ops", type=positive, default=DEFAULT_OPS, help="reads per round")
    parser.add_argument(
        "--delay-us",
        type=int,
        default=0,
        help="hold every chunk this many microseconds each way in a proxy (a distant server)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds x {SMOKE_OPS} reads) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.delay_us < 0:
        parser.error("--delay-us must be 0 or more")
    if args.smoke:
        args.rounds, args.ops = SMOKE_ROUNDS, SMOKE_OPS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables and write the JSON report."""
    args = parse_args(argv)
    cpus = pin(args.cpu)
    with target(args.url) as (url, kind), distant(url, args.delay_us) as measured:
        pinned = "" if args.cpu is None else f", pinned to CPU {args.cpu}"
        delayed = f", {args.delay_us} us added each way" if args.delay_us else ""
        print(
            f"client-side caching: {args.rounds} rounds x {args.ops} sync reads of {KEYS} keys,"
            f" {kind} at {public_url(url)}{delayed}{pinned}",
            flush=True,
        )
        result = asyncio.run(run(measured, args.rounds, args.ops))
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "keys": KEYS,
        "protocol": 3,
        "delay_us_each_way": args.delay_us,
        "redis_py_cache_floor_lowered": result.floor_lowered,
        "traffic_counted_on": "client" if is_memory(url) else "server (INFO commandstats)",
        **run_parameters(args, cpus, kind, url),
    }
    print(f"server: {result.server_version}")
    if is_memory(url):
        print(
            "note: memory:// runs the embedded fakeredis, which cannot cache (no CLIENT"
            " TRACKING): only the uncached pair ran, and its timings are meaningless"
        )
    if result.floor_lowered:
        print("note: redis-py's client-side cache wants Redis 7.4+; its floor was lowered")
    print(comparison_tables(result.cases))
    print(baselines(result.cases))
    if result.stale_reads is not None:
        print(
            f"consistency: {result.stale_reads} of {args.ops} cached reads right after another"
            " client's write returned the previous value"
        )
    document = report(
        "cache",
        result.server_version,
        parameters,
        cases=result.cases,
        consistency={"reads_after_a_write": args.ops, "stale_reads": result.stale_reads},
    )
    write_report(args.json, document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
