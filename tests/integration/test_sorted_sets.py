"""SortedSetKey end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from keyspace import (
    Cluster,
    OptionsError,
    SetKey,
    SortedSetKey,
    UnsupportedValueError,
    WrongTypeError,
)


class Player(BaseModel, frozen=True):
    name: str
    team: int = 0


class Board(Cluster, prefix="zk", ttl=100):
    scores: SortedSetKey[str]
    by_id: SortedSetKey[int] = {7: 1.5}
    pairs: SortedSetKey[tuple[int, str]]
    players: SortedSetKey[Player]
    forever: SortedSetKey[str] = SortedSetKey(ttl=None)
    brief: SortedSetKey[str] = SortedSetKey(ttl=0.25)
    sliding: SortedSetKey[str] = SortedSetKey(ttl=30, sliding=True)
    lists: SortedSetKey[list[int]]  # unhashable members: every write is refused
    online: SetKey[int]


@pytest.fixture
def repo(make_repo: Any) -> Any:
    return make_repo(Board)


LEADERS = {"ann": 30, "bob": 10, "cid": 20, "dan": 20, "eve": 5.5}


async def test_leaderboard(repo: Any, raw: Any) -> None:
    board = repo.scores
    assert await board.add_many(LEADERS) == 5
    assert await board.get() == {"eve": 5.5, "bob": 10, "cid": 20, "dan": 20, "ann": 30}
    assert list(await board.get()) == ["eve", "bob", "cid", "dan", "ann"]  # score order
    assert all(type(s) is float for s in (await board.get()).values())
    assert await raw.zrange("zk:scores", 0, -1) == [
        b'"eve"',
        b'"bob"',
        b'"cid"',
        b'"dan"',
        b'"ann"',
    ]
    assert await board.range(0, 2, reverse=True) == ["ann", "dan", "cid"]  # top three
    assert await board.range_with_scores(0, 0, reverse=True) == [("ann", 30.0)]
    assert await board.range(-2) == ["dan", "ann"]
    assert await board.range() == ["eve", "bob", "cid", "dan", "ann"]
    assert await board.incr("bob", 25) == 35.0
    assert await board.incr("new") == 1.0
    assert await board.incr("eve", -0.5) == 5.0
    assert await board.score("bob") == 35.0
    assert await board.score("nobody") is None
    assert await board.rank("bob", reverse=True) == 0
    assert await board.rank("new") == 0
    assert await board.rank("nobody") is None
    assert await board.length() == 6
    assert await board.remove("new", "nobody") == 1
    assert await board.remove() == 0
    assert await board.length() == 5


async def test_ties_rank_by_member(repo: Any) -> None:
    await repo.scores.set({"b": 1, "a": 1, "c": 1})
    # Equal scores order by member bytes: '"a"' < '"b"' < '"c"'.
    assert await repo.scores.range() == ["a", "b", "c"]
    assert [await repo.scores.rank(m) for m in "abc"] == [0, 1, 2]
    assert [await repo.scores.rank(m, reverse=True) for m in "abc"] == [2, 1, 0]


async def test_range_by_score(repo: Any) -> None:
    board = repo.scores
    await board.set(LEADERS)
    assert await board.range_by_score() == ["eve", "bob", "cid", "dan", "ann"]
    assert await board.range_by_score(10, 20) == ["bob", "cid", "dan"]
    assert await board.range_by_score("(10", 20) == ["cid", "dan"]
    assert await board.range_by_score(10, "(20") == ["bob"]
    assert await board.range_by_score(-math.inf, 10) == ["eve", "bob"]
    assert await board.range_by_score("-inf", "+inf", reverse=True) == [
        "ann",
        "dan",
        "cid",
        "bob",
        "eve",
    ]
    assert await board.range_by_score(20, math.inf, reverse=True) == ["ann", "dan", "cid"]
    assert await board.range_by_score(offset=1, count=2) == ["bob", "cid"]
    assert await board.range_by_score(count=1, reverse=True) == ["ann"]
    assert await board.range_by_score(offset=3) == ["dan", "ann"]
    assert await board.range_by_score_with_scores(20, "inf") == [
        ("cid", 20.0),
        ("dan", 20.0),
        ("ann", 30.0),
    ]
    assert await board.range_by_score_with_scores("(5.5", 10, reverse=True) == [("bob", 10.0)]
    assert await board.range_by_score(31, 40) == []
    with pytest.raises(OptionsError, match="score bound"):
        await board.range_by_score("ten", 20)
    with pytest.raises(OptionsError, match="score bound"):
        await board.range_by_score(math.nan, 20)
    with pytest.raises(OptionsError, match="offset"):
        await board.range_by_score(offset=-1)


async def test_add_options(repo: Any) -> None:
    board = repo.scores
    assert await board.add("a", 5) is True
    assert await board.add("a", 6) is False  # updated, not new
    assert await board.score("a") == 6.0
    assert await board.add("a", 1, nx=True) is False
    assert await board.score("a") == 6.0
    assert await board.add("b", 1, xx=True) is False
    assert await board.score("b") is None
    assert await board.add("a", 3, gt=True) is False
    assert await board.score("a") == 6.0
    assert await board.add("a", 9, gt=True) is False
    assert await board.score("a") == 9.0
    assert await board.add("a", 2, lt=True) is False
    assert await board.score("a") == 2.0
    assert await board.add_many({"a": 0, "c": 1}, nx=True) == 1
    assert await board.get() == {"a": 2.0, "c": 1.0}
    assert await board.add_many({}) == 0
    for options in ({"nx": True, "xx": True}, {"gt": True, "lt": True}, {"nx": True, "gt": True}):
        with pytest.raises(OptionsError):
            await board.add("z", 1, **options)
        with pytest.raises(OptionsError):
            await board.add_many({}, **options)


async def test_scores_are_finite_numbers(repo: Any, raw: Any) -> None:
    for bad in (True, math.nan, math.inf, "1", None):
        with pytest.raises(pydantic.ValidationError):
            await repo.scores.add("a", bad)
        with pytest.raises(pydantic.ValidationError):
            await repo.scores.add_many({"a": 1, "b": bad})
        with pytest.raises(pydantic.ValidationError):
            await repo.scores.incr("a", bad)
        with pytest.raises(pydantic.ValidationError):
            await repo.scores.set({"a": bad})
    assert await raw.exists("zk:scores") == 0
    await repo.scores.add("int", 3)
    assert await repo.scores.get() == {"int": 3.0}


async def test_member_types(repo: Any, raw: Any) -> None:
    await repo.by_id.add_many({1: 1, "2": 2})  # lax: "2" is the member 2
    assert await repo.by_id.get() == {1: 1.0, 2: 2.0}
    assert await raw.zrange("zk:by_id", 0, -1) == [b"1", b"2"]
    assert await repo.by_id.score("2") == 2.0
    await repo.pairs.add([1, "a"], 2)
    await repo.pairs.incr((1, "a"))
    assert await repo.pairs.get() == {(1, "a"): 3.0}
    assert await repo.pairs.range_with_scores() == [((1, "a"), 3.0)]
    await repo.players.add({"team": 1, "name": "x"}, 10)
    await repo.players.add(Player(name="x", team=1), 20)  # the same member
    assert await repo.players.get() == {Player(name="x", team=1): 20.0}
    assert await repo.players.rank(Player(name="x", team=1)) == 0
    with pytest.raises(UnsupportedValueError, match="hashable"):
        await repo.lists.add([1], 1)
    assert await raw.exists("zk:lists") == 0


async def test_set_replaces_and_empty_deletes(repo: Any, raw: Any) -> None:
    await repo.scores.add("old", 1)
    assert await repo.scores.set({"x": 2, "y": 1}) is None
    assert await repo.scores.get() == {"y": 1.0, "x": 2.0}
    await repo.scores.set({})
    assert await raw.exists("zk:scores") == 0
    with pytest.raises(OptionsError, match="mapping"):
        await repo.scores.set(["x"])


async def test_missing_key_reads_the_default(repo: Any, raw: Any) -> None:
    assert await repo.scores.get() == {}
    by_id = await repo.by_id.get()
    assert by_id == {7: 1.5}
    by_id[8] = 2.0
    assert await repo.by_id.get() == {7: 1.5}
    assert await repo.by_id.length() == 0
    assert await repo.by_id.range() == []
    assert await repo.by_id.range_with_scores() == []
    assert await raw.exists("zk:by_id") == 0


async def test_writes_apply_the_ttl(repo: Any, raw: Any) -> None:
    await repo.scores.add("a", 1)
    assert 99_000 < await raw.pttl("zk:scores") <= 100_000
    board = repo.scores
    for write in (
        lambda: board.add("b", 1),
        lambda: board.add_many({"c": 1}),
        lambda: board.incr("a"),
        lambda: board.set({"a": 1}),
    ):
        await board.expire(5)
        await write()
        assert 99_000 < await raw.pttl("zk:scores") <= 100_000
    await repo.scores.expire(5)
    await repo.scores.remove("a")  # removing does not extend the key's life
    await repo.scores.add("a", 1)
    await repo.scores.expire(5)
    await repo.scores.remove("a")
    assert await raw.pttl("zk:scores") <= 5_000
    await repo.scores.set({"a": 1}, ttl=3600)
    assert 3_590_000 < await raw.pttl("zk:scores") <= 3_600_000
    await raw.expire("zk:forever", 50)
    await repo.forever.incr("a")
    assert await raw.pttl("zk:forever") == -1
    await repo.brief.add("a", 1)
    assert 0 < await raw.pttl("zk:brief") <= 250
    await asyncio.sleep(0.3)
    assert await repo.brief.get() == {}


async def test_sliding_reads_renew_the_ttl(repo: Any, raw: Any) -> None:
    await repo.sliding.add("a", 1)
    key = repo.sliding
    for read in (lambda: key.score("a"), key.range_by_score, key.get, key.length):
        await raw.pexpire("zk:sliding", 1_000)
        await read()
        assert 29_000 < await raw.pttl("zk:sliding") <= 30_000


async def test_decoding_client(make_repo: Any) -> None:
    repo = make_repo(Board, decode_responses=True)
    await repo.scores.set(LEADERS)
    assert await repo.scores.get() == {"eve": 5.5, "bob": 10, "cid": 20, "dan": 20, "ann": 30}
    assert await repo.scores.range(0, 0) == ["eve"]
    assert await repo.scores.range_with_scores(0, 0) == [("eve", 5.5)]
    assert await repo.scores.range_by_score_with_scores(30) == [("ann", 30.0)]
    assert await repo.scores.score("ann") == 30.0
    assert await repo.scores.incr("ann", 0.5) == 30.5
    assert await repo.scores.rank("ann") == 4
    await repo.pairs.add((1, "a"), 1)
    assert await repo.pairs.get() == {(1, "a"): 1.0}


async def test_wrong_type(repo: Any, raw: Any) -> None:
    await raw.sadd("zk:scores", b'"x"')
    with pytest.raises(WrongTypeError, match=r"zk:scores.*SortedSetKey\[str\].*set"):
        await repo.scores.add("a", 1)
    board = repo.scores
    for read in (board.get, lambda: board.score("x"), board.range_by_score, board.length):
        with pytest.raises(WrongTypeError, match="SortedSetKey"):
            await read()
    with pytest.raises(WrongTypeError, match="SortedSetKey"):
        await repo.scores.the_type
    assert await raw.smembers("zk:scores") == {b'"x"'}


async def test_the_type(repo: Any) -> None:
    assert await repo.scores.the_type is None
    await repo.scores.add("a", 1)
    assert await repo.scores.the_type is dict


async def test_pipeline(repo: Any, flavour: str) -> None:
    async with repo.pipeline(transaction=True) as p:
        added = p.scores.add_many({"a": 1, "b": 2})
        one = p.scores.add("c", 3)
        incr = p.scores.incr("a", 10)
        top = p.scores.range(0, 0, reverse=True)
        scored = p.scores.range_by_score_with_scores(2, 3)
        rank = p.scores.rank("a")
        score = p.scores.score("b")
        got = p.scores.get()
        online = p.online.add(1, 2)
    assert (added.result, one.result, incr.result) == (2, True, 11.0)
    assert top.result == ["a"]
    assert scored.result == [("b", 2.0), ("c", 3.0)]
    assert (rank.result, score.result) == (2, 2.0)
    assert got.result == {"b": 2.0, "c": 3.0, "a": 11.0}
    assert online.result == 2
    assert 99 < await repo.scores.ttl() <= 100


async def test_load_and_save_a_set_and_a_sorted_set(repo: Any, raw: Any) -> None:
    await repo.scores.add_many({"a": 2, "b": 1})
    await repo.online.add(3, 4)
    snapshot = await repo.load()
    assert snapshot.scores == {"b": 1.0, "a": 2.0}
    assert snapshot.online == {3, 4}
    assert snapshot.by_id == {7: 1.5}
    assert snapshot.players == {}
    await raw.delete("zk:scores", "zk:online")
    await repo.save(snapshot.model_copy(update={"by_id": {1: 1.0}}))
    assert await repo.scores.get() == {"b": 1.0, "a": 2.0}
    assert await repo.online.get() == {3, 4}
    assert await repo.by_id.get() == {1: 1.0}
    assert 99_000 < await raw.pttl("zk:scores") <= 100_000
    await repo.save({"scores": {}, "online": set()})
    assert await raw.exists("zk:scores", "zk:online") == 0
    with pytest.raises(pydantic.ValidationError):
        await repo.save({"online": {5}, "scores": {"a": math.nan}})
    assert await raw.exists("zk:online") == 0  # nothing written
