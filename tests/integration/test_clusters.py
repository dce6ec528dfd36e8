"""Whole-cluster operations: prefixes, subkeys() and clear() never leave their cluster."""

from __future__ import annotations

from typing import Any

import pytest

from keyspace import BindingError, Cluster, Key, OptionsError

LOOKALIKES = [
    "root:user:10:name",
    "root:user:1x:age",
    "root:user:11",
    "root:user:1",
    "root:users:1:age",
    "rootbeer:user:1:age",
    "rootbeer",
    "root",
    "other:root:user:1:age",
]


async def plant(raw: Any, keys: list[str]) -> None:
    for key in keys:
        await raw.set(key, b"planted")


async def test_get_full_prefix(repo: Any) -> None:
    assert repo.get_full_prefix() == "root"
    assert repo.user(1).get_full_prefix() == "root:user:1"
    assert repo.user(1).messages.get_full_prefix() == "root:user:1:messages"
    with pytest.raises(BindingError, match="user_id"):
        repo.user.get_full_prefix()


async def test_clear_deletes_exactly_the_cluster(repo: Any, raw: Any) -> None:
    await plant(raw, LOOKALIKES)
    user = repo.user(1)
    await user.age.set(1)
    await user.name.set("a")
    await user.messages.message(1).set("m")
    await user.settings.theme.set("t")
    await raw.set("root:user:1:undeclared", b"x")
    await repo.user(10).age.set(10)
    declared = [
        "root:user:1:age",
        "root:user:1:name",
        "root:user:1:messages:message:1",
        "root:user:1:settings:1:theme",
    ]
    expected = sorted([*declared, "root:user:1:undeclared"])
    assert sorted(await user.subkeys()) == expected  # subkeys() lists everything below
    streamed = [key async for key in user.subkeys()]
    assert sorted(streamed) == expected
    assert await user.clear() == 4  # clear() deletes what the declaration produces
    assert await user.subkeys() == ["root:user:1:undeclared"]
    for key in LOOKALIKES:
        assert await raw.get(key) == b"planted", key
    assert await repo.user(10).age.get() == 10


async def test_clear_of_a_nested_static_cluster(repo: Any, raw: Any) -> None:
    await plant(raw, ["root:app", "root:apple:tokens", "root:app2:x"])
    await repo.app.tokens.set(["a"])
    await repo.app.pending_users.set({1})
    await repo.project_name.set("stays")
    assert await repo.app.clear() == 2
    assert await repo.project_name.get() == "stays"
    assert await raw.get("root:app") == b"planted"
    assert await raw.get("root:apple:tokens") == b"planted"


async def test_clear_root_in_chunks_with_small_scan_count(make_repo: Any, raw: Any) -> None:
    repo = make_repo(scan_count=7, delete_chunk_size=3)
    await plant(raw, LOOKALIKES)
    for i in range(40):
        await repo.user(i).age.set(i)
    planted_under_root = [k for k in LOOKALIKES if k.startswith("root:")]
    subkeys = await repo.subkeys()
    assert sorted(subkeys) == sorted([f"root:user:{i}:age" for i in range(40)] + planted_under_root)
    # Planted keys of a declared shape (user "10" and "1x") go; the others stay.
    assert await repo.clear() == 42
    remaining = sorted(k.decode() for k in await raw.keys("*"))
    produced = {"root:user:10:name", "root:user:1x:age"}
    assert remaining == sorted(k for k in LOOKALIKES if k not in produced)


async def test_clear_of_an_empty_cluster_is_zero(repo: Any) -> None:
    assert await repo.user(1).clear() == 0
    assert await repo.user(1).subkeys() == []


async def test_unbound_cluster_refuses_clear(repo: Any) -> None:
    with pytest.raises(BindingError, match="user_id"):
        await repo.user.clear()
    with pytest.raises(BindingError, match="user_id"):
        repo.user.subkeys()


class Bare(Cluster):
    counter: Key[int] = 0


async def test_root_without_prefix_refuses_clear(make_repo: Any, raw: Any) -> None:
    repo = make_repo(Bare)
    await repo.counter.set(1)
    assert repo.counter.key == "counter"
    await raw.set("foreign", b"x")
    with pytest.raises(OptionsError, match="every key in the database"):
        await repo.clear()
    assert sorted(await repo.subkeys()) == ["counter", "foreign"]
    assert await raw.get("foreign") == b"x"


async def test_describe_on_a_bound_repository_resolves_the_settings_default(
    make_repo: Any,
) -> None:
    repo = make_repo(default_ttl=30)
    info = repo.describe()
    assert info["keys"]["project_name"]["ttl"] == 30
    assert info["clusters"]["user"]["keys"]["forever"]["ttl"] is None
