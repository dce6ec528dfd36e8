"""Pipelines, transactions, optimistic updates and sliding expiry."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
import pytest

from keyspace import (
    ConflictError,
    OptionsError,
    Pending,
    PipelineError,
    Repository,
    WrongTypeError,
)

from .models import Root


@pytest.fixture
def arepo(backend: Any) -> Repository[Root]:
    """An async repository (pipelines are context managers of their own flavour)."""
    return Repository(Root, backend.async_client())


@pytest.mark.parametrize("transaction", [False, True])
async def test_pipeline_results_come_back_typed_and_in_order(
    arepo: Any, raw: Any, transaction: bool
) -> None:
    await arepo.user(1).age.set(5)
    async with arepo.pipeline(transaction=transaction) as p:
        written = p.user(2).age.set(30)
        read = p.user(1).age.get()
        default = p.user(3).age.get()
        tokens = p.app.tokens.set(["a"])
        assert isinstance(written, Pending)
        with pytest.raises(LookupError):
            read.result  # noqa: B018 - not run yet
        assert len(p) == 4
    assert (written.result, read.result, default.result, tokens.result) == (True, 5, 0, True)
    assert await raw.get("root:user:2:age") == b"30"
    assert 115 < await raw.ttl("root:user:2:age") <= 120


async def test_pipeline_execute_returns_results_and_can_be_reused(arepo: Any) -> None:
    pipe = arepo.pipeline()
    pipe.user(1).age.set(1)
    pipe.user(1).age.get()
    pipe.user(1).age.the_type  # noqa: B018 - queued when read
    assert await pipe.execute() == [True, 1, int]
    assert await pipe.execute() == []
    pipe.user(1).age.delete()
    assert await pipe.execute() == [True]


async def test_a_failing_command_raises_with_every_result(arepo: Any, raw: Any) -> None:
    await raw.hset("root:user:1:name", "x", "y")
    with pytest.raises(PipelineError) as info:  # noqa: PT012 - raised when the block exits
        async with arepo.pipeline() as p:
            written = p.user(1).age.set(7)
            name = p.user(1).name.get()
            p.user(1).age.get()
    results = info.value.results
    assert results[0] is True
    assert written.result is True  # every Pending is settled, failures raise their error
    with pytest.raises(WrongTypeError):
        name.result  # noqa: B018
    assert isinstance(results[1], WrongTypeError)
    assert "root:user:1:name" in str(results[1])
    assert "hash" in str(results[1])
    assert results[2] == 7
    assert "1 of 3" in str(info.value)


async def test_invalid_value_leaves_the_pipeline_unsent(arepo: Any, raw: Any) -> None:
    with pytest.raises(pydantic.ValidationError):  # noqa: PT012 - raised while queuing
        async with arepo.pipeline(transaction=True) as p:
            p.user(1).age.set(1)
            p.user(2).age.set("not a number")
    assert await raw.dbsize() == 0


async def test_multi_round_trip_operations_cannot_be_pipelined(arepo: Any) -> None:
    pipe = arepo.pipeline()
    with pytest.raises(OptionsError, match="clear"):
        pipe.user(1).clear()
    with pytest.raises(OptionsError, match="update"):
        pipe.user(1).age.update(lambda v: v + 1)


async def test_pipeline_load_and_save(arepo: Any) -> None:
    async with arepo.pipeline(transaction=True) as p:
        p.user(1).save({"age": 3, "name": "Ann"})
        snapshot = p.user(1).load()
    assert (snapshot.result.age, snapshot.result.name) == (3, "Ann")


async def test_update_applies_fn_atomically(repo: Any) -> None:
    assert await repo.user(1).age.update(lambda age: age + 1) == 1
    assert await repo.user(1).age.update(lambda age: age * 10) == 10
    assert 115 < await repo.user(1).age.ttl() <= 120
    with pytest.raises(pydantic.ValidationError):
        await repo.user(1).age.update(lambda age: "x")
    assert await repo.user(1).age.get() == 10


async def test_fifty_concurrent_updates_end_with_the_exact_total(backend: Any) -> None:
    repos = [Repository(Root, backend.async_client()) for _ in range(5)]

    async def bump(i: int) -> None:
        await repos[i % 5].account(1).balance.update(lambda v: v + 1)

    await asyncio.gather(*(bump(i) for i in range(50)))
    assert await repos[0].account(1).balance.get() == 50


async def test_update_gives_up_after_attempts(arepo: Any, backend: Any) -> None:
    other = backend.sync_client()

    def meddle(value: int) -> int:
        other.set("root:user:1:age", b"100")  # another client writes after every WATCH
        return value + 1

    with pytest.raises(ConflictError, match="3 times"):
        await arepo.user(1).age.update(meddle, attempts=3)
    assert await arepo.user(1).age.get() == 100


async def test_update_many_keys(repo: Any) -> None:
    await repo.account(1).balance.set(100)
    await repo.account(2).balance.set(5)

    def transfer(a: int, b: int) -> tuple[int, int]:
        return a - 30, b + 30

    keys = [repo.account(1).balance, repo.account(2).balance]
    assert await repo.update(keys, transfer) == [70, 35]
    assert await repo.account(1).balance.get() == 70
    assert await repo.account(2).balance.get() == 35
    with pytest.raises(OptionsError, match="returned 1 values"):
        await repo.update(keys, lambda a, b: [a])


async def test_sliding_expiry_renews_on_read_in_one_command(repo: Any, raw: Any) -> None:
    await repo.app.session.set("token")
    await raw.pexpire("root:app:session", 2000)
    assert await repo.app.session.get() == "token"
    assert 25_000 < await raw.pttl("root:app:session") <= 30_000
    await repo.app.tokens.set(["a"])
    await raw.pexpire("root:app:tokens", 2000)
    await repo.app.tokens.get()  # not sliding
    assert await raw.pttl("root:app:tokens") <= 2000


def test_sync_pipeline(backend: Any) -> None:
    from keyspace import SyncRepository

    repo = SyncRepository(Root, backend.sync_client())
    with repo.pipeline(transaction=True) as p:
        written = p.user(1).age.set(4)
        read = p.user(1).age.get()
    assert (written.result, read.result) == (True, 4)
    pipe = repo.pipeline()
    pipe.user(1).age.the_type  # noqa: B018 - queued when read
    assert pipe.execute() == [int]
    repo.client.hset("root:user:2:name", "x", "y")
    with pytest.raises(PipelineError) as info, repo.pipeline() as p:  # noqa: PT012
        p.user(2).name.get()
        p.app.tokens.get()
    assert isinstance(info.value.results[0], WrongTypeError)
    assert info.value.results[1] == []


async def test_update_of_a_sliding_key_does_not_conflict_with_itself(repo: Any) -> None:
    await repo.app.session.set("a")
    assert await repo.app.session.update(lambda s: s + "b", attempts=2) == "ab"


async def test_update_and_load_name_a_key_of_the_wrong_type(repo: Any, raw: Any) -> None:
    await raw.hset("root:user:1:age", "x", "y")
    with pytest.raises(WrongTypeError, match=r"root:user:1:age.*hash"):
        await repo.user(1).age.update(lambda v: v + 1)
    with pytest.raises(WrongTypeError, match="root:user:1:age"):
        await repo.user(1).load()
    with pytest.raises(OptionsError, match="attempts"):
        await repo.user(2).age.update(lambda v: v, attempts=0)


async def test_plain_attributes_pass_through_a_pipeline(arepo: Any) -> None:
    pipe = arepo.pipeline()
    assert pipe.user(1).get_full_prefix() == "root:user:1"
    assert pipe.user(1).age.key == "root:user:1:age"
    assert len(pipe) == 0
