"""Typed key-change events: publish-on-write and keyspace notifications."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from keyspace import KeyEvent, OptionsError, Repository, SyncRepository

from .models import Root

SETTLE = 0.2  # seconds for a subscription to be registered before writes start


async def collect(events: Any, count: int) -> list[KeyEvent]:
    out: list[KeyEvent] = []
    async for event in events:
        out.append(event)
        if len(out) == count:
            break
    return out


async def test_published_events_carry_typed_values_and_the_writer(backend: Any) -> None:
    writer = Repository(Root, backend.async_client(), publish_events=True)
    reader = Repository(Root, backend.async_client())
    task = asyncio.create_task(collect(reader.user(1).events(timeout=5), 4))
    await asyncio.sleep(SETTLE)
    await writer.user(1).age.set(30)
    await writer.user(2).age.set(99)  # another user: not delivered
    await writer.user(1).messages.message(5).set("hi")
    await writer.user(1).age.expire(100)
    await writer.user(1).age.delete()
    events = await task
    assert [(e.key, e.operation, e.value) for e in events] == [
        ("root:user:1:age", "set", 30),
        ("root:user:1:messages:message:5", "set", "hi"),
        ("root:user:1:age", "expire", None),
        ("root:user:1:age", "del", None),
    ]
    assert {e.writer for e in events} == {writer.writer_id}
    assert all(e.source == "publish" for e in events)


async def test_patterns_below_the_cluster(backend: Any) -> None:
    writer = Repository(Root, backend.async_client(), publish_events=True)
    reader = Repository(Root, backend.async_client())
    task = asyncio.create_task(collect(reader.user(1).events("messages:*", timeout=5), 2))
    await asyncio.sleep(SETTLE)
    await writer.user(1).age.set(1)
    await writer.user(1).messages.message(1).set("a")
    await writer.user(1).name.set("x")
    await writer.user(1).messages.message(2).set("b")
    assert [e.value for e in await task] == ["a", "b"]


async def test_pipelines_transactions_and_updates_publish_too(backend: Any) -> None:
    writer = Repository(Root, backend.async_client(), publish_events=True)
    reader = Repository(Root, backend.async_client())
    task = asyncio.create_task(collect(reader.account(1).events(timeout=5), 3))
    await asyncio.sleep(SETTLE)
    async with writer.pipeline(transaction=True) as p:
        p.account(1).balance.set(10)
    await writer.account(1).balance.update(lambda v: v + 5)
    await writer.account(1).save({"balance": 1})
    assert [e.value for e in await task] == [10, 15, 1]


async def test_a_repository_without_publish_events_sends_no_publish(
    backend: Any, make_repo: Any
) -> None:
    reader = Repository(Root, backend.async_client())
    task = asyncio.create_task(collect(reader.events(timeout=0.5), 1))
    await asyncio.sleep(SETTLE)
    await make_repo().user(1).age.set(1)
    assert await task == []


async def test_cancelling_a_subscriber_closes_it(backend: Any) -> None:
    reader = Repository(Root, backend.async_client())
    task = asyncio.create_task(collect(reader.events(), 1))
    await asyncio.sleep(SETTLE)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_sync_events_in_a_thread(backend: Any) -> None:
    writer = SyncRepository(Root, backend.sync_client(), publish_events=True)
    reader = SyncRepository(Root, backend.sync_client())
    received: list[KeyEvent] = []

    def listen() -> None:
        for event in reader.app.events(timeout=5):
            received.append(event)
            if len(received) == 2:
                break

    thread = threading.Thread(target=listen)
    thread.start()
    await asyncio.sleep(SETTLE)
    writer.app.tokens.set(["a"])
    writer.app.pending_users.set({1, 2})
    thread.join(10)
    assert [(e.key, e.value) for e in received] == [
        ("root:app:tokens", ["a"]),
        ("root:app:pending_users", {1, 2}),
    ]


async def test_bad_source_is_an_error(backend: Any) -> None:
    reader = Repository(Root, backend.async_client())
    with pytest.raises(OptionsError, match="source"):
        await reader.events(source="nope").__anext__()  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_keyspace_notifications_include_expiry(backend: Any) -> None:
    repo = Repository(Root, backend.async_client())
    await repo.enable_keyspace_notifications()

    async def until_expired() -> list[KeyEvent]:
        out: list[KeyEvent] = []
        async for event in repo.user(1).events(source="keyspace", timeout=5):
            out.append(event)
            if event.operation == "expired":
                break
        return out

    try:
        task = asyncio.create_task(until_expired())
        await asyncio.sleep(SETTLE)
        await repo.user(1).age.set(1, ttl=0.05)
        await repo.user(2).age.set(1, ttl=0.05)  # another user: not delivered
        events = await task
    finally:
        await repo.client.config_set("notify-keyspace-events", "")
    assert [(e.key, e.operation) for e in events] == [
        ("root:user:1:age", "set"),
        ("root:user:1:age", "expire"),
        ("root:user:1:age", "expired"),
    ]
    assert all(e.source == "keyspace" and e.value is None for e in events)
