"""A load test: 50 concurrent clients, 2,000 mixed operations each, on the fixture server.

Marked ``load``; ``KEYSPACE_LOAD_CLIENTS`` and ``KEYSPACE_LOAD_OPERATIONS`` change the sizes.
Each client has its own repository (its own connection pool) and works on keys of its own and
on a few keys every client shares. Afterwards, every key must hold exactly what the operations
that were acknowledged imply, and the throughput is printed.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
import redis
from pydantic import BaseModel

from keyspace import (
    Cluster,
    Counter,
    HashKey,
    Key,
    ListKey,
    RedisSettings,
    Repository,
    SetKey,
)

pytestmark = [pytest.mark.load, pytest.mark.redis_server]

CLIENTS = int(os.environ.get("KEYSPACE_LOAD_CLIENTS", "50"))
OPERATIONS = int(os.environ.get("KEYSPACE_LOAD_OPERATIONS", "2000"))


class Progress(BaseModel):
    step: int = 0
    note: str = ""


class Worker(Cluster, prefix="worker:{worker_id}", ttl=600):
    value: Key[int] = Key(default=-1)
    seen: SetKey[int]
    log: ListKey[int]
    progress: HashKey[Progress]
    count: Counter


class Common(Cluster, prefix="common"):
    hits: Counter
    updates: Key[int] = Key(default=0)
    first: Key[str] = Key("first:{slot}")


class Load(Cluster, prefix="load"):
    worker: Worker
    common: Common


# One step in ten of each kind below; ten kinds make one round.
_ROUND = 10


async def client_workload(repo: Repository[Load], number: int, operations: int) -> int:
    """Run ``operations`` operations (rounded down to whole rounds); how many were sent."""
    me = repo.worker(number)
    common = repo.common
    firsts = common.first.as_dict()
    sent = 0
    for step in range(operations // _ROUND):
        await me.value.set(step)
        assert await me.value.get() == step
        await me.seen.add(step % 50)
        await me.log.push(step)
        await me.progress.set_field("step", step)
        await me.count.incr()
        await common.hits.incr()
        async with repo.pipeline() as pipe:
            pipe.worker(number).value.get()
            pipe.common.hits.get()
        if step % 20 == 0:
            await common.updates.update(lambda updates: updates + 1)
        else:
            await me.log.length()
        await firsts.setdefault(str(step % 10), f"worker-{number}")
        sent += _ROUND
    return sent


async def test_fifty_clients_two_thousand_operations_each(
    redis_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = RedisSettings(url=redis_server.url, socket_timeout=30)
    with redis.Redis(host=redis_server.host, port=redis_server.port) as raw:
        raw.flushall()
    repos = [Repository(Load, settings=settings) for _ in range(CLIENTS)]
    try:
        started = time.perf_counter()
        sent = await asyncio.gather(
            *(client_workload(repo, n, OPERATIONS) for n, repo in enumerate(repos))
        )
        elapsed = time.perf_counter() - started
        await check_final_state(repos[0])
    finally:
        for repo in repos:
            await repo.aclose()
    total = sum(sent)
    with capsys.disabled():
        print(
            f"\nload: {CLIENTS} clients x {OPERATIONS} operations = {total} in {elapsed:.1f} s:"
            f" {total / elapsed:,.0f} operations/s"
        )


async def check_final_state(repo: Repository[Load]) -> None:
    rounds = OPERATIONS // _ROUND
    for number in range(CLIENTS):
        worker = await repo.worker(number).load()
        assert worker.value == rounds - 1
        assert worker.seen == set(range(min(rounds, 50)))
        assert worker.log == list(range(rounds))
        assert worker.progress == Progress(step=rounds - 1)
        assert worker.count == rounds
    common = await repo.common.load()
    assert common.hits == CLIENTS * rounds
    assert common.updates == CLIENTS * len(range(0, rounds, 20))
    firsts = await repo.common.first.as_dict().to_dict()
    assert set(firsts) == {str(slot) for slot in range(min(rounds, 10))}
    assert all(value.startswith("worker-") for value in firsts.values())
