"""The exact commands ``Counter`` and ``FloatCounter`` operations emit (no Redis)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pydantic
import pytest

import keyspace
from keyspace import Cluster, CorruptValueError, Counter, FloatCounter
from keyspace._plan import Batch, Call


class Stats(Cluster, prefix="s", ttl=60):
    hits: Counter
    score: FloatCounter
    seeded: Counter = Counter(default=7)
    strict: Counter = Counter(strict=True)
    quick: FloatCounter = FloatCounter(ttl=0.5)
    forever: Counter = Counter(ttl=None)
    sliding: Counter = Counter(sliding=True)
    sliding_forever: Counter = Counter(ttl=None, sliding=True)


class Root(Cluster, prefix="cu"):
    stats: Stats


@pytest.fixture
def s() -> Any:
    return keyspace.Repository(Root, fakeredis.FakeAsyncRedis()).stats


def test_kind_names(s: Any) -> None:
    assert s.hits._kind == "Counter"
    assert s.score._kind == "FloatCounter"


def test_get(s: Any) -> None:
    op = s.hits._op_get()
    assert isinstance(op, Call)
    assert op.command == ("GET", "cu:s:hits")
    assert (op.key, op.kind) == ("cu:s:hits", "Counter")
    assert op.parse(b"42") == 42
    assert op.parse("-3") == -3
    assert op.parse(None) == 0
    assert s.seeded._op_get().parse(None) == 7
    score = s.score._op_get()
    assert score.parse(None) == 0.0
    assert type(score.parse(None)) is float
    assert score.parse(b"3") == 3.0
    assert type(score.parse(b"3")) is float
    assert score.parse(b"1.5") == 1.5


def test_get_of_a_non_number_names_the_key(s: Any) -> None:
    with pytest.raises(CorruptValueError, match="cu:s:hits"):
        s.hits._op_get().parse(b"abc")
    with pytest.raises(CorruptValueError, match="cu:s:hits"):
        s.hits._op_get().parse(b"1.5")


def test_sliding_get_renews_the_ttl_in_the_same_command(s: Any) -> None:
    assert s.sliding._op_get().command == ("GETEX", "cu:s:sliding", "EX", 60)
    assert s.sliding_forever._op_get().command == ("GET", "cu:s:sliding_forever")


def test_set_is_one_command_with_the_ttl(s: Any) -> None:
    assert s.hits._op_set(5).command == ("SET", "cu:s:hits", b"5", "EX", 60)
    assert s.hits._op_set("6").command[2] == b"6"  # lax, like Key[int]
    assert s.quick._op_set(2.5).command == ("SET", "cu:s:quick", b"2.5", "PX", 500)
    assert s.score._op_set(2).command[2] == b"2.0"
    assert s.forever._op_set(1).command == ("SET", "cu:s:forever", b"1")
    assert s.hits._op_set(1, ttl=None).command == ("SET", "cu:s:hits", b"1")
    assert s.hits._op_set(1, ttl=3).command == ("SET", "cu:s:hits", b"1", "EX", 3)
    assert s.hits._op_set(1).parse(b"OK") is None


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("hits", "x"),
        ("hits", 1.5),
        ("hits", 2**63),
        ("hits", -(2**63) - 1),
        ("strict", "6"),
        ("score", float("inf")),
        ("score", float("nan")),
        ("score", "many"),
    ],
)
def test_set_validates(s: Any, field: str, bad: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        getattr(s, field)._op_set(bad)


def test_incr_and_decr_carry_the_ttl_in_one_transaction(s: Any) -> None:
    op = s.hits._op_incr()
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (("INCRBY", "cu:s:hits", 1), ("EXPIRE", "cu:s:hits", 60))
    assert op.parse([3, True]) == 3
    assert s.hits._op_decr(4).commands[0] == ("DECRBY", "cu:s:hits", 4)
    assert s.forever._op_incr(2).commands == (
        ("INCRBY", "cu:s:forever", 2),
        ("PERSIST", "cu:s:forever"),
    )


def test_float_steps_use_incrbyfloat(s: Any) -> None:
    op = s.score._op_incr(0.5)
    assert op.commands == (("INCRBYFLOAT", "cu:s:score", 0.5), ("EXPIRE", "cu:s:score", 60))
    assert op.parse([b"2.5", True]) == 2.5
    assert op.parse(["2.5", True]) == 2.5
    assert op.parse([2.5, True]) == 2.5  # redis-py's callback already made it a float
    assert type(op.parse([b"3", True])) is float
    assert s.score._op_decr(1.5).commands[0] == ("INCRBYFLOAT", "cu:s:score", -1.5)
    assert s.score._op_incr(2).commands[0] == ("INCRBYFLOAT", "cu:s:score", 2.0)
    assert s.quick._op_incr().commands[1] == ("PEXPIRE", "cu:s:quick", 500)


@pytest.mark.parametrize("by", [True, 1.0, 1.5, "1", None, 2**63, -(2**63)])
def test_counter_steps_must_be_ints(s: Any, by: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        s.hits._op_incr(by)
    with pytest.raises(pydantic.ValidationError):
        s.hits._op_decr(by)


@pytest.mark.parametrize("by", [True, "1", None, float("inf"), float("nan")])
def test_float_steps_must_be_finite_numbers(s: Any, by: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        s.score._op_incr(by)


def test_the_type_reads_the_value(s: Any) -> None:
    op = s.hits._op_the_type()
    assert op.command == ("GET", "cu:s:hits")
    assert op.parse(None) is None
    assert op.parse(b"3") is int
    assert s.score._op_the_type().parse(b"3") is float
    with pytest.raises(CorruptValueError):
        op.parse(b"abc")
