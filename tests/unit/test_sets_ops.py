"""The exact commands the set ops emit, and how they read replies (no Redis)."""

from __future__ import annotations

import dataclasses
from typing import Any

import fakeredis
import pydantic
import pytest
from pydantic import BaseModel, ConfigDict

from keyspace import (
    Cluster,
    CorruptValueError,
    OptionsError,
    Repository,
    SetKey,
    UnsupportedValueError,
)
from keyspace._codec import codec_for
from keyspace._plan import Batch, Call, parse_reply
from keyspace._sets import encode_member


class Item(BaseModel, frozen=True):
    name: str
    qty: int = 0


class Open(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    name: str


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Sets(Cluster, prefix="s", ttl=60):
    ids: SetKey[int]
    tags: SetKey[str] = {"a"}
    brief: SetKey[int] = SetKey(ttl=1.5)
    forever: SetKey[int] = SetKey(ttl=None)
    sliding: SetKey[int] = SetKey(sliding=True)


@pytest.fixture
def repo() -> Any:
    return Repository(Sets, fakeredis.FakeAsyncRedis())


def test_add_sends_sadd_and_the_expiry_in_one_transaction(repo: Any) -> None:
    op = repo.ids._op_add(1, "2", 1)
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (("SADD", "s:ids", b"1", b"2"), ("EXPIRE", "s:ids", 60))
    assert (op.key, op.kind) == ("s:ids", "SetKey[int]")
    assert op.parse([1, True]) == 1
    assert repo.brief._op_add(1).commands[-1] == ("PEXPIRE", "s:brief", 1500)
    assert repo.forever._op_add(1).commands[-1] == ("PERSIST", "s:forever")


def test_nothing_to_add_or_remove_sends_nothing(repo: Any) -> None:
    for op in (repo.ids._op_add(), repo.ids._op_remove()):
        assert op.commands == ()
        assert parse_reply(op, []) == 0
    for op in (repo.ids._op_random_many(0), repo.ids._op_pop_many(0)):
        assert op.commands == ()
        assert parse_reply(op, []) == []


def test_set_replaces_with_ttl(repo: Any) -> None:
    op = repo.ids._op_set([2, 1, 2])
    assert op.commands == (
        ("DEL", "s:ids"),
        ("SADD", "s:ids", b"2", b"1"),
        ("EXPIRE", "s:ids", 60),
    )
    assert repo.ids._op_set({1}, ttl=None).commands[-1] == ("PERSIST", "s:ids")
    assert repo.ids._op_set({1}, ttl=0.5).commands[-1] == ("PEXPIRE", "s:ids", 500)
    assert repo.ids._op_set(set()).commands == (("DEL", "s:ids"),)
    assert op.parse([1, 2, True]) is None


def test_reads(repo: Any) -> None:
    get = repo.tags._op_get()
    assert isinstance(get, Call)
    assert get.command == ("SMEMBERS", "s:tags")
    assert get.parse({b'"x"', b'"y"'}) == {"x", "y"}
    assert get.parse(['"x"']) == {"x"}  # decoding clients reply str
    with pytest.raises(CorruptValueError, match="s:tags"):
        get.parse([b"x"])
    assert get.parse(set()) == {"a"}  # missing: the default
    members = repo.tags._op_members()
    assert members.command == ("SMEMBERS", "s:tags")
    assert members.parse(set()) == set()
    assert repo.ids._op_contains("3").command == ("SISMEMBER", "s:ids", b"3")
    assert repo.ids._op_contains(3).parse(1) is True
    assert repo.ids._op_contains(3).parse(b"0") is False
    assert repo.ids._op_length().command == ("SCARD", "s:ids")
    assert repo.ids._op_random().command == ("SRANDMEMBER", "s:ids")
    assert repo.ids._op_random().parse(None) is None
    assert repo.ids._op_random().parse(b"4") == 4
    assert repo.ids._op_random_many(3).command == ("SRANDMEMBER", "s:ids", 3)
    assert repo.ids._op_random_many(3, unique=False).command == ("SRANDMEMBER", "s:ids", -3)
    assert repo.ids._op_random_many(3).parse([b"1", "1"]) == [1, 1]


def test_writes_that_shrink_do_not_touch_the_ttl(repo: Any) -> None:
    assert repo.ids._op_remove(1, 2).command == ("SREM", "s:ids", b"1", b"2")
    assert repo.ids._op_pop().command == ("SPOP", "s:ids")
    assert repo.ids._op_pop().parse(None) is None
    assert repo.ids._op_pop_many(2).command == ("SPOP", "s:ids", 2)
    assert repo.ids._op_pop_many(2).parse([b"5"]) == [5]


def test_sliding_reads_renew_the_ttl(repo: Any) -> None:
    op = repo.sliding._op_get()
    assert isinstance(op, Batch)
    assert op.commands == (("SMEMBERS", "s:sliding"), ("EXPIRE", "s:sliding", 60))
    assert op.parse([{b"1"}, 1]) == {1}
    assert repo.sliding._op_length().commands[0] == ("SCARD", "s:sliding")
    assert isinstance(repo.sliding._op_pop(), Call)  # pop is a write that shrinks


def test_validation_happens_before_any_command(repo: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        repo.ids._op_add(1, "x")
    with pytest.raises(pydantic.ValidationError):
        repo.ids._op_contains("x")
    with pytest.raises(UnsupportedValueError):
        repo.ids._op_set("12")
    with pytest.raises(OptionsError):
        repo.ids._op_random_many(-2)
    with pytest.raises(OptionsError):
        repo.ids._op_pop_many(1.5)


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (int, "7", b"7"),
        (float, 1, b"1.0"),
        (tuple[int, str], [1, "a"], b'[1,"a"]'),
        (Item, {"qty": 2, "name": "x"}, b'{"name":"x","qty":2}'),
        (Item, Item(qty=2, name="x"), b'{"name":"x","qty":2}'),
        (Point, {"y": 2, "x": 1}, b'{"x":1,"y":2}'),
        (Open, {"name": "x", "extra": 1}, b'{"name":"x","extra":1}'),
        (frozenset[int], [3], b"[3]"),
        (Any, (1, "a"), b'{"$type":"tuple","value":[1,"a"]}'),
    ],
)
def test_members_encode_canonically(annotation: Any, value: Any, expected: bytes) -> None:
    assert encode_member(codec_for(annotation, strict=False), value, "k") == expected


@pytest.mark.parametrize(
    ("annotation", "value", "match"),
    [
        (list[int], [1], "hashable"),
        (Any, {"a": 1}, "hashable"),
        (frozenset[str], ["a", "b"], "frozenset of 2 items"),
        (Any, (1, frozenset({"a", "b"})), "frozenset of 2 items"),
        (Open, {"name": "x", "b": 1, "a": 2}, "2 extra fields"),
    ],
)
def test_non_canonical_members_are_refused(annotation: Any, value: Any, match: str) -> None:
    with pytest.raises(UnsupportedValueError, match=match):
        encode_member(codec_for(annotation, strict=False), value, "k")
