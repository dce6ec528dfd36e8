"""SetKey end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from keyspace import (
    Cluster,
    OptionsError,
    SetKey,
    UnsupportedValueError,
    WrongTypeError,
)


class Item(BaseModel, frozen=True):
    name: str
    qty: int = 0


class Loose(BaseModel):  # not frozen: unhashable, so it cannot be a member
    name: str


class Tags(Cluster, prefix="sk", ttl=100):
    tags: SetKey[str]
    ids: SetKey[int] = {1, 2}
    pairs: SetKey[tuple[int, str]]
    items: SetKey[Item]
    anything: SetKey[Any]
    loose: SetKey[Loose]
    strict_ids: SetKey[int] = SetKey(strict=True)
    forever: SetKey[str] = SetKey(ttl=None)
    brief: SetKey[str] = SetKey(ttl=0.25)
    sliding: SetKey[str] = SetKey(ttl=30, sliding=True)
    per_user: SetKey[int] = SetKey("user:{user_id}:ids")


@pytest.fixture
def repo(make_repo: Any) -> Any:
    return make_repo(Tags)


async def members_of(raw: Any, key: str) -> set[bytes]:
    return set(await raw.smembers(key))


async def test_add_get_and_storage(repo: Any, raw: Any) -> None:
    assert await repo.tags.add("a", "b") == 2
    assert await repo.tags.add("b", "c", "c") == 1
    assert await repo.tags.get() == {"a", "b", "c"}
    assert await members_of(raw, "sk:tags") == {b'"a"', b'"b"', b'"c"'}
    assert await repo.ids.add(3, "4") == 2  # lax: "4" is stored as 4
    assert await repo.ids.get() == {3, 4}
    assert await members_of(raw, "sk:ids") == {b"3", b"4"}
    assert all(type(m) is int for m in await repo.ids.members())


async def test_set_replaces_and_empty_deletes(repo: Any, raw: Any) -> None:
    await repo.tags.add("old")
    assert await repo.tags.set(["x", "y", "x"]) is None
    assert await repo.tags.get() == {"x", "y"}
    await repo.tags.set({"z"})
    assert await repo.tags.get() == {"z"}
    await repo.tags.set(set())
    assert await raw.exists("sk:tags") == 0
    assert await repo.tags.get() == set()
    with pytest.raises(UnsupportedValueError, match="not a str"):
        await repo.tags.set("abc")


async def test_missing_key_reads_the_default(repo: Any, raw: Any) -> None:
    assert await repo.tags.get() == set()
    ids = await repo.ids.get()
    assert ids == {1, 2}
    ids.add(99)  # a fresh copy every time
    assert await repo.ids.get() == {1, 2}
    assert await repo.ids.members() == set()  # members() is what Redis holds
    assert await repo.ids.length() == 0
    assert await raw.exists("sk:ids") == 0


async def test_writes_apply_the_ttl(repo: Any, raw: Any) -> None:
    await repo.tags.add("a")
    assert 99_000 < await raw.pttl("sk:tags") <= 100_000
    await repo.tags.expire(5)
    await repo.tags.add("b")  # a write renews the declared TTL
    assert 99_000 < await raw.pttl("sk:tags") <= 100_000
    await repo.tags.expire(5)
    await repo.tags.remove("b")  # removing is not a write that extends the key's life
    assert await raw.pttl("sk:tags") <= 5_000
    await repo.tags.set(["a"], ttl=3600)
    assert 3_590_000 < await raw.pttl("sk:tags") <= 3_600_000
    await repo.tags.set(["a"], ttl=None)
    assert await raw.pttl("sk:tags") == -1
    await raw.expire("sk:forever", 50)
    await repo.forever.add("a")  # ttl=None: PERSIST
    assert await raw.pttl("sk:forever") == -1
    await repo.brief.set(["a"])
    assert 0 < await raw.pttl("sk:brief") <= 250
    await asyncio.sleep(0.3)
    assert await repo.brief.get() == set()


async def test_sliding_reads_renew_the_ttl(repo: Any, raw: Any) -> None:
    await repo.sliding.add("a")
    await raw.pexpire("sk:sliding", 1_000)
    assert await repo.sliding.contains("a") is True
    assert 29_000 < await raw.pttl("sk:sliding") <= 30_000
    await raw.pexpire("sk:sliding", 1_000)
    assert await repo.sliding.get() == {"a"}
    assert 29_000 < await raw.pttl("sk:sliding") <= 30_000


async def test_remove_contains_length(repo: Any) -> None:
    await repo.ids.add(1, 2, 3)
    assert await repo.ids.contains(2) is True
    assert await repo.ids.contains("2") is True  # validated (lax) like a write
    assert await repo.ids.contains(9) is False
    assert await repo.ids.length() == 3
    assert await repo.ids.remove(2, 9) == 1
    assert await repo.ids.remove() == 0
    assert await repo.ids.add() == 0
    assert await repo.ids.members() == {1, 3}
    with pytest.raises(pydantic.ValidationError):
        await repo.ids.contains("two")
    with pytest.raises(pydantic.ValidationError):
        await repo.strict_ids.add("2")


async def test_random_and_pop(repo: Any) -> None:
    assert await repo.ids.random() is None
    assert await repo.ids.pop() is None
    assert await repo.ids.random_many(3) == []
    assert await repo.ids.pop_many(3) == []
    await repo.ids.set({1, 2, 3})
    assert await repo.ids.random() in {1, 2, 3}
    picked = await repo.ids.random_many(2)
    assert len(picked) == len(set(picked)) == 2
    assert set(picked) <= {1, 2, 3}
    assert len(await repo.ids.random_many(10)) == 3
    repeated = await repo.ids.random_many(10, unique=False)
    assert len(repeated) == 10
    assert set(repeated) <= {1, 2, 3}
    assert await repo.ids.random_many(0) == []
    assert await repo.ids.length() == 3  # random() leaves members in place
    popped = await repo.ids.pop()
    assert popped in {1, 2, 3}
    rest = await repo.ids.pop_many(5)
    assert sorted([popped, *rest]) == [1, 2, 3]
    assert await repo.ids.length() == 0
    with pytest.raises(OptionsError, match="count"):
        await repo.ids.pop_many(-1)
    with pytest.raises(OptionsError, match="count"):
        await repo.ids.random_many(True)


async def test_member_types(repo: Any, raw: Any) -> None:
    await repo.pairs.add((1, "a"), [2, "b"])
    assert await repo.pairs.get() == {(1, "a"), (2, "b")}
    assert await members_of(raw, "sk:pairs") == {b'[1,"a"]', b'[2,"b"]'}
    assert await repo.pairs.contains([1, "a"]) is True
    await repo.items.add(Item(name="x", qty=1), {"qty": 2, "name": "y"})
    assert await repo.items.add({"qty": 1, "name": "x"}) == 0  # same JSON, whatever the order
    assert await repo.items.get() == {Item(name="x", qty=1), Item(name="y", qty=2)}
    await repo.anything.add((1, 2), "s", 3, frozenset({1}))
    assert await repo.anything.get() == {(1, 2), "s", 3, frozenset({1})}


async def test_non_canonical_members_are_refused(repo: Any, raw: Any) -> None:
    with pytest.raises(UnsupportedValueError, match="hashable"):
        await repo.loose.add(Loose(name="x"))
    with pytest.raises(UnsupportedValueError, match="hashable"):
        await repo.anything.add([1, 2])
    with pytest.raises(UnsupportedValueError, match="order"):
        await repo.anything.add(frozenset({"a", "b"}))
    with pytest.raises(UnsupportedValueError, match="order"):
        await repo.anything.add((1, frozenset({"a", "b"})))
    assert await raw.exists("sk:loose", "sk:anything") == 0


async def test_validation_failure_writes_nothing(repo: Any, raw: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        await repo.ids.add(1, "two")
    assert await raw.exists("sk:ids") == 0
    await repo.ids.set({5})
    with pytest.raises(pydantic.ValidationError):
        await repo.ids.set([6, "seven"])
    assert await repo.ids.get() == {5}
    with pytest.raises(pydantic.ValidationError):
        await repo.ids.remove(5, "five")
    assert await repo.ids.get() == {5}


async def test_decoding_client(make_repo: Any) -> None:
    repo = make_repo(Tags, decode_responses=True)
    await repo.tags.set({"a", "b"})
    await repo.pairs.add((1, "x"))
    assert await repo.tags.get() == {"a", "b"}
    assert await repo.pairs.members() == {(1, "x")}
    assert await repo.tags.random() in {"a", "b"}
    assert set(await repo.tags.random_many(2)) == {"a", "b"}
    assert await repo.tags.contains("a") is True
    assert await repo.tags.pop() in {"a", "b"}
    assert len(await repo.tags.pop_many(2)) == 1


async def test_wrong_type(repo: Any, raw: Any) -> None:
    await raw.set("sk:tags", b'"x"')
    with pytest.raises(WrongTypeError, match=r"sk:tags.*SetKey\[str\].*string"):
        await repo.tags.add("a")
    with pytest.raises(WrongTypeError, match="SetKey"):
        await repo.tags.get()
    with pytest.raises(WrongTypeError, match="SetKey"):
        await repo.tags.contains("a")
    with pytest.raises(WrongTypeError, match="SetKey"):
        await repo.tags.the_type
    assert await raw.get("sk:tags") == b'"x"'


async def test_the_type_and_shared_operations(repo: Any) -> None:
    assert await repo.tags.the_type is None
    await repo.tags.add("a")
    assert await repo.tags.the_type is set
    assert await repo.tags.exists() is True
    assert 99 < await repo.tags.ttl() <= 100
    assert await repo.tags.persist() is True
    assert await repo.tags.delete() is True
    assert await repo.tags.exists() is False


async def test_parameterized_key(repo: Any, raw: Any) -> None:
    await repo.per_user(7).add(1)
    assert await repo.per_user[7].get() == {1}
    assert await raw.exists("sk:user:7:ids") == 1


async def test_pipeline(repo: Any, flavour: str) -> None:
    async with repo.pipeline() as p:
        added = p.tags.add("a", "b")
        contains = p.tags.contains("a")
        length = p.tags.length()
        got = p.tags.get()
        gone = p.tags.remove("a")
        rand = p.ids.random_many(0)
    assert (added.result, contains.result, length.result) == (2, True, 2)
    assert got.result == {"a", "b"}
    assert gone.result == 1
    assert rand.result == []
    assert 99 < await repo.tags.ttl() <= 100


async def test_load_and_save(repo: Any, raw: Any) -> None:
    await repo.tags.add("a")
    snapshot = await repo.load()
    assert snapshot.tags == {"a"}
    assert snapshot.ids == {1, 2}  # missing: the default
    assert snapshot.pairs == set()
    await repo.save({"tags": {"b", "c"}, "pairs": [(1, "x")], "ids": set()})
    assert await repo.tags.get() == {"b", "c"}
    assert await repo.pairs.get() == {(1, "x")}
    assert await raw.exists("sk:ids") == 0
    assert 99_000 < await raw.pttl("sk:pairs") <= 100_000
    with pytest.raises(pydantic.ValidationError):
        await repo.save({"tags": {"d"}, "ids": {"x"}})
    assert await repo.tags.get() == {"b", "c"}  # nothing written
