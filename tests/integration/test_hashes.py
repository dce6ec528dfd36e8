"""HashKey[M] end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, Field

from keyspace import (
    Cluster,
    CorruptValueError,
    HashKey,
    Key,
    KeyNotFoundError,
    OptionsError,
    WrongTypeError,
)


class Address(BaseModel):
    city: str
    zip: str = ""


class Person(BaseModel):
    name: str
    age: int = Field(default=0, ge=0)
    score: float = 0.0
    born: datetime | None = None
    avatar: bytes = b""
    address: Address | None = None
    tags: list[str] = []
    motto: str | None = "carpe diem"


class Closed(BaseModel, extra="forbid"):
    a: int


class Open(BaseModel, extra="allow"):
    a: int


class Aliased(BaseModel):
    full_name: str = Field(alias="fullName")


class Empty(BaseModel):
    pass


class People(Cluster, prefix="people:{person_id}", ttl=100):
    person: HashKey[Person]
    guest: HashKey[Person] = Person(name="guest", tags=["g"])
    short: HashKey[Person] = HashKey(ttl=0.5)
    forever: HashKey[Person] = HashKey(ttl=None)
    sliding: HashKey[Person] = HashKey(ttl=10, sliding=True)
    strict: HashKey[Person] = HashKey(strict=True)


class Misc(Cluster, prefix="misc"):
    closed: HashKey[Closed]
    open: HashKey[Open]
    aliased: HashKey[Aliased]
    empty: HashKey[Empty]


class Profile(Cluster, prefix="profile", ttl=60):
    title: Key[str] = "untitled"
    visits: Key[int] = 0
    owner: HashKey[Person]
    backup: HashKey[Person] = Person(name="nobody")


class HkRoot(Cluster, prefix="hk"):
    people: People
    misc: Misc
    profile: Profile


BORN = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
ANN = Person(
    name="Ann",
    age=30,
    score=1.5,
    born=BORN,
    avatar=b"\xff\x00binary",
    address=Address(city="Oslo", zip="0150"),
    tags=["a", "b"],
    motto=None,
)


@pytest.fixture
def hk(make_repo: Any) -> Any:
    return make_repo(HkRoot)


async def test_set_and_get_round_trip_exact_types(hk: Any, raw: Any) -> None:
    key = hk.people(1).person
    assert key.key == "hk:people:1:person"
    assert await key.set(ANN) is None
    got = await key.get()
    assert got == ANN
    assert type(got) is Person
    assert type(got.born) is datetime
    assert got.born == BORN
    assert type(got.avatar) is bytes
    assert got.avatar == b"\xff\x00binary"
    assert type(got.address) is Address
    assert type(got.score) is float
    stored = await raw.hgetall("hk:people:1:person")
    assert stored == {
        b"name": b'"Ann"',
        b"age": b"30",
        b"score": b"1.5",
        b"born": b'"2001-02-03T04:05:06Z"',
        b"avatar": b'"_wBiaW5hcnk="',
        b"address": b'{"city":"Oslo","zip":"0150"}',
        b"tags": b'["a","b"]',
        b"motto": b"null",
    }
    # A mapping is validated like the model (lax: "31" is an int).
    await key.set({"name": "Bob", "age": "31"})
    assert await key.get() == Person(name="Bob", age=31)


async def test_set_replaces_the_whole_hash(hk: Any, raw: Any) -> None:
    await raw.hset("hk:people:1:person", mapping={"stale": "1", "tags": '["old"]'})
    await hk.people(1).person.set(Person(name="Ann"))
    fields = await hk.people(1).person.fields()
    assert sorted(fields) == sorted(Person.model_fields)
    assert await raw.hget("hk:people:1:person", "tags") == b"[]"


async def test_none_is_stored_and_differs_from_a_missing_field(hk: Any, raw: Any) -> None:
    key = hk.people(1).person
    await key.set(Person(name="Ann"))
    assert await key.get_field("motto") == "carpe diem"
    await key.set_field("motto", None)
    assert await raw.hget("hk:people:1:person", "motto") == b"null"
    assert await key.get_field("motto") is None
    assert (await key.get()).motto is None
    assert await key.has_field("motto") is True
    assert await key.delete_fields("motto") == 1
    assert await key.has_field("motto") is False
    assert await key.get_field("motto") == "carpe diem"
    assert (await key.get()).motto == "carpe diem"


async def test_missing_key_gives_the_default_or_key_not_found(hk: Any, raw: Any) -> None:
    with pytest.raises(KeyNotFoundError, match="hk:people:1:person"):
        await hk.people(1).person.get()
    guest = await hk.people(1).guest.get()
    assert guest == Person(name="guest", tags=["g"])
    guest.tags.append("mutated")
    assert (await hk.people(1).guest.get()).tags == ["g"]
    assert await raw.exists("hk:people:1:guest") == 0
    # Field reads of a missing key: the key's default model when it declares one ...
    assert await hk.people(1).guest.get_field("name") == "guest"
    assert await hk.people(1).guest.get_fields("name", "tags") == {"name": "guest", "tags": ["g"]}
    # ... else the model field's default, or KeyNotFoundError naming key and field.
    assert await hk.people(1).person.get_field("age") == 0
    with pytest.raises(KeyNotFoundError, match=r"'name'.*hk:people:1:person"):
        await hk.people(1).person.get_field("name")
    # Once the key exists, a missing field gives the model field's default.
    await hk.people(1).guest.set_field("age", 4)
    assert await hk.people(1).guest.get_field("tags") == []
    assert await hk.people(1).guest.get_fields("age", "tags") == {"age": 4, "tags": []}


async def test_field_reads_and_writes(hk: Any, raw: Any) -> None:
    key = hk.people(1).person
    await key.set(ANN)
    assert await key.get_field("born") == BORN
    assert await key.get_field("avatar") == b"\xff\x00binary"
    assert await key.get_field("address") == Address(city="Oslo", zip="0150")
    await key.set_field("address", {"city": "Rome"})
    assert await key.get_field("address") == Address(city="Rome")
    await key.set_field("avatar", b"\x00\x01")
    assert await key.get_field("avatar") == b"\x00\x01"
    assert await key.get_fields("name", "age", "tags") == {
        "name": "Ann",
        "age": 30,
        "tags": ["a", "b"],
    }
    assert await key.get_fields() == {}
    assert await raw.hget("hk:people:1:person", "address") == b'{"city":"Rome","zip":""}'


async def test_set_fields_is_partial(hk: Any, raw: Any) -> None:
    key = hk.people(1).person
    await key.set(ANN)
    await key.set_fields(name="Eve", age="41")
    await key.set_fields({"score": 2, "tags": ("x",)}, motto="m")
    got = await key.get()
    assert got == ANN.model_copy(
        update={"name": "Eve", "age": 41, "score": 2.0, "tags": ["x"], "motto": "m"}
    )
    assert await key.set_fields() is None
    assert await key.get() == got


async def test_invalid_values_write_nothing(hk: Any, raw: Any) -> None:
    key = hk.people(1).person
    with pytest.raises(pydantic.ValidationError):
        await key.set({"name": "Ann", "age": -1})
    with pytest.raises(pydantic.ValidationError):
        await key.set({"age": 3})  # name is required
    with pytest.raises(pydantic.ValidationError):
        await key.set(Address(city="x"))
    with pytest.raises(pydantic.ValidationError):
        await key.set_field("age", -1)
    assert await raw.exists("hk:people:1:person") == 0
    await key.set(ANN)
    with pytest.raises(pydantic.ValidationError):
        await key.set_field("age", 0 - 5)  # Field(ge=0)
    with pytest.raises(pydantic.ValidationError):
        await key.set_field("age", "old")
    with pytest.raises(pydantic.ValidationError):
        await key.set_fields(age=5, name=["not", "a", "str"])
    with pytest.raises(pydantic.ValidationError):
        await key.set_field("born", "yesterday")
    assert await key.get() == ANN


async def test_unknown_field_names_are_refused(hk: Any) -> None:
    key = hk.people(1).person
    await key.set(ANN)
    for call in (
        lambda: key.get_field("nme"),
        lambda: key.get_fields("name", "nme"),
        lambda: key.set_field("nme", 1),
        lambda: key.set_fields(nme=1),
        lambda: key.incr_field("nme"),
        lambda: key.delete_fields("nme"),
        lambda: key.has_field("nme"),
    ):
        with pytest.raises(OptionsError, match=r"Person has no field 'nme'"):
            await call()
    assert await key.get() == ANN


async def test_incr_field(hk: Any, raw: Any) -> None:
    key = hk.people(1).person
    await key.set(Person(name="Ann", age=1, score=0.5))
    assert await key.incr_field("age") == 2
    assert await key.incr_field("age", by=10) == 12
    assert await key.incr_field("age", -2) == 10
    value = await key.incr_field("score", 1.25)
    assert value == 1.75
    assert type(value) is float
    value = await key.incr_field("score", 1.25)
    assert value == 3.0
    assert type(value) is float
    got = await key.get()
    assert (got.age, got.score) == (10, 3.0)
    assert type(got.score) is float
    await key.delete_fields("age")
    assert await key.incr_field("age", 3) == 3  # a missing field counts as 0
    for field, by in (("name", 1), ("born", 1), ("motto", 1), ("age", 1.5), ("age", True)):
        with pytest.raises(OptionsError, match="incr_field"):
            await key.incr_field(field, by)
    with pytest.raises(OptionsError, match="finite"):
        await key.incr_field("score", float("inf"))
    assert await key.get_field("age") == 3


async def test_delete_fields_has_field_fields(hk: Any) -> None:
    key = hk.people(1).person
    assert await key.fields() == []
    assert await key.has_field("name") is False
    assert await key.delete_fields("name") == 0
    await key.set(ANN)
    assert await key.has_field("name") is True
    assert await key.delete_fields("tags", "motto", "score") == 3
    assert await key.delete_fields("tags") == 0
    assert await key.delete_fields() == 0
    assert sorted(await key.fields()) == ["address", "age", "avatar", "born", "name"]
    assert await key.get() == ANN.model_copy(
        update={"tags": [], "motto": "carpe diem", "score": 0.0}
    )


async def test_ttl_applied_on_every_write(hk: Any, raw: Any) -> None:
    name = "hk:people:1:person"
    key = hk.people(1).person
    await key.set(ANN)
    assert 95_000 < await raw.pttl(name) <= 100_000
    await key.set(ANN, ttl=timedelta(seconds=5))
    assert 4_000 < await raw.pttl(name) <= 5_000
    await key.set(ANN, ttl=None)
    assert await raw.pttl(name) == -1
    for write in (
        lambda: key.set_field("age", 1),
        lambda: key.set_fields(age=2, name="x"),
        lambda: key.incr_field("age"),
        lambda: key.delete_fields("motto"),
    ):
        await raw.persist(name)
        await write()
        assert 95_000 < await raw.pttl(name) <= 100_000
    await hk.people(1).short.set(ANN)
    assert 0 < await raw.pttl("hk:people:1:short") <= 500
    await raw.expire("hk:people:1:forever", 50)  # no key yet: no effect
    await hk.people(1).forever.set(ANN)
    await hk.people(1).forever.set_field("age", 3)
    assert await raw.pttl("hk:people:1:forever") == -1
    assert await hk.people(1).forever.ttl() is None
    await raw.expire("hk:people:1:forever", 50)
    await hk.people(1).forever.incr_field("age")
    assert await raw.pttl("hk:people:1:forever") == -1


async def test_sliding_reads_renew_the_ttl(hk: Any, raw: Any) -> None:
    name = "hk:people:1:sliding"
    key = hk.people(1).sliding
    await key.set(ANN)
    for read in (
        key.get,
        lambda: key.get_field("age"),
        lambda: key.get_fields("age"),
        lambda: key.has_field("age"),
        key.fields,
    ):
        await raw.pexpire(name, 1000)
        await read()
        assert 9_000 < await raw.pttl(name) <= 10_000
    assert await key.get() == ANN


async def test_strict_key(hk: Any) -> None:
    key = hk.people(1).strict
    with pytest.raises(pydantic.ValidationError):
        await key.set({"name": "Ann", "age": "3"})
    await key.set({"name": "Ann", "age": 3})
    with pytest.raises(pydantic.ValidationError):
        await key.set_field("age", "4")
    assert await key.get() == Person(name="Ann", age=3)


async def test_corrupt_hashes(hk: Any, raw: Any) -> None:
    name = "hk:people:1:person"
    key = hk.people(1).person
    await raw.hset(name, mapping={"name": "not json", "age": "1"})
    with pytest.raises(CorruptValueError, match=rf"{name}.*'name'"):
        await key.get()
    with pytest.raises(CorruptValueError, match=rf"{name}.*'name'"):
        await key.get_field("name")
    assert await key.get_field("age") == 1
    await raw.delete(name)
    await raw.hset(name, mapping={"age": "1"})  # the required name is missing
    with pytest.raises(CorruptValueError, match=rf"{name}.*Person.*name"):
        await key.get()
    await raw.hset(name, mapping={"name": '"Ann"', "age": "-3"})  # breaks Field(ge=0)
    with pytest.raises(CorruptValueError, match=name):
        await key.get()
    # Undeclared fields are ignored by default.
    await raw.hset(name, mapping={"age": "3", "retired_field": "whatever"})
    assert await key.get() == Person(name="Ann", age=3)


async def test_extra_fields_follow_the_model_config(hk: Any, raw: Any) -> None:
    await raw.hset("hk:misc:closed", mapping={"a": "1", "b": "2"})
    with pytest.raises(CorruptValueError, match=r"hk:misc:closed.*'b'"):
        await hk.misc.closed.get()
    opened = Open(a=1, note="hi", when=[1, 2])  # type: ignore[call-arg]
    await hk.misc.open.set(opened)
    assert await raw.hget("hk:misc:open", "note") == b'"hi"'
    got = await hk.misc.open.get()
    assert got == opened
    assert got.model_extra == {"note": "hi", "when": [1, 2]}
    await hk.misc.open.set_field("other", 5)
    assert await hk.misc.open.get_field("other") == 5
    assert (await hk.misc.open.get()).model_extra == {"note": "hi", "when": [1, 2], "other": 5}


async def test_aliases_and_empty_models(hk: Any, raw: Any) -> None:
    await hk.misc.aliased.set({"fullName": "Ann Lee"})
    assert await raw.hgetall("hk:misc:aliased") == {b"full_name": b'"Ann Lee"'}
    assert await hk.misc.aliased.get() == Aliased(fullName="Ann Lee")
    assert await hk.misc.aliased.get_field("full_name") == "Ann Lee"
    await raw.set("hk:misc:empty", "x")
    await hk.misc.empty.set(Empty())  # Redis holds no empty hash: the key is deleted
    assert await raw.exists("hk:misc:empty") == 0
    with pytest.raises(KeyNotFoundError):
        await hk.misc.empty.get()


async def test_wrong_redis_type(hk: Any, raw: Any) -> None:
    name = "hk:people:1:person"
    await raw.set(name, "a string")
    key = hk.people(1).person
    for call in (
        key.get,
        lambda: key.get_field("age"),
        lambda: key.get_fields("age"),
        lambda: key.set_field("age", 1),
        lambda: key.set_fields(age=1),
        lambda: key.incr_field("age"),
        lambda: key.delete_fields("age"),
        lambda: key.has_field("age"),
        key.fields,
    ):
        with pytest.raises(WrongTypeError, match=rf"{name}.*HashKey\[Person\].*string"):
            await call()
    with pytest.raises(WrongTypeError, match=name):
        await key.the_type
    assert await raw.get(name) == b"a string"
    await key.set(ANN)  # a whole set() replaces whatever was there
    assert await key.get() == ANN


async def test_shared_key_operations(hk: Any) -> None:
    key = hk.people(1).person
    assert await key.the_type is None
    assert await key.exists() is False
    await key.set(ANN)
    assert await key.the_type is Person
    assert await key.exists() is True
    assert await key.expire(10) is True
    assert 9 < await key.ttl() <= 10
    assert await key.persist() is True
    assert await key.ttl() is None
    assert await key.delete() is True
    assert await key.exists() is False


async def test_decode_responses_client(make_repo: Any) -> None:
    hk = make_repo(HkRoot, decode_responses=True)
    key = hk.people(1).person
    await key.set(ANN)
    assert await key.get() == ANN
    assert await key.get_field("avatar") == b"\xff\x00binary"
    assert await key.get_fields("born", "address") == {
        "born": BORN,
        "address": Address(city="Oslo", zip="0150"),
    }
    assert await key.incr_field("score", 0.25) == 1.75
    assert await key.incr_field("age") == 31
    assert await key.has_field("name") is True
    assert sorted(await key.fields()) == sorted(Person.model_fields)
    assert await key.delete_fields("motto") == 1
    assert await key.the_type is Person
    assert await hk.people(1).sliding.get_fields() == {}
    await hk.people(1).sliding.set(ANN)
    assert await hk.people(1).sliding.get() == ANN
    assert await hk.profile.load() is not None


async def test_load_and_save_a_cluster_with_hash_keys(hk: Any, raw: Any) -> None:
    profile = hk.profile
    snapshot = await profile.load()
    assert snapshot.title == "untitled"
    assert snapshot.visits == 0
    assert snapshot.owner is None
    assert snapshot.backup == Person(name="nobody")
    await profile.save({"title": "T", "visits": 3, "owner": ANN, "backup": {"name": "B"}})
    assert await raw.hget("hk:profile:owner", "name") == b'"Ann"'
    assert 55_000 < await raw.pttl("hk:profile:owner") <= 60_000
    snapshot = await profile.load()
    assert (snapshot.title, snapshot.visits) == ("T", 3)
    assert snapshot.owner == ANN
    assert snapshot.backup == Person(name="B")
    await profile.save(snapshot.model_copy(update={"owner": None}))
    assert await raw.exists("hk:profile:owner") == 0
    with pytest.raises(pydantic.ValidationError):
        await profile.save({"title": "U", "owner": {"age": 1}})
    assert (await profile.load()).title == "T"


async def test_pipeline(make_repo: Any, flavour: str) -> None:
    hk = make_repo(HkRoot)
    async with hk.pipeline() as p:
        p.people(1).person.set(ANN)
        field = p.people(1).person.set_field("age", 5)
        fields = p.people(1).person.set_fields(name="Zoe")
        incr = p.people(1).person.incr_field("score", 1)
        got = p.people(1).person.get()
        one = p.people(1).person.get_field("tags")
        some = p.people(1).guest.get_fields("name")
        has = p.people(1).person.has_field("motto")
        names = p.people(1).person.fields()
        deleted = p.people(1).person.delete_fields("motto")
    assert field.result is None
    assert fields.result is None
    assert incr.result == 2.5
    assert got.result == ANN.model_copy(update={"age": 5, "name": "Zoe", "score": 2.5})
    assert one.result == ["a", "b"]
    assert some.result == {"name": "guest"}
    assert has.result is True
    assert sorted(names.result) == sorted(Person.model_fields)
    assert deleted.result == 1
    async with hk.pipeline(transaction=True) as t:
        a = t.people(2).person.set(ANN)
        b = t.people(2).person.get()
    assert a.result is None
    assert b.result == ANN
