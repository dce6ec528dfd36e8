"""Whole-cluster operations: load(), save(), clear() by schema, instances()."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import pydantic
import pytest

from keyspace import BindingError, Cluster, Key, OptionsError

from .models import Profile


async def test_load_returns_a_snapshot_with_defaults(repo: Any) -> None:
    user = repo.user(1)
    await user.age.set(30)
    await user.name.set("Ann")
    snapshot = await user.load()
    assert type(snapshot).__name__ == "UserSnapshot"
    assert snapshot.age == 30
    assert snapshot.name == "Ann"
    assert snapshot.profile is None
    assert snapshot.short is None  # no default and missing
    assert "messages" not in type(snapshot).model_fields  # only this cluster's static keys
    empty = await repo.user(2).load()
    assert (empty.age, empty.name) == (0, "Unknown")


async def test_load_is_one_round_trip(
    make_repo: Any, caplog: pytest.LogCaptureFixture, flavour: str
) -> None:
    repo = make_repo(log_commands=True)
    caplog.set_level(logging.DEBUG, logger="keyspace")
    await repo.user(1).load()
    commands = [r.getMessage().split()[0] for r in caplog.records]
    # The static string keys of User in one MGET, and an EXISTS that catches a key of
    # another Redis type, sent together as one pipeline.
    assert commands == ["MGET", "EXISTS"]


async def test_save_writes_atomically_with_ttls(repo: Any, raw: Any) -> None:
    joined = datetime(2024, 5, 1, tzinfo=timezone.utc)
    await repo.user(1).save({"age": 41, "profile": Profile(joined=joined), "forever": "x"})
    assert await repo.user(1).age.get() == 41
    assert (await repo.user(1).profile.get()).joined == joined
    assert 115 < await raw.ttl("root:user:1:age") <= 120
    assert await raw.ttl("root:user:1:forever") == -1
    assert await raw.exists("root:user:1:name") == 0  # not given, not written


async def test_partial_save_of_a_loaded_snapshot_writes_only_set_fields(repo: Any) -> None:
    await repo.user(1).name.set("Ann")
    snapshot = await repo.user(1).load()
    changed = type(snapshot)(age=5)
    await repo.user(1).save(changed)
    assert await repo.user(1).age.get() == 5
    assert await repo.user(1).name.get() == "Ann"


async def test_save_validates_everything_before_writing(repo: Any, raw: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        await repo.user(1).save({"age": 1, "name": ["not", "a", "str"]})
    assert await raw.dbsize() == 0
    with pytest.raises(OptionsError, match="'nope'"):
        await repo.user(1).save({"nope": 1})


async def test_save_none_deletes_a_key_without_default(repo: Any) -> None:
    await repo.user(1).short.set("x")
    await repo.user(1).save({"short": None})
    assert await repo.user(1).short.exists() is False


async def test_clear_of_a_static_cluster_is_one_command(
    make_repo: Any, raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo(log_commands=True)
    for i in range(50):
        await raw.set(f"noise:{i}", b"x")
    await repo.app.tokens.set(["a"])
    await repo.app.session.set("s")
    caplog.set_level(logging.DEBUG, logger="keyspace")
    caplog.clear()
    assert await repo.app.clear() == 2
    assert [r.getMessage().split()[0] for r in caplog.records] == ["UNLINK"]
    assert await raw.dbsize() == 50


async def test_clear_scans_only_for_parameterized_families(
    make_repo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo(log_commands=True)
    await repo.user(1).messages.message(1).set("a")
    await repo.user(1).messages.message(2).set("b")
    await repo.user(1).age.set(3)
    caplog.set_level(logging.DEBUG, logger="keyspace")
    caplog.clear()
    assert await repo.user(1).clear() == 3
    scans = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SCAN")]
    assert scans  # one family: the messages of user 1
    assert all("SCAN 0" in s or "SCAN" in s for s in scans)


async def test_clear_leaves_keys_that_only_look_like_a_family(repo: Any, raw: Any) -> None:
    await repo.user(1).messages.message(1).set("a")
    await raw.set("root:user:1:messages:message:1:extra", b"x")
    await raw.set("root:user:1:messages:other", b"x")
    assert await repo.user(1).clear() == 1
    assert await raw.exists("root:user:1:messages:message:1:extra") == 1
    assert await raw.exists("root:user:1:messages:other") == 1


class Tenant(Cluster, prefix="tenant:{tenant_id}"):
    tenant_id: int
    name: Key[str] = ""


class Multi(Cluster, prefix="multi"):
    tenant: Tenant


async def test_instances_parse_parameters_back(make_repo: Any, raw: Any) -> None:
    repo = make_repo(Multi)
    for i in (3, 1, 20):
        await repo.tenant(i).name.set(f"t{i}")
    await raw.set("multi:tenant:abc:name", b'"foreign"')  # not an int: skipped
    await raw.set("multi:tenant:7:undeclared", b"x")  # no declared key: skipped
    found = [t async for t in repo.tenant.instances()]
    assert sorted(t.get_full_prefix() for t in found) == [
        "multi:tenant:1",
        "multi:tenant:20",
        "multi:tenant:3",
    ]
    names = sorted([await t.name.get() for t in found])
    assert names == ["t1", "t20", "t3"]
    assert len(await repo.tenant.instances()) == 3
    with pytest.raises(BindingError, match="instances"):
        repo.tenant(1).instances()


class Cart(Cluster, prefix="cart:{cart_id}", hash_tag=True, ttl=60):
    items: Key[list[str]] = []
    total: Key[int] = 0
    notes: Key[str] = Key("note:{note_id}", default="")


class Shop(Cluster, prefix="shop"):
    cart: Cart


async def test_hash_tag_pins_every_key_of_an_instance_to_one_slot(make_repo: Any, raw: Any) -> None:
    from redis.crc import key_slot

    repo = make_repo(Shop)
    cart = repo.cart(7)
    assert cart.get_full_prefix() == "shop:{cart:7}"
    assert cart.total.key == "shop:{cart:7}:total"
    names = [cart.items.key, cart.total.key, cart.notes(1).key]
    assert len({key_slot(name.encode()) for name in names}) == 1
    await cart.save({"items": ["a"], "total": 3})
    await cart.notes(1).set("n")
    assert await cart.load() == type(await cart.load())(items=["a"], total=3)
    found = [c.get_full_prefix() async for c in repo.cart.instances()]
    assert found == ["shop:{cart:7}"]
    assert await cart.clear() == 3
    assert await raw.dbsize() == 0
