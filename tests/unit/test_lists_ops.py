"""The exact commands ``ListKey`` operations emit, and how their replies parse (no Redis)."""

from __future__ import annotations

from datetime import date
from typing import Any

import fakeredis
import pydantic
import pytest

import keyspace
from keyspace import Cluster, CorruptValueError, ListKey, OptionsError, TTLError
from keyspace._plan import Batch, Call


class Queue(Cluster, prefix="q", ttl=60):
    jobs: ListKey[int]
    days: ListKey[date] = ListKey(ttl=1.5)
    forever: ListKey[str] = ListKey(ttl=None)
    seeded: ListKey[str] = ListKey(default=["x"])
    sliding: ListKey[int] = ListKey(sliding=True)
    sliding_forever: ListKey[int] = ListKey(ttl=None, sliding=True)
    per: ListKey[int] = ListKey("per:{n}")


class Root(Cluster, prefix="lu"):
    queue: Queue


@pytest.fixture
def q() -> Any:
    return keyspace.Repository(Root, fakeredis.FakeAsyncRedis()).queue


def test_get_is_one_lrange_and_missing_gives_a_fresh_default(q: Any) -> None:
    op = q.jobs._op_get()
    assert isinstance(op, Call)
    assert op.command == ("LRANGE", "lu:q:jobs", 0, -1)
    assert (op.key, op.kind) == ("lu:q:jobs", "ListKey[int]")
    assert op.parse([b"1", "2"]) == [1, 2]
    assert op.parse([]) == []
    seeded = q.seeded._op_get()
    first = seeded.parse([])
    assert first == ["x"]
    first.append("y")
    assert seeded.parse([]) == ["x"]


def test_a_corrupt_member_names_the_key(q: Any) -> None:
    with pytest.raises(CorruptValueError, match="lu:q:jobs"):
        q.jobs._op_get().parse([b"1", b"one"])


def test_set_replaces_in_one_transaction_with_the_ttl(q: Any) -> None:
    op = q.jobs._op_set([3, "4"])
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (
        ("DEL", "lu:q:jobs"),
        ("RPUSH", "lu:q:jobs", b"3", b"4"),
        ("EXPIRE", "lu:q:jobs", 60),
    )
    assert op.parse([1, 2, True]) is None
    assert q.days._op_set([date(2024, 1, 2)]).commands[1:] == (
        ("RPUSH", "lu:q:days", b'"2024-01-02"'),
        ("PEXPIRE", "lu:q:days", 1500),
    )
    assert q.forever._op_set(["a"]).commands[-1] == ("PERSIST", "lu:q:forever")
    assert q.jobs._op_set([1], ttl=None).commands[-1] == ("PERSIST", "lu:q:jobs")
    assert q.jobs._op_set((1,), ttl=2).commands[-1] == ("EXPIRE", "lu:q:jobs", 2)


def test_setting_an_empty_list_deletes_the_key(q: Any) -> None:
    assert q.jobs._op_set([]).commands == (("DEL", "lu:q:jobs"),)


def test_set_validates_before_building_anything(q: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        q.jobs._op_set([1, "two"])
    with pytest.raises(pydantic.ValidationError):
        q.jobs._op_set("12")  # a string is not a list of ints
    with pytest.raises(TTLError):
        q.jobs._op_set([], ttl=-1)


def test_push_appends_with_the_ttl_and_returns_the_length(q: Any) -> None:
    op = q.jobs._op_push(1, 2)
    assert op.commands == (("RPUSH", "lu:q:jobs", b"1", b"2"), ("EXPIRE", "lu:q:jobs", 60))
    assert op.parse([5, True]) == 5
    left = q.jobs._op_push_left(7)
    assert left.commands[0] == ("LPUSH", "lu:q:jobs", b"7")
    with pytest.raises(pydantic.ValidationError):
        q.jobs._op_push(1, "x")


def test_push_of_nothing_only_reads_the_length(q: Any) -> None:
    op = q.jobs._op_push()
    assert op.command == ("LLEN", "lu:q:jobs")
    assert op.parse(3) == 3


def test_pops(q: Any) -> None:
    assert q.jobs._op_pop().command == ("RPOP", "lu:q:jobs")
    assert q.jobs._op_pop_left().command == ("LPOP", "lu:q:jobs")
    assert q.jobs._op_pop().parse(b"4") == 4
    assert q.jobs._op_pop().parse(None) is None
    many = q.jobs._op_pop_many(3)
    assert many.command == ("RPOP", "lu:q:jobs", 3)
    assert many.parse([b"3", "2"]) == [3, 2]
    assert many.parse(None) == []
    assert q.jobs._op_pop_many(2, left=True).command == ("LPOP", "lu:q:jobs", 2)


@pytest.mark.parametrize("count", [0, -1, True, 1.0, "2"])
def test_pop_many_needs_a_positive_int(q: Any, count: Any) -> None:
    with pytest.raises(OptionsError, match="count"):
        q.jobs._op_pop_many(count)


def test_blocking_pop(q: Any) -> None:
    op = q.jobs._op_blocking_pop(1.5)
    assert op.command == ("BRPOP", "lu:q:jobs", 1.5)
    assert (op.key, op.kind) == ("lu:q:jobs", "ListKey[int]")
    assert op.parse((b"lu:q:jobs", b"9")) == 9
    assert op.parse(["lu:q:jobs", "9"]) == 9
    assert op.parse(None) is None
    assert q.jobs._op_blocking_pop(2, left=True).command == ("BLPOP", "lu:q:jobs", 2)


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), True, "1", None])
def test_blocking_pop_needs_a_positive_finite_timeout(q: Any, timeout: Any) -> None:
    with pytest.raises(OptionsError, match="timeout"):
        q.jobs._op_blocking_pop(timeout)


def test_reads(q: Any) -> None:
    assert q.jobs._op_range().command == ("LRANGE", "lu:q:jobs", 0, -1)
    assert q.jobs._op_range(1, -2).command == ("LRANGE", "lu:q:jobs", 1, -2)
    assert q.jobs._op_range(5, 6).parse([]) == []  # not the default: an empty slice
    assert q.seeded._op_range().parse([]) == []
    assert q.jobs._op_index(-1).command == ("LINDEX", "lu:q:jobs", -1)
    assert q.jobs._op_index(0).parse(None) is None
    assert q.jobs._op_index(0).parse(b"8") == 8
    assert q.jobs._op_length().command == ("LLEN", "lu:q:jobs")
    assert q.jobs._op_length().parse(0) == 0


def test_trim_and_remove_leave_the_ttl_alone(q: Any) -> None:
    trim = q.jobs._op_trim(0, 9)
    assert trim.command == ("LTRIM", "lu:q:jobs", 0, 9)
    assert trim.parse(b"OK") is None
    remove = q.jobs._op_remove(3)
    assert remove.command == ("LREM", "lu:q:jobs", 0, b"3")
    assert remove.parse(2) == 2
    assert q.jobs._op_remove("3", -1).command == ("LREM", "lu:q:jobs", -1, b"3")
    with pytest.raises(pydantic.ValidationError):
        q.jobs._op_remove("three")


@pytest.mark.parametrize("bad", [1.5, "0", True, None, 2**63])
def test_indexes_must_be_ints(q: Any, bad: Any) -> None:
    with pytest.raises(OptionsError):
        q.jobs._op_range(bad)
    with pytest.raises(OptionsError):
        q.jobs._op_index(bad)
    with pytest.raises(OptionsError):
        q.jobs._op_trim(0, bad)
    with pytest.raises(OptionsError):
        q.jobs._op_remove(1, bad)


def test_sliding_reads_renew_the_ttl_in_the_same_transaction(q: Any) -> None:
    op = q.sliding._op_get()
    assert isinstance(op, Batch)
    assert op.commands == (
        ("LRANGE", "lu:q:sliding", 0, -1),
        ("EXPIRE", "lu:q:sliding", 60),
    )
    assert op.parse([[b"1"], True]) == [1]
    assert op.parse([[], False]) == []
    assert q.sliding._op_index(0).commands[1] == ("EXPIRE", "lu:q:sliding", 60)
    assert q.sliding._op_length().parse([4, True]) == 4
    assert q.sliding._op_range(0, 1).parse([[b"2"], True]) == [2]
    # Nothing to renew without a TTL.
    assert q.sliding_forever._op_get().command == ("LRANGE", "lu:q:sliding_forever", 0, -1)


def test_unbound_key_raises_binding_error(q: Any) -> None:
    with pytest.raises(keyspace.BindingError):
        q.per._op_get()
    assert q.per(3)._op_push(1).commands[0] == ("RPUSH", "lu:q:per:3", b"1")
