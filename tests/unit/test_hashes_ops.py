"""The exact commands HashKey operations emit, and how their replies are parsed (no Redis)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import fakeredis
import pydantic
import pytest
from pydantic import BaseModel, Field

import keyspace
from keyspace import (
    BindingError,
    Cluster,
    CorruptValueError,
    HashKey,
    KeyNotFoundError,
    OptionsError,
    TTLError,
)
from keyspace._plan import Batch, Call


class Point(BaseModel):
    x: int
    y: float = 0.0
    label: str | None = None
    when: datetime | None = None
    n: int = Field(default=1, gt=0)
    tags: list[str] = Field(default_factory=list)


class Shapes(Cluster, prefix="s", ttl=30):
    point: HashKey[Point]
    origin: HashKey[Point] = Point(x=0)
    brief: HashKey[Point] = HashKey(ttl=0.25)
    forever: HashKey[Point] = HashKey(ttl=None)
    sliding: HashKey[Point] = HashKey(ttl=10, sliding=True)
    item: HashKey[Point] = HashKey("item:{item_id}")


@pytest.fixture
def repo() -> Any:
    return keyspace.Repository(Shapes, fakeredis.FakeAsyncRedis())


def test_get_is_one_hgetall(repo: Any) -> None:
    op = repo.point._op_get()
    assert isinstance(op, Call)
    assert op.command == ("HGETALL", "s:point")
    assert (op.key, op.kind) == ("s:point", "HashKey[Point]")


def test_get_parses_dicts_flat_lists_bytes_and_str(repo: Any) -> None:
    op = repo.point._op_get()
    expected = Point(x=1, label=None, when=datetime(2020, 1, 1, tzinfo=timezone.utc))
    as_dict = {b"x": b"1", b"label": b"null", b"when": b'"2020-01-01T00:00:00Z"'}
    assert op.parse(as_dict) == expected
    assert op.parse({k.decode(): v.decode() for k, v in as_dict.items()}) == expected
    assert op.parse([item for pair in as_dict.items() for item in pair]) == expected


def test_get_of_a_missing_key(repo: Any) -> None:
    with pytest.raises(KeyNotFoundError, match="s:point"):
        repo.point._op_get().parse({})
    first = repo.origin._op_get().parse([])
    assert first == Point(x=0)
    first.tags.append("changed")
    assert repo.origin._op_get().parse({}).tags == []


def test_get_of_a_corrupt_hash(repo: Any) -> None:
    op = repo.point._op_get()
    with pytest.raises(CorruptValueError, match=r"s:point.*'x'"):
        op.parse({b"x": b"nope"})
    with pytest.raises(CorruptValueError, match=r"s:point.*Point.*x"):
        op.parse({b"y": b"1.5"})
    with pytest.raises(CorruptValueError, match=r"s:point.*greater than 0.*hash field .n."):
        op.parse({b"x": b"1", b"n": b"0"})
    assert op.parse({b"x": b"1", b"unknown": b"!"}) == Point(x=1)


def test_set_deletes_writes_every_field_and_expires(repo: Any) -> None:
    op = repo.point._op_set(Point(x=1, label="a"))
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (
        ("DEL", "s:point"),
        (
            "HSET",
            "s:point",
            *("x", b"1", "y", b"0.0", "label", b'"a"', "when", b"null"),
            *("n", b"1", "tags", b"[]"),
        ),
        ("EXPIRE", "s:point", 30),
    )
    assert (op.key, op.kind) == ("s:point", "HashKey[Point]")
    assert op.parse([1, 6, True]) is None


def test_set_ttl_variants(repo: Any) -> None:
    assert repo.point._op_set({"x": 1}, ttl=1.5).commands[-1] == ("PEXPIRE", "s:point", 1500)
    assert repo.point._op_set({"x": 1}, ttl=None).commands[-1] == ("PERSIST", "s:point")
    assert repo.brief._op_set({"x": 1}).commands[-1] == ("PEXPIRE", "s:brief", 250)
    assert repo.forever._op_set({"x": 1}).commands[-1] == ("PERSIST", "s:forever")
    with pytest.raises(TTLError):
        repo.point._op_set({"x": 1}, ttl=0)


def test_set_validates_before_building(repo: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        repo.point._op_set({"x": "one"})
    with pytest.raises(pydantic.ValidationError):
        repo.point._op_set({"x": 1, "n": 0})
    with pytest.raises(pydantic.ValidationError):
        repo.point._op_set_field("n", 0)
    with pytest.raises(pydantic.ValidationError):
        repo.point._op_set_fields(x=1, when="never")


def test_get_field_and_get_fields(repo: Any) -> None:
    op = repo.point._op_get_field("label")
    assert isinstance(op, Call)
    assert op.command == ("HGET", "s:point", "label")
    assert op.parse(b'"hi"') == "hi"
    assert op.parse("null") is None
    assert op.parse(None) is None  # the field's default
    assert repo.point._op_get_field("tags").parse(None) == []  # default_factory
    with pytest.raises(KeyNotFoundError, match=r"'x' of hash 's:point'"):
        repo.point._op_get_field("x").parse(None)
    many = repo.point._op_get_fields("x", "label")
    assert many.command == ("HMGET", "s:point", "x", "label")
    assert many.parse([b"3", None]) == {"x": 3, "label": None}
    empty = repo.point._op_get_fields()
    assert isinstance(empty, Batch)
    assert empty.commands == ()
    assert empty.parse([]) == {}


def test_field_reads_of_a_key_with_a_default_ask_whether_it_exists(repo: Any) -> None:
    op = repo.origin._op_get_field("x")
    assert isinstance(op, Batch)
    assert op.commands == (("HGET", "s:origin", "x"), ("EXISTS", "s:origin"))
    assert op.parse([None, 0]) == 0  # from the key's default model
    with pytest.raises(KeyNotFoundError):
        op.parse([None, 1])  # the key exists: x has no field default
    many = repo.origin._op_get_fields("x", "y")
    assert many.commands == (("HMGET", "s:origin", "x", "y"), ("EXISTS", "s:origin"))
    assert many.parse([[None, None], 0]) == {"x": 0, "y": 0.0}
    assert many.parse([[b"5", None], 1]) == {"x": 5, "y": 0.0}


def test_field_writes(repo: Any) -> None:
    op = repo.point._op_set_field("label", None)
    assert op.commands == (("HSET", "s:point", "label", b"null"), ("EXPIRE", "s:point", 30))
    assert op.parse([0, 1]) is None
    op = repo.point._op_set_fields({"x": "2"}, y=1)
    assert op.commands == (
        ("HSET", "s:point", "x", b"2", "y", b"1.0"),
        ("EXPIRE", "s:point", 30),
    )
    assert repo.forever._op_set_fields(x=1).commands[-1] == ("PERSIST", "s:forever")
    noop = repo.point._op_set_fields()
    assert noop.commands == ()
    assert noop.parse([]) is None


def test_incr_field(repo: Any) -> None:
    op = repo.point._op_incr_field("x")
    assert op.commands == (("HINCRBY", "s:point", "x", 1), ("EXPIRE", "s:point", 30))
    assert op.parse([b"7", True]) == 7
    op = repo.point._op_incr_field("y", 0.5)
    assert op.commands == (("HINCRBYFLOAT", "s:point", "y", 0.5), ("EXPIRE", "s:point", 30))
    assert op.parse([b"2.5", True]) == 2.5
    assert op.parse([2.5, 1]) == 2.5
    assert repo.point._op_incr_field("y", 2).commands[0] == ("HINCRBYFLOAT", "s:point", "y", 2)
    assert repo.point._op_incr_field("n", -1).commands[0] == ("HINCRBY", "s:point", "n", -1)
    for field, by in (("label", 1), ("when", 1), ("tags", 1), ("x", 0.5), ("x", False)):
        with pytest.raises(OptionsError, match="incr_field"):
            repo.point._op_incr_field(field, by)
    with pytest.raises(OptionsError, match="finite"):
        repo.point._op_incr_field("y", float("nan"))
    with pytest.raises(OptionsError, match="no field 'z'"):
        repo.point._op_incr_field("z")


def test_delete_fields_has_field_fields(repo: Any) -> None:
    op = repo.point._op_delete_fields("label", "when")
    assert op.commands == (("HDEL", "s:point", "label", "when"), ("EXPIRE", "s:point", 30))
    assert op.parse([2, True]) == 2
    noop = repo.point._op_delete_fields()
    assert noop.commands == ()
    assert noop.parse([]) == 0
    has = repo.point._op_has_field("x")
    assert has.command == ("HEXISTS", "s:point", "x")
    assert has.parse(1) is True
    assert has.parse(0) is False
    assert has.parse(b"0") is False
    names = repo.point._op_fields()
    assert names.command == ("HKEYS", "s:point")
    assert names.parse([b"x", "y"]) == ["x", "y"]


def test_unknown_fields_name_the_model_and_the_field(repo: Any) -> None:
    for build in (
        lambda: repo.point._op_get_field("z"),
        lambda: repo.point._op_get_fields("x", "z"),
        lambda: repo.point._op_set_field("z", 1),
        lambda: repo.point._op_set_fields(z=1),
        lambda: repo.point._op_delete_fields("z"),
        lambda: repo.point._op_has_field("z"),
    ):
        with pytest.raises(OptionsError, match=r"HashKey\[Point\] 's:point': model Point has no"):
            build()


def test_sliding_reads_renew_the_ttl(repo: Any) -> None:
    expire = ("EXPIRE", "s:sliding", 10)
    assert repo.sliding._op_get().commands == (("HGETALL", "s:sliding"), expire)
    assert repo.sliding._op_get().parse([{b"x": b"1"}, True]) == Point(x=1)
    assert repo.sliding._op_get_field("x").commands == (("HGET", "s:sliding", "x"), expire)
    assert repo.sliding._op_has_field("x").commands == (("HEXISTS", "s:sliding", "x"), expire)
    assert repo.sliding._op_fields().commands == (("HKEYS", "s:sliding"), expire)


def test_parameterized_hash_key(repo: Any) -> None:
    with pytest.raises(BindingError, match="item_id"):
        repo.item._op_get()
    assert repo.item(7)._op_get().command == ("HGETALL", "s:item:7")


def test_the_type_is_the_model(repo: Any) -> None:
    op = repo.point._op_the_type()
    assert op.command == ("TYPE", "s:point")
    assert op.parse(b"hash") is Point
    assert op.parse("none") is None


class Derived(BaseModel, extra="allow"):
    a: int
    b: int = Field(default_factory=lambda data: data["a"] * 2)


class Others(Cluster, prefix="o"):
    derived: HashKey[Derived]
    endless: HashKey[Derived] = HashKey(ttl=None, sliding=True)


def test_defaults_that_need_other_fields_and_extra_fields() -> None:
    repo: Any = keyspace.Repository(Others, fakeredis.FakeAsyncRedis())
    with pytest.raises(KeyNotFoundError, match="default_factory needs the other fields"):
        repo.derived._op_get_field("b").parse(None)
    assert repo.derived._op_get().parse({b"a": b"2"}) == Derived(a=2, b=4)
    extra = repo.derived._op_get_field("free")  # extra="allow": any name, untyped JSON
    assert extra.parse(b'{"$type":"tuple","value":[1]}') == (1,)
    with pytest.raises(KeyNotFoundError, match="'free'"):
        extra.parse(None)
    assert repo.derived._op_set_field("free", {1, 2}).commands[0] == (
        "HSET",
        "o:derived",
        "free",
        b'{"$type":"set","value":[1,2]}',
    )


def test_sliding_without_ttl_sends_no_expiry() -> None:
    repo: Any = keyspace.Repository(Others, fakeredis.FakeAsyncRedis())
    assert repo.endless._op_get().command == ("HGETALL", "o:endless")
