"""Counter and FloatCounter end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from keyspace import (
    Cluster,
    CorruptValueError,
    Counter,
    FloatCounter,
    ListKey,
    PipelineError,
    WrongTypeError,
)


class Stats(Cluster, prefix="stats", ttl=60):
    hits: Counter
    score: FloatCounter
    seeded: Counter = Counter(default=7)
    half: FloatCounter = FloatCounter(default=0.5)
    strict: Counter = Counter(strict=True)
    quick: Counter = Counter(ttl=1.5)
    forever: Counter = Counter(ttl=None)
    sliding: Counter = Counter(ttl=30, sliding=True)
    log: ListKey[str]


class Root(Cluster, prefix="co"):
    stats: Stats
    per: Counter = Counter("per:{n}")


HITS = "co:stats:hits"
SCORE = "co:stats:score"


@pytest.fixture
def stats(make_repo: Any) -> Any:
    return make_repo(Root).stats


async def test_missing_counters_read_as_their_default_never_written(stats: Any, raw: Any) -> None:
    hits = await stats.hits.get()
    assert (hits, type(hits)) == (0, int)
    score = await stats.score.get()
    assert (score, type(score)) == (0.0, float)
    assert await stats.seeded.get() == 7
    assert await stats.half.get() == 0.5
    assert await raw.exists(HITS, SCORE, "co:stats:seeded") == 0


async def test_set_and_get_with_exact_types(stats: Any, raw: Any) -> None:
    assert await stats.hits.set(41) is None
    assert await raw.get(HITS) == b"41"
    hits = await stats.hits.get()
    assert (hits, type(hits)) == (41, int)
    await stats.hits.set("42")  # lax, like Key[int]
    assert await stats.hits.get() == 42
    await stats.score.set(2)
    assert await raw.get(SCORE) == b"2.0"
    score = await stats.score.get()
    assert (score, type(score)) == (2.0, float)
    await stats.score.set(-1.25)
    assert await stats.score.get() == -1.25


async def test_incr_and_decr_return_the_new_value(stats: Any, raw: Any) -> None:
    assert await stats.hits.incr() == 1
    assert await stats.hits.incr(10) == 11
    assert await stats.hits.decr() == 10
    assert await stats.hits.decr(15) == -5
    assert await stats.hits.incr(-5) == -10
    assert await raw.get(HITS) == b"-10"
    assert await stats.seeded.incr() == 1  # Redis counts a missing key from 0
    score = await stats.score.incr()
    assert (score, type(score)) == (1.0, float)
    assert await stats.score.incr(0.5) == 1.5
    assert await stats.score.decr(0.25) == 1.25
    assert await stats.score.decr(2) == -0.75
    assert await stats.score.get() == -0.75


async def test_invalid_values_and_steps_write_nothing(stats: Any, raw: Any) -> None:
    await stats.hits.set(3)
    for bad in ("three", 1.5, 2**63):
        with pytest.raises(pydantic.ValidationError):
            await stats.hits.set(bad)
    for step in (True, 1.0, 0.5, "1"):
        with pytest.raises(pydantic.ValidationError):
            await stats.hits.incr(step)
        with pytest.raises(pydantic.ValidationError):
            await stats.hits.decr(step)
    assert await stats.hits.get() == 3
    with pytest.raises(pydantic.ValidationError):
        await stats.strict.set("3")
    with pytest.raises(pydantic.ValidationError):
        await stats.score.set(float("inf"))
    for step in (True, float("nan"), "1"):
        with pytest.raises(pydantic.ValidationError):
            await stats.score.incr(step)
    assert await raw.exists("co:stats:strict", SCORE) == 0


async def test_writes_apply_the_ttl(stats: Any, raw: Any) -> None:
    await stats.hits.set(1)
    assert 55_000 < await raw.pttl(HITS) <= 60_000
    await raw.persist(HITS)
    await stats.hits.incr()
    assert 55_000 < await raw.pttl(HITS) <= 60_000
    await raw.persist(HITS)
    await stats.hits.decr()
    assert 55_000 < await raw.pttl(HITS) <= 60_000
    await stats.score.incr(1.5)
    assert 55_000 < await raw.pttl(SCORE) <= 60_000
    await stats.quick.incr()
    assert 0 < await raw.pttl("co:stats:quick") <= 1500
    await stats.hits.set(1, ttl=1000)
    assert 995_000 < await raw.pttl(HITS) <= 1_000_000
    await stats.hits.set(1, ttl=None)
    assert await raw.pttl(HITS) == -1
    await raw.set("co:stats:forever", b"5", ex=100)
    assert await stats.forever.incr() == 6  # ttl=None: the write removes any expiry
    assert await raw.pttl("co:stats:forever") == -1


async def test_sliding_get_renews_the_ttl(stats: Any, raw: Any) -> None:
    await stats.sliding.set(3)
    await raw.expire("co:stats:sliding", 5)
    assert await stats.sliding.get() == 3
    assert 25_000 < await raw.pttl("co:stats:sliding") <= 30_000


async def test_the_type_and_shared_operations(stats: Any, raw: Any) -> None:
    assert await stats.hits.the_type is None
    await stats.hits.incr()
    assert await stats.hits.the_type is int
    await stats.score.incr()
    assert await stats.score.the_type is float
    assert await stats.hits.exists() is True
    assert await stats.hits.expire(100) is True
    assert 95 < await stats.hits.ttl() <= 100
    assert await stats.hits.persist() is True
    assert await stats.hits.delete() is True
    assert await stats.hits.get() == 0
    await raw.set(HITS, b"abc")
    with pytest.raises(CorruptValueError, match=HITS):
        await stats.hits.the_type


async def test_a_stored_non_number(stats: Any, raw: Any) -> None:
    await raw.set(HITS, b"abc")
    with pytest.raises(CorruptValueError, match=HITS):
        await stats.hits.get()
    # Redis refuses the increment: a CorruptValueError naming the key; the value is untouched.
    with pytest.raises(CorruptValueError, match=f"{HITS}.*not an integer"):
        await stats.hits.incr()
    await raw.set(SCORE, b"1.5x")
    with pytest.raises(CorruptValueError, match="not a valid float"):
        await stats.score.incr(1)
    await raw.set("co:stats:seeded", b"1.5")
    with pytest.raises(CorruptValueError, match="co:stats:seeded"):
        await stats.seeded.get()
    assert await raw.get(HITS) == b"abc"


async def test_wrong_redis_type_raises_wrong_type_error(stats: Any, raw: Any) -> None:
    await raw.rpush(HITS, b"1")
    await raw.rpush(SCORE, b"1")
    calls: list[Callable[[Any], Any]] = [
        lambda s: s.hits.get(),
        lambda s: s.hits.incr(),
        lambda s: s.hits.decr(2),
        lambda s: s.score.incr(0.5),
        lambda s: s.score.decr(0.5),
    ]
    for call in calls:
        with pytest.raises(WrongTypeError, match=r"co:stats:(hits|score).*Counter.*list"):
            await call(stats)
    with pytest.raises(WrongTypeError, match="FloatCounter"):
        await stats.score.get()
    with pytest.raises(WrongTypeError):
        await stats.hits.the_type
    await stats.hits.set(2)  # a whole replace, like SET: whatever was there goes
    assert await stats.hits.get() == 2


async def test_concurrent_increments_are_atomic(make_repo: Any, flavour: str) -> None:
    if flavour == "sync":
        pytest.skip("concurrency is exercised with asyncio tasks")
    repo = make_repo(Root)

    async def worker() -> None:
        for _ in range(20):
            await repo.stats.hits.incr()

    await asyncio.gather(*(worker() for _ in range(50)))
    assert await repo.stats.hits.get() == 1000

    async def float_worker() -> None:
        for _ in range(4):
            await repo.stats.score.incr(0.5)

    await asyncio.gather(*(float_worker() for _ in range(25)))
    assert await repo.stats.score.get() == 50.0


async def test_decoding_clients(make_repo: Any) -> None:
    stats = make_repo(Root, decode_responses=True).stats
    assert await stats.hits.incr(3) == 3
    assert await stats.hits.decr() == 2
    assert await stats.hits.get() == 2
    score = await stats.score.incr(0.5)
    assert (score, type(score)) == (0.5, float)
    assert await stats.score.decr(1) == -0.5
    assert await stats.score.get() == -0.5
    assert await stats.score.the_type is float


async def test_parameterized_counter(make_repo: Any, raw: Any) -> None:
    repo = make_repo(Root)
    assert await repo.per(1).incr() == 1
    assert await repo.per[1].incr() == 2
    assert await raw.get("co:per:1") == b"2"
    assert await repo.per(n=2).get() == 0


async def test_load_and_save_with_counters_and_a_list(stats: Any, raw: Any) -> None:
    snapshot = await stats.load()
    assert (snapshot.hits, snapshot.score, snapshot.seeded, snapshot.log) == (0, 0.0, 7, [])
    await stats.save({"hits": 5, "score": 1.5, "log": ["a", "b"]})
    assert await raw.get(HITS) == b"5"
    assert 55_000 < await raw.pttl(HITS) <= 60_000
    assert await stats.log.get() == ["a", "b"]
    snapshot = await stats.load()
    assert (snapshot.hits, snapshot.score, snapshot.log) == (5, 1.5, ["a", "b"])
    await stats.save(snapshot.model_copy(update={"hits": 6}))
    assert await stats.hits.incr() == 7
    with pytest.raises(pydantic.ValidationError):
        await stats.save({"hits": 1, "score": "lots"})
    assert await stats.hits.get() == 7


async def test_pipeline_queues_counter_operations(make_repo: Any, flavour: str, raw: Any) -> None:
    repo = make_repo(Root)
    async with repo.pipeline(transaction=True) as p:
        written = p.stats.hits.set(10)
        up = p.stats.hits.incr(5)
        down = p.stats.hits.decr()
        read = p.stats.hits.get()
        score = p.stats.score.incr(0.25)
        kind = p.stats.score.the_type
    assert (written.result, up.result, down.result, read.result) == (None, 15, 14, 14)
    assert (score.result, kind.result) == (0.25, float)
    assert 55_000 < await raw.pttl(HITS) <= 60_000
    await raw.set(SCORE, b"x")
    pipe = repo.pipeline()
    failed = pipe.stats.score.incr(1)
    fine = pipe.stats.hits.incr()
    with pytest.raises(PipelineError):
        await pipe.execute()
    assert fine.result == 15
    with pytest.raises(CorruptValueError):
        failed.result  # noqa: B018 - raises
