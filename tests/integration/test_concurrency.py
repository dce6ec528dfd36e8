"""Concurrency: 100 asyncio tasks, or 16 threads, on shared keys end in the exact state.

Every worker does the same mix on the same few keys: an optimistic ``update()`` of one key,
a transfer between two keys with ``repo.update(keys, fn)``, counter increments, and a
``setdefault()`` that only the first writer wins. Lost updates, double applications or two
different winners would show in the final state.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from keyspace import Cluster, Counter, Key, Repository, SyncRepository

TASKS = 100
THREADS = 16
INCRS = 5


class Shared(Cluster, prefix="shared"):
    total: Key[int] = Key(default=0)
    left: Key[int] = Key(default=0)
    right: Key[int] = Key(default=0)
    hits: Counter
    owner: Key[str] = Key("owner:{slot}")


def _check(state: dict[str, Any], workers: int) -> None:
    assert state["total"] == workers  # every update applied once
    assert (state["left"], state["right"]) == (-workers, workers)  # every transfer once
    assert state["hits"] == workers * INCRS  # no increment lost
    assert len(set(state["winners"])) == 1  # everyone read the first writer's value ...
    assert state["owner"] == state["winners"][0]  # ... which is the stored one


def _transfer(left: int, right: int) -> tuple[int, int]:
    return left - 1, right + 1


async def test_a_hundred_tasks_on_shared_keys(backend: Any) -> None:
    # Several repositories (several connection pools), as several processes would have.
    repos = [Repository(Shared, backend.async_client()) for _ in range(4)]
    winners: list[str] = []

    async def worker(number: int) -> None:
        repo = repos[number % len(repos)]
        await repo.total.update(lambda total: total + 1)
        await repo.update([repo.left, repo.right], _transfer)
        for _ in range(INCRS):
            await repo.hits.incr()
        winners.append(await repo.owner.as_dict().setdefault("x", f"task-{number}"))

    await asyncio.gather(*(worker(number) for number in range(TASKS)))
    repo = repos[0]
    snapshot = await repo.load()
    owner = await repo.owner("x").get()
    state = {**snapshot.model_dump(), "owner": owner, "winners": winners}
    _check(state, TASKS)


def test_sixteen_threads_on_shared_keys(backend: Any) -> None:
    client = backend.sync_client()  # one client, one pool, shared by the threads
    repo = SyncRepository(Shared, client)
    winners: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(number: int) -> None:
        try:
            start.wait()
            repo.total.update(lambda total: total + 1)
            repo.update([repo.left, repo.right], _transfer)
            for _ in range(INCRS):
                repo.hits.incr()
            winners.append(repo.owner.as_dict().setdefault("x", f"thread-{number}"))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    state = {**repo.load().model_dump(), "owner": repo.owner("x").get(), "winners": winners}
    _check(state, THREADS)
