"""ListKey[T] end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from keyspace import (
    Cluster,
    CorruptValueError,
    Counter,
    ListKey,
    OptionsError,
    PipelineError,
    WrongTypeError,
)


class Item(BaseModel):
    name: str
    qty: int = 1


class Jobs(Cluster, prefix="jobs", ttl=60):
    queue: ListKey[int]
    days: ListKey[date] = ListKey(ttl=1.5)
    items: ListKey[Item]
    forever: ListKey[str] = ListKey(ttl=None)
    seeded: ListKey[str] = ListKey(default=["x"])
    sliding: ListKey[int] = ListKey(ttl=30, sliding=True)
    maybe: ListKey[int | None]
    runs: Counter


class Root(Cluster, prefix="li"):
    jobs: Jobs
    per: ListKey[int] = ListKey("per:{n}", ttl=None)


QUEUE = "li:jobs:queue"


@pytest.fixture
def jobs(make_repo: Any) -> Any:
    return make_repo(Root).jobs


async def test_values_round_trip_with_exact_types(jobs: Any, raw: Any) -> None:
    await jobs.queue.set([3, 1, 2])
    assert await jobs.queue.get() == [3, 1, 2]
    assert await raw.lrange(QUEUE, 0, -1) == [b"3", b"1", b"2"]
    days = [date(2024, 1, 2), date(2023, 5, 6)]
    await jobs.days.set(days)
    got = await jobs.days.get()
    assert got == days
    assert all(type(day) is date for day in got)
    assert await raw.lrange("li:jobs:days", 0, -1) == [b'"2024-01-02"', b'"2023-05-06"']
    await jobs.items.set([Item(name="a"), {"name": "b", "qty": 2}])
    assert await jobs.items.get() == [Item(name="a"), Item(name="b", qty=2)]
    assert await raw.lindex("li:jobs:items", 1) == b'{"name":"b","qty":2}'
    await jobs.maybe.set([None, 1])
    assert await jobs.maybe.get() == [None, 1]
    assert await jobs.maybe.pop_left() is None  # a stored null, not "empty"
    assert await jobs.maybe.length() == 1


async def test_set_replaces_and_an_empty_set_deletes(jobs: Any, raw: Any) -> None:
    await jobs.queue.set([1, 2, 3])
    await jobs.queue.set((4,))
    assert await jobs.queue.get() == [4]
    assert await jobs.queue.set([]) is None
    assert await raw.exists(QUEUE) == 0


async def test_missing_list_reads_as_a_fresh_default_never_written(jobs: Any, raw: Any) -> None:
    got = await jobs.queue.get()
    assert got == []
    seeded = await jobs.seeded.get()
    assert seeded == ["x"]
    seeded.append("mutated")
    assert await jobs.seeded.get() == ["x"]
    assert await raw.exists("li:jobs:seeded") == 0
    assert await jobs.seeded.range() == []  # a slice is never the default
    assert await jobs.queue.length() == 0
    assert await jobs.queue.index(0) is None
    assert await jobs.queue.pop() is None
    assert await jobs.queue.pop_left() is None
    assert await jobs.queue.pop_many(3) == []


async def test_push_and_push_left(jobs: Any) -> None:
    assert await jobs.queue.push(1, 2) == 2
    assert await jobs.queue.push(3) == 3
    assert await jobs.queue.push_left(0, -1) == 5  # LPUSH: the last ends first
    assert await jobs.queue.get() == [-1, 0, 1, 2, 3]
    assert await jobs.queue.push() == 5  # nothing to write


async def test_pops(jobs: Any) -> None:
    await jobs.queue.set([1, 2, 3, 4, 5, 6])
    assert await jobs.queue.pop() == 6
    assert await jobs.queue.pop_left() == 1
    assert await jobs.queue.pop_many(2) == [5, 4]
    assert await jobs.queue.pop_many(1, left=True) == [2]
    assert await jobs.queue.pop_many(10) == [3]
    assert await jobs.queue.pop_many(10) == []
    with pytest.raises(OptionsError, match="count"):
        await jobs.queue.pop_many(0)


async def test_range_index_length(jobs: Any) -> None:
    await jobs.queue.set([10, 11, 12, 13])
    assert await jobs.queue.range() == [10, 11, 12, 13]
    assert await jobs.queue.range(1, 2) == [11, 12]  # stop is inclusive
    assert await jobs.queue.range(-2) == [12, 13]
    assert await jobs.queue.range(5, 9) == []
    assert await jobs.queue.index(0) == 10
    assert await jobs.queue.index(-1) == 13
    assert await jobs.queue.index(4) is None
    assert await jobs.queue.length() == 4


async def test_trim_and_remove(jobs: Any, raw: Any) -> None:
    await jobs.queue.set([1, 2, 1, 3, 1, 4])
    assert await jobs.queue.remove(1, 1) == 1
    assert await jobs.queue.get() == [2, 1, 3, 1, 4]
    assert await jobs.queue.remove("1", -1) == 1  # validated like a pushed value
    assert await jobs.queue.get() == [2, 1, 3, 4]
    assert await jobs.queue.remove(1) == 1
    assert await jobs.queue.remove(9) == 0
    assert await jobs.queue.trim(1, -1) is None
    assert await jobs.queue.get() == [3, 4]
    await jobs.queue.trim(5, 9)  # keeping nothing deletes the key
    assert await raw.exists(QUEUE) == 0
    await jobs.items.set([Item(name="a"), Item(name="b")])
    assert await jobs.items.remove({"name": "a"}) == 1
    assert await jobs.items.get() == [Item(name="b")]


async def test_blocking_pop_returns_a_waiting_member_at_once(jobs: Any) -> None:
    await jobs.queue.set([1, 2])
    assert await jobs.queue.blocking_pop(5) == 2
    assert await jobs.queue.blocking_pop(5, left=True) == 1


async def test_blocking_pop_times_out_with_none(jobs: Any) -> None:
    started = time.monotonic()
    assert await jobs.queue.blocking_pop(0.1) is None
    assert await jobs.queue.blocking_pop(0.1, left=True) is None
    assert time.monotonic() - started >= 0.15
    with pytest.raises(OptionsError, match="timeout"):
        await jobs.queue.blocking_pop(0)


async def test_blocking_pop_waits_for_a_concurrent_push(make_repo: Any, flavour: str) -> None:
    if flavour == "sync":
        pytest.skip("a blocking sync call would block the pushing task too")
    popper = make_repo(Root).jobs.queue
    pusher = make_repo(Root).jobs.queue

    async def push_later() -> None:
        await asyncio.sleep(0.2)
        await pusher.push(7)

    task = asyncio.create_task(push_later())
    assert await popper.blocking_pop(5) == 7
    await task
    left = asyncio.create_task(popper.blocking_pop(5, left=True))
    await asyncio.sleep(0.1)
    await pusher.push(8, 9)
    assert await left == 8


async def test_invalid_values_write_nothing(jobs: Any, raw: Any) -> None:
    await jobs.queue.set([1])
    with pytest.raises(pydantic.ValidationError):
        await jobs.queue.set([2, "two"])
    with pytest.raises(pydantic.ValidationError):
        await jobs.queue.push(3, "three")
    with pytest.raises(pydantic.ValidationError):
        await jobs.queue.push_left([4])
    with pytest.raises(pydantic.ValidationError):
        await jobs.queue.set("12")
    assert await jobs.queue.get() == [1]
    with pytest.raises(pydantic.ValidationError):
        await jobs.items.set([{"qty": 1}])
    assert await raw.exists("li:jobs:items") == 0


async def test_a_corrupt_member_names_the_key(jobs: Any, raw: Any) -> None:
    await raw.rpush(QUEUE, b"1", b"not json")
    with pytest.raises(CorruptValueError, match=QUEUE):
        await jobs.queue.get()


async def test_writes_apply_the_ttl(jobs: Any, raw: Any) -> None:
    await jobs.queue.set([1])
    assert 55_000 < await raw.pttl(QUEUE) <= 60_000
    await raw.persist(QUEUE)
    await jobs.queue.push(2)
    assert 55_000 < await raw.pttl(QUEUE) <= 60_000
    await raw.persist(QUEUE)
    await jobs.queue.push_left(0)
    assert 55_000 < await raw.pttl(QUEUE) <= 60_000
    await jobs.queue.set([1], ttl=1000)
    assert 995_000 < await raw.pttl(QUEUE) <= 1_000_000
    await jobs.days.push(date(2024, 1, 1))
    assert 0 < await raw.pttl("li:jobs:days") <= 1500
    await raw.rpush("li:jobs:forever", b'"old"')
    await raw.expire("li:jobs:forever", 100)
    await jobs.forever.push("new")  # ttl=None: the write removes any expiry
    assert await raw.pttl("li:jobs:forever") == -1
    await jobs.queue.set([1], ttl=None)
    assert await raw.pttl(QUEUE) == -1


async def test_removals_keep_the_ttl(jobs: Any, raw: Any) -> None:
    await jobs.queue.set([1, 2, 3, 4])
    await raw.expire(QUEUE, 500)
    await jobs.queue.pop()
    await jobs.queue.remove(1)
    await jobs.queue.trim(0, 0)
    assert 495_000 < await raw.pttl(QUEUE) <= 500_000


async def test_sliding_reads_renew_the_ttl(jobs: Any, raw: Any) -> None:
    await jobs.sliding.set([1, 2])
    await raw.expire("li:jobs:sliding", 5)
    assert await jobs.sliding.get() == [1, 2]
    assert 25_000 < await raw.pttl("li:jobs:sliding") <= 30_000
    await raw.expire("li:jobs:sliding", 5)
    assert await jobs.sliding.index(0) == 1
    assert 25_000 < await raw.pttl("li:jobs:sliding") <= 30_000
    assert await jobs.sliding.get() == [1, 2]
    await jobs.sliding.delete()
    assert await jobs.sliding.get() == []
    assert await raw.exists("li:jobs:sliding") == 0


async def test_the_type_and_shared_operations(jobs: Any) -> None:
    assert await jobs.queue.the_type is None
    await jobs.queue.push(1)
    assert await jobs.queue.the_type is list
    assert await jobs.queue.exists() is True
    assert 0 < await jobs.queue.ttl() <= 60
    assert await jobs.queue.expire(100) is True
    assert 95 < await jobs.queue.ttl() <= 100
    assert await jobs.queue.persist() is True
    assert await jobs.queue.ttl() is None
    assert await jobs.queue.delete() is True
    assert await jobs.queue.exists() is False


async def test_wrong_redis_type_raises_wrong_type_error(jobs: Any, raw: Any) -> None:
    await raw.set(QUEUE, b"1")
    calls: list[Callable[[Any], Any]] = [
        lambda q: q.get(),
        lambda q: q.push(1),
        lambda q: q.push_left(1),
        lambda q: q.pop(),
        lambda q: q.pop_left(),
        lambda q: q.pop_many(2),
        lambda q: q.blocking_pop(0.1),
        lambda q: q.range(),
        lambda q: q.index(0),
        lambda q: q.length(),
        lambda q: q.trim(0, 1),
        lambda q: q.remove(1),
    ]
    for call in calls:
        with pytest.raises(WrongTypeError, match=rf"{QUEUE}.*ListKey\[int\].*string"):
            await call(jobs.queue)
    with pytest.raises(WrongTypeError):
        await jobs.queue.the_type
    assert await raw.get(QUEUE) == b"1"
    await jobs.queue.set([1])  # a whole replace, like SET: whatever was there goes
    assert await jobs.queue.get() == [1]


async def test_decoding_clients(make_repo: Any, raw: Any) -> None:
    jobs = make_repo(Root, decode_responses=True).jobs
    await jobs.queue.set([1, 2, 3])
    assert await jobs.queue.get() == [1, 2, 3]
    assert await jobs.queue.range(0, 0) == [1]
    assert await jobs.queue.index(1) == 2
    assert await jobs.queue.pop() == 3
    assert await jobs.queue.pop_many(5, left=True) == [1, 2]
    await jobs.days.push(date(2024, 1, 2))
    assert await jobs.days.blocking_pop(1) == date(2024, 1, 2)
    assert await jobs.days.blocking_pop(0.05) is None
    await jobs.items.push(Item(name="a"))
    assert await jobs.items.pop_left() == Item(name="a")
    assert await jobs.queue.the_type is None
    await raw.set(QUEUE, b"x")
    with pytest.raises(WrongTypeError):
        await jobs.queue.push(1)


async def test_parameterized_list(make_repo: Any, raw: Any) -> None:
    repo = make_repo(Root)
    await repo.per(1).push(5)
    await repo.per[2].push(6)
    assert await repo.per(n=1).get() == [5]
    assert await raw.lrange("li:per:2", 0, -1) == [b"6"]
    assert await raw.pttl("li:per:1") == -1


async def test_load_and_save_with_a_list_and_a_counter(jobs: Any, raw: Any) -> None:
    snapshot = await jobs.load()
    assert snapshot.queue == []
    assert snapshot.seeded == ["x"]
    assert snapshot.runs == 0
    await jobs.save({"queue": [1, 2], "items": [Item(name="a")], "runs": 3, "seeded": []})
    assert await jobs.queue.get() == [1, 2]
    assert await jobs.runs.get() == 3
    assert 55_000 < await raw.pttl(QUEUE) <= 60_000
    assert await raw.exists("li:jobs:seeded") == 0
    snapshot = await jobs.load()
    assert (snapshot.queue, snapshot.items, snapshot.runs) == ([1, 2], [Item(name="a")], 3)
    await jobs.save(snapshot.model_copy(update={"queue": [9]}))
    assert await jobs.queue.get() == [9]
    with pytest.raises(pydantic.ValidationError):
        await jobs.save({"queue": [7], "items": [{"qty": 1}]})
    assert await jobs.queue.get() == [9]


async def test_pipeline_queues_list_operations(make_repo: Any, flavour: str, raw: Any) -> None:
    repo = make_repo(Root)
    async with repo.pipeline(transaction=True) as p:
        written = p.jobs.queue.set([1, 2])
        pushed = p.jobs.queue.push(3)
        popped = p.jobs.queue.pop_left()
        length = p.jobs.queue.length()
        read = p.jobs.queue.get()
        index = p.jobs.queue.index(-1)
        waited = p.jobs.queue.blocking_pop(1)  # never blocks inside MULTI
        many = p.jobs.queue.pop_many(5)
    assert written.result is None
    assert (pushed.result, popped.result, length.result) == (3, 1, 2)
    assert (read.result, index.result, waited.result, many.result) == ([2, 3], 3, 3, [2])
    assert await raw.exists(QUEUE) == 0
    await raw.set(QUEUE, b"1")
    pipe = repo.pipeline()
    failed = pipe.jobs.queue.push(1)
    fine = pipe.jobs.days.push(date(2024, 1, 1))
    with pytest.raises(PipelineError):
        await pipe.execute()
    assert fine.result == 1
    with pytest.raises(WrongTypeError):
        failed.result  # noqa: B018 - raises
