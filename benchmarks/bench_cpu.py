"""What keyspace costs in CPU per operation, without a network: both sides against a stub.

Run ``python benchmarks/bench_cpu.py --help``; ``benchmarks/README.md`` explains the method.

The clients of both sides are real redis-py clients whose connections are replaced by an
in-process stub: it takes the packed commands and answers each at once from memory (``GET`` with
a stored number, ``SET`` with ``OK``), so no socket, server or event-loop wake-up is measured.
Both sides run the same redis-py code for packing commands and reading replies; what the table's
``+us/item`` shows is what keyspace adds to it per operation: binding, validation, encoding,
decoding, building and parsing the op. The target for a chained operation is at most 5 us.
Times are the process's CPU time; nothing goes over a network, so no round trips are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from _harness import (
    Case,
    CaseResult,
    Timer,
    _command_names,
    comparison_tables,
    evaluate,
    pin,
    positive,
    report,
    write_report,
)
from pydantic import TypeAdapter

from keyspace import Cluster, Key, Repository, SyncRepository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 20_000
SMOKE_ROUNDS = 2
SMOKE_OPS = 20
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "cpu.json"
TARGET_US = 5.0  # library CPU per chained operation

TTL_SECONDS = 120
AGE: TypeAdapter[int] = TypeAdapter(int)
REPLIES = {"GET": b"42", "SET": b"OK"}


class User(Cluster, prefix="user:{user_id}", ttl=TTL_SECONDS):
    """``root:user:{user_id}:age`` holds an ``int``, TTL 120 s (as in ``bench_core.py``)."""

    age: Key[int] = Key(default=0)


class Root(Cluster, prefix="root"):
    """The benchmarked keyspace root."""

    user: User


# -- the stub -----------------------------------------------------------------------------


class _Replies:
    """What both stub connections share: the replies owed to the commands sent."""

    def __init__(self) -> None:
        self.owed: deque[bytes] = deque()

    def take(self, packed: Any) -> None:
        self.owed.extend(REPLIES[name] for name in _command_names(packed))


class StubConnection(redis.Connection):
    """A sync connection that answers from memory: nothing is sent anywhere."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replies = _Replies()

    def connect(self) -> None:
        """Nothing to connect to."""

    def can_read(self, timeout: float = 0) -> bool:
        """Replies are owed only while a command is in flight."""
        return False

    def disconnect(self, *args: Any) -> None:
        """Nothing to close."""

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Owe a reply to every command in ``command``."""
        self.replies.take(command)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """The next reply owed."""
        return self.replies.owed.popleft()


class AsyncStubConnection(redis.asyncio.Connection):
    """An asyncio connection that answers from memory: nothing is sent anywhere."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replies = _Replies()

    async def connect(self) -> None:
        """Nothing to connect to."""

    async def can_read(self) -> bool:
        """Replies are owed only while a command is in flight."""
        return False

    async def disconnect(self, nowait: bool = False, error: Exception | None = None) -> None:
        """Nothing to close."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Owe a reply to every command in ``command``."""
        self.replies.take(command)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """The next reply owed."""
        return self.replies.owed.popleft()


def stub_clients() -> tuple[redis.asyncio.Redis, redis.Redis]:
    """An asyncio and a sync redis-py client whose connections are stubs."""
    async_pool = redis.asyncio.ConnectionPool(connection_class=AsyncStubConnection)
    sync_pool = redis.ConnectionPool(connection_class=StubConnection)
    return redis.asyncio.Redis(connection_pool=async_pool), redis.Redis(connection_pool=sync_pool)


# -- timing: CPU time of this process, not wall-clock time ---------------------------------
#
# What is measured is CPU spent in Python, so the clock is the process's CPU time: time the
# process spends descheduled on a busy machine does not count against either side.


def timed_async(body: Callable[[int], Awaitable[None]]) -> Timer:
    """Time a coroutine function that runs ``n`` operations, in CPU seconds."""

    async def timer(n: int) -> float:
        start = time.process_time()
        await body(n)
        return time.process_time() - start

    return timer


def timed_sync(body: Callable[[int], None]) -> Timer:
    """Time a blocking function that runs ``n`` operations, in CPU seconds."""

    async def timer(n: int) -> float:
        start = time.process_time()
        body(n)
        return time.process_time() - start

    return timer


# -- cases --------------------------------------------------------------------------------


def _name(user_id: int) -> str:
    return f"root:user:{user_id}:age"


def async_cases(repo: Repository[Root], r: redis.asyncio.Redis) -> list[Case]:
    """Chained and bound get/set through ``Repository`` vs raw ``redis.asyncio``."""
    key = repo.user(1).age

    async def ks_chained_get(n: int) -> None:
        for i in range(n):
            await repo.user(i).age.get()

    async def raw_chained_get(n: int) -> None:
        for i in range(n):
            data = await r.get(_name(i))
            _ = 0 if data is None else AGE.validate_json(data)

    async def ks_chained_set(n: int) -> None:
        for i in range(n):
            await repo.user(i).age.set(i)

    async def raw_chained_set(n: int) -> None:
        for i in range(n):
            await r.set(_name(i), AGE.dump_json(i), ex=TTL_SECONDS)

    async def ks_bound_get(n: int) -> None:
        for _ in range(n):
            await key.get()

    async def raw_bound_get(n: int) -> None:
        name = _name(1)
        for _ in range(n):
            data = await r.get(name)
            _ = 0 if data is None else AGE.validate_json(data)

    async def ks_pipeline(n: int) -> None:
        async with repo.pipeline() as p:
            for i in range(n):
                p.user(i).age.set(i)

    async def raw_pipeline(n: int) -> None:
        async with r.pipeline(transaction=False) as pipe:
            for i in range(n):
                pipe.set(_name(i), AGE.dump_json(i), ex=TTL_SECONDS)
            await pipe.execute()

    return [
        Case(
            "async get (chained)",
            "await repo.user(i).age.get()",
            "await r.get(name); AGE.validate_json(data)",
            timed_async(ks_chained_get),
            timed_async(raw_chained_get),
        ),
        Case(
            "async set (chained)",
            "await repo.user(i).age.set(i)",
            "await r.set(name, AGE.dump_json(i), ex=120)",
            timed_async(ks_chained_set),
            timed_async(raw_chained_set),
        ),
        Case(
            "async get (bound key)",
            "await key.get()",
            "await r.get(name); AGE.validate_json(data)",
            timed_async(ks_bound_get),
            timed_async(raw_bound_get),
        ),
        Case(
            "async pipeline (per set)",
            "p.user(i).age.set(i) in repo.pipeline()",
            "pipe.set(name, AGE.dump_json(i), ex=120) in r.pipeline()",
            timed_async(ks_pipeline),
            timed_async(raw_pipeline),
        ),
    ]


def sync_cases(repo: SyncRepository[Root], r: redis.Redis) -> list[Case]:
    """The same cases through ``SyncRepository`` vs raw sync redis-py."""
    key = repo.user(1).age

    def ks_chained_get(n: int) -> None:
        for i in range(n):
            repo.user(i).age.get()

    def raw_chained_get(n: int) -> None:
        for i in range(n):
            data = r.get(_name(i))
            _ = 0 if data is None else AGE.validate_json(data)

    def ks_chained_set(n: int) -> None:
        for i in range(n):
            repo.user(i).age.set(i)

    def raw_chained_set(n: int) -> None:
        for i in range(n):
            r.set(_name(i), AGE.dump_json(i), ex=TTL_SECONDS)

    def ks_bound_get(n: int) -> None:
        for _ in range(n):
            key.get()

    def raw_bound_get(n: int) -> None:
        name = _name(1)
        for _ in range(n):
            data = r.get(name)
            _ = 0 if data is None else AGE.validate_json(data)

    def ks_pipeline(n: int) -> None:
        with repo.pipeline() as p:
            for i in range(n):
                p.user(i).age.set(i)

    def raw_pipeline(n: int) -> None:
        with r.pipeline(transaction=False) as pipe:
            for i in range(n):
                pipe.set(_name(i), AGE.dump_json(i), ex=TTL_SECONDS)
            pipe.execute()

    return [
        Case(
            "sync get (chained)",
            "repo.user(i).age.get()",
            "r.get(name); AGE.validate_json(data)",
            timed_sync(ks_chained_get),
            timed_sync(raw_chained_get),
        ),
        Case(
            "sync set (chained)",
            "repo.user(i).age.set(i)",
            "r.set(name, AGE.dump_json(i), ex=120)",
            timed_sync(ks_chained_set),
            timed_sync(raw_chained_set),
        ),
        Case(
            "sync get (bound key)",
            "key.get()",
            "r.get(name); AGE.validate_json(data)",
            timed_sync(ks_bound_get),
            timed_sync(raw_bound_get),
        ),
        Case(
            "sync pipeline (per set)",
            "p.user(i).age.set(i) in repo.pipeline()",
            "pipe.set(name, AGE.dump_json(i), ex=120) in r.pipeline()",
            timed_sync(ks_pipeline),
            timed_sync(raw_pipeline),
        ),
    ]


async def run(rounds: int, ops: int) -> list[CaseResult]:
    """Measure every case on stub clients."""
    async_client, sync_client = stub_clients()
    try:
        cases = [
            *async_cases(Repository(Root, async_client), async_client),
            *sync_cases(SyncRepository(Root, sync_client), sync_client),
        ]
        return await evaluate(cases, rounds, ops)
    finally:
        await async_client.aclose()
        sync_client.close()


def verdict(results: Sequence[CaseResult]) -> str:
    """keyspace's CPU per chained operation against the target."""
    lines = []
    for result in results:
        if "chained" in result.name:
            met = "met" if result.extra_us_per_op <= TARGET_US else "NOT met"
            lines.append(
                f"{result.name}: keyspace adds {result.extra_us_per_op:.2f} us/op"
                f" (target <= {TARGET_US:g} us: {met})"
            )
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace's CPU per operation against an in-process stub (no network)."
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"where to write JSON ({DEFAULT_JSON})"
    )
    parser.add_argument("--cpu", type=int, help="pin this process to this CPU (Linux)")
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
    """Run the benchmark, print the tables and write the JSON report."""
    args = parse_args(argv)
    cpus = pin(args.cpu)
    print(f"keyspace CPU per operation, in-process stub: {args.rounds} rounds x {args.ops} ops")
    results = asyncio.run(run(args.rounds, args.ops))
    print(comparison_tables(results))
    print(verdict(results))
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "smoke": args.smoke,
        "pinned_cpu": args.cpu,
        "allowed_cpus": cpus,
        "target": "in-process stub",
    }
    write_report(args.json, report("cpu", "in-process stub", parameters, cases=results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
