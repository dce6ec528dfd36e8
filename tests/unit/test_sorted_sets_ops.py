"""The exact commands the sorted-set ops emit, and how they read replies (no Redis)."""

from __future__ import annotations

import math
from typing import Any

import fakeredis
import pydantic
import pytest

from keyspace import Cluster, OptionsError, Repository, SortedSetKey
from keyspace._plan import Batch, Call, parse_reply


class Board(Cluster, prefix="z", ttl=60):
    scores: SortedSetKey[str]
    ids: SortedSetKey[int] = {1: 2.0}
    brief: SortedSetKey[str] = SortedSetKey(ttl=0.5)
    forever: SortedSetKey[str] = SortedSetKey(ttl=None)
    sliding: SortedSetKey[str] = SortedSetKey(ttl=10, sliding=True)


@pytest.fixture
def repo() -> Any:
    return Repository(Board, fakeredis.FakeAsyncRedis())


EXPIRE = ("EXPIRE", "z:scores", 60)


def test_add_sends_zadd_and_the_expiry_in_one_transaction(repo: Any) -> None:
    op = repo.scores._op_add("a", 1)
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (("ZADD", "z:scores", 1.0, b'"a"'), EXPIRE)
    assert (op.key, op.kind) == ("z:scores", "SortedSetKey[str]")
    assert op.parse([1, True]) is True
    assert op.parse([0, True]) is False
    assert repo.scores._op_add("a", 2.5, nx=True).commands[0] == (
        "ZADD",
        "z:scores",
        "NX",
        2.5,
        b'"a"',
    )
    assert repo.scores._op_add("a", 1, xx=True, gt=True).commands[0][2:4] == ("XX", "GT")
    assert repo.scores._op_add("a", 1, lt=True).commands[0][2] == "LT"
    assert repo.brief._op_add("a", 1).commands[-1] == ("PEXPIRE", "z:brief", 500)
    assert repo.forever._op_add("a", 1).commands[-1] == ("PERSIST", "z:forever")


def test_add_many(repo: Any) -> None:
    op = repo.scores._op_add_many({"a": 1, "b": -2})
    assert op.commands == (("ZADD", "z:scores", 1.0, b'"a"', -2.0, b'"b"'), EXPIRE)
    assert op.parse([2, True]) == 2
    op = repo.ids._op_add_many({1: 1, "1": 5})  # the same member after validation: last wins
    assert op.commands[0] == ("ZADD", "z:ids", 5.0, b"1")
    empty = repo.scores._op_add_many({})
    assert empty.commands == ()
    assert parse_reply(empty, []) == 0


def test_set_replaces_with_ttl(repo: Any) -> None:
    op = repo.scores._op_set({"a": 1, "b": 2})
    assert op.commands == (
        ("DEL", "z:scores"),
        ("ZADD", "z:scores", 1.0, b'"a"', 2.0, b'"b"'),
        EXPIRE,
    )
    assert op.parse([0, 2, True]) is None
    assert repo.scores._op_set({}).commands == (("DEL", "z:scores"),)
    assert repo.scores._op_set({"a": 1}, ttl=None).commands[-1] == ("PERSIST", "z:scores")


def test_incr(repo: Any) -> None:
    op = repo.scores._op_incr("a")
    assert op.commands == (("ZINCRBY", "z:scores", 1.0, b'"a"'), EXPIRE)
    assert op.parse([b"3.5", True]) == 3.5
    assert op.parse(["3.5", True]) == 3.5
    assert op.parse([3.5, True]) == 3.5
    assert repo.scores._op_incr("a", -2).commands[0][2] == -2.0


def test_point_reads(repo: Any) -> None:
    score = repo.scores._op_score("a")
    assert isinstance(score, Call)
    assert score.command == ("ZSCORE", "z:scores", b'"a"')
    assert (score.parse(None), score.parse(b"1.5"), score.parse(1.5)) == (None, 1.5, 1.5)
    assert score.parse(b"inf") == math.inf
    assert repo.scores._op_rank("a").command == ("ZRANK", "z:scores", b'"a"')
    assert repo.scores._op_rank("a", reverse=True).command == ("ZREVRANK", "z:scores", b'"a"')
    assert (repo.scores._op_rank("a").parse(None), repo.scores._op_rank("a").parse(3)) == (None, 3)
    assert repo.scores._op_length().command == ("ZCARD", "z:scores")
    assert repo.scores._op_remove("a", "b").command == ("ZREM", "z:scores", b'"a"', b'"b"')
    assert repo.scores._op_remove().commands == ()


def test_get_reads_every_reply_shape(repo: Any) -> None:
    op = repo.scores._op_get()
    assert op.command == ("ZRANGE", "z:scores", 0, -1, "WITHSCORES")
    expected = {"b": 1.0, "a": 2.0}
    assert op.parse([b'"b"', b"1", b'"a"', b"2"]) == expected  # RESP2, raw
    assert op.parse(['"b"', "1", '"a"', "2"]) == expected  # decoded
    assert op.parse([(b'"b"', 1.0), (b'"a"', 2.0)]) == expected  # redis-py's pairs
    assert op.parse([[b'"b"', 1.0], [b'"a"', 2.0]]) == expected  # RESP3
    assert list(op.parse([b'"b"', b"1", b'"a"', b"2"])) == ["b", "a"]
    assert op.parse([]) == {}
    assert repo.ids._op_get().parse([]) == {1: 2.0}


def test_index_ranges(repo: Any) -> None:
    assert repo.scores._op_range().command == ("ZRANGE", "z:scores", 0, -1)
    assert repo.scores._op_range(1, 3, reverse=True).command == (
        "ZRANGE",
        "z:scores",
        1,
        3,
        "REV",
    )
    op = repo.scores._op_range_with_scores(0, 0, reverse=True)
    assert op.command == ("ZRANGE", "z:scores", 0, 0, "REV", "WITHSCORES")
    assert op.parse([b'"a"', b"2"]) == [("a", 2.0)]
    assert repo.scores._op_range().parse([b'"a"', '"b"']) == ["a", "b"]
    with pytest.raises(OptionsError, match="int"):
        repo.scores._op_range(0.5)


@pytest.mark.parametrize(
    ("args", "kwargs", "tail"),
    [
        ((), {}, ("-inf", "+inf", "BYSCORE")),
        ((1, 2.5), {}, ("1.0", "2.5", "BYSCORE")),
        (("(1", "+inf"), {}, ("(1.0", "+inf", "BYSCORE")),
        ((-math.inf, math.inf), {}, ("-inf", "+inf", "BYSCORE")),
        (("-inf", "inf"), {}, ("-inf", "+inf", "BYSCORE")),
        ((1, "(5"), {"reverse": True}, ("(5.0", "1.0", "BYSCORE", "REV")),
        ((), {"count": 3}, ("-inf", "+inf", "BYSCORE", "LIMIT", 0, 3)),
        ((), {"offset": 2}, ("-inf", "+inf", "BYSCORE", "LIMIT", 2, -1)),
        (
            (0, 9),
            {"offset": 1, "count": 2, "reverse": True},
            ("9.0", "0.0", "BYSCORE", "REV", "LIMIT", 1, 2),
        ),
    ],
)
def test_score_ranges(repo: Any, args: Any, kwargs: Any, tail: tuple[Any, ...]) -> None:
    assert repo.scores._op_range_by_score(*args, **kwargs).command == ("ZRANGE", "z:scores", *tail)
    op = repo.scores._op_range_by_score_with_scores(*args, **kwargs)
    assert op.command == ("ZRANGE", "z:scores", *tail, "WITHSCORES")


@pytest.mark.parametrize("bound", ["x", "(", "nan", math.nan, None, True, b"1"])
def test_bad_score_bounds(repo: Any, bound: Any) -> None:
    with pytest.raises(OptionsError, match="score bound"):
        repo.scores._op_range_by_score(bound, 1)


def test_bad_limits(repo: Any) -> None:
    for kwargs in ({"offset": -1}, {"count": -2}, {"count": 1.5}, {"offset": True}):
        with pytest.raises(OptionsError):
            repo.scores._op_range_by_score(**kwargs)


@pytest.mark.parametrize("score", [True, math.nan, math.inf, -math.inf, "1", None, 1j])
def test_scores_are_finite_numbers(repo: Any, score: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        repo.scores._op_add("a", score)
    with pytest.raises(pydantic.ValidationError):
        repo.scores._op_add_many({"a": score})
    with pytest.raises(pydantic.ValidationError):
        repo.scores._op_incr("a", score)
    with pytest.raises(pydantic.ValidationError):
        repo.scores._op_set({"a": score})


def test_contradictory_options(repo: Any) -> None:
    for kwargs in ({"nx": True, "xx": True}, {"gt": True, "lt": True}, {"nx": True, "lt": True}):
        with pytest.raises(OptionsError):
            repo.scores._op_add("a", 1, **kwargs)
    with pytest.raises(OptionsError, match="mapping"):
        repo.scores._op_set([("a", 1)])


def test_sliding_reads_renew_the_ttl(repo: Any) -> None:
    op = repo.sliding._op_range_by_score()
    assert isinstance(op, Batch)
    assert op.commands == (
        ("ZRANGE", "z:sliding", "-inf", "+inf", "BYSCORE"),
        ("EXPIRE", "z:sliding", 10),
    )
    assert op.parse([[b'"a"'], 1]) == ["a"]
    assert repo.sliding._op_get().commands[1] == ("EXPIRE", "z:sliding", 10)
    assert repo.sliding._op_score("a").commands[1] == ("EXPIRE", "z:sliding", 10)
