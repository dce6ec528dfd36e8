"""Static checks, run by mypy (``files`` in pyproject): handle types flow to results."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from keyspace import AsyncBoundKey, Cluster, Key, Repository, SyncBoundKey, SyncRepository


class User(Cluster, prefix="user:{user_id}"):
    age: Key[int] = Key(default=0)


class Root(Cluster, prefix="root"):
    user: User


async def check_async(key: AsyncBoundKey[int], repo: Repository[Root]) -> None:
    assert_type(await key.get(), int)
    assert_type(await key.set(3), bool)
    assert_type(await key.ttl(), float | None)
    assert_type(await key.the_type, type | None)
    assert_type(await key.raw(), bytes | None)
    assert_type(key(1), AsyncBoundKey[int])
    assert_type(key[1], AsyncBoundKey[int])
    assert_type(await repo.clear(), int)
    assert_type(await repo.subkeys(), list[str])
    assert_type(repo.user, Any)
    await key.set("x")  # type: ignore[arg-type]


def check_sync(key: SyncBoundKey[int], repo: SyncRepository[Root]) -> None:
    assert_type(key.get(), int)
    assert_type(key.set(3), bool)
    assert_type(key.the_type, type | None)
    assert_type(repo.clear(), int)
    assert_type(list(repo.subkeys()), list[str])
