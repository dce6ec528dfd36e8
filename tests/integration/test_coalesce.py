"""Coalesced reads on memory and a real redis-server (async only: sync code has no concurrent
reads to coalesce, and ``SyncRepository`` has no such option)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import BaseModel

from keyspace import (
    Cluster,
    Counter,
    HashKey,
    Key,
    KeyEvent,
    ListKey,
    RedisSettings,
    Repository,
    SetKey,
    SortedSetKey,
    WrongTypeError,
)

SETTLE = 0.2  # seconds for a subscription to be registered before writes start


class Card(BaseModel):
    title: str = ""
    level: int = 0


class Player(Cluster, prefix="player:{player_id}", ttl=300):
    name: Key[str] = "anon"
    card: HashKey[Card]
    moves: ListKey[int]
    badges: SetKey[str]
    scores: SortedSetKey[str]
    wins: Counter


class Game(Cluster, prefix="game"):
    player: Player
    title: Key[str] = ""


def repository(backend: Any, **options: Any) -> Repository[Game]:
    return Repository(Game, backend.async_client(), settings=RedisSettings(), **options)


@contextmanager
def round_trips(repo: Repository[Any]) -> Iterator[list[int]]:
    """Count the round trips of ``repo``'s client: each takes a connection from its pool."""
    pool = repo.client.connection_pool
    taken = [0]
    get_connection = pool.get_connection

    async def counted(*args: Any, **kwargs: Any) -> Any:
        taken[0] += 1
        return await get_connection(*args, **kwargs)

    pool.get_connection = counted  # type: ignore[method-assign]
    try:
        yield taken
    finally:
        del pool.get_connection


async def fill(repo: Repository[Game], players: int) -> None:
    for i in range(players):
        player = repo.player(i)
        await player.name.set(f"p{i}")
        await player.card.set(Card(title=f"c{i}", level=i))
        await player.moves.push(i, i + 1)
        await player.badges.add("gold")
        await player.scores.add("run", i / 2)


def reads(repo: Repository[Game], players: int) -> list[Callable[[], Any]]:
    """One read of each kind per player, as calls that start it."""
    calls: list[Callable[[], Any]] = []
    for i in range(players):
        player = repo.player(i)
        calls += [
            player.name.get,
            lambda p=player: p.card.get_field("level"),
            player.card.get,
            player.moves.get,
            lambda p=player: p.moves.index(1),
            player.moves.length,
            lambda p=player: p.badges.contains("gold"),
            player.badges.members,
            lambda p=player: p.scores.score("run"),
            player.wins.get,
            player.name.exists,
            lambda p=player: p.name.the_type,
        ]
    return calls


async def test_concurrent_reads_of_every_kind_share_one_round_trip(backend: Any) -> None:
    plain, coalescing = repository(backend), repository(backend, coalesce_reads=True)
    await fill(plain, 8)

    with round_trips(plain) as separate:
        expected = await asyncio.gather(*(read() for read in reads(plain, 8)))
    with round_trips(coalescing) as shared:
        results = await asyncio.gather(*(read() for read in reads(coalescing, 8)))

    assert results == expected
    assert results[:4] == ["p0", 0, Card(title="c0", level=0), [0, 1]]
    assert (shared[0], separate[0]) == (1, 96)


async def test_a_thousand_concurrent_reads_need_one_connection(backend: Any) -> None:
    client = backend.async_client(max_connections=1)
    repo = Repository(Game, client, settings=RedisSettings(), coalesce_reads=True)
    await repo.player(7).name.set("seven")

    names = await asyncio.gather(*(repo.player(i % 10).name.get() for i in range(1000)))

    assert names.count("seven") == 100
    assert set(names) == {"anon", "seven"}


async def test_a_wrong_type_among_many_reads_fails_only_its_caller(backend: Any) -> None:
    repo = repository(backend, coalesce_reads=True)
    await fill(repo, 5)
    await repo.client.delete("game:player:2:name")
    await repo.client.rpush("game:player:2:name", "not a string")
    with pytest.raises(WrongTypeError) as alone:
        await repository(backend).player(2).name.get()

    results = await asyncio.gather(
        *(repo.player(i).name.get() for i in range(5)), return_exceptions=True
    )

    error = results.pop(2)
    assert results == ["p0", "p1", "p3", "p4"]
    assert isinstance(error, WrongTypeError)
    assert str(error) == str(alone.value)
    assert "holds a Redis list" in str(error)


async def test_a_client_that_decodes_responses(backend: Any) -> None:
    client = backend.async_client(decode_responses=True)
    repo = Repository(Game, client, settings=RedisSettings(), coalesce_reads=True)
    await fill(repo, 3)

    results = await asyncio.gather(*(read() for read in reads(repo, 3)))

    assert results == await asyncio.gather(*(read() for read in reads(repository(backend), 3)))


async def test_writes_flows_and_pipelines_are_unaffected(backend: Any) -> None:
    repo = repository(backend, coalesce_reads=True)
    await fill(repo, 3)

    async def bump(i: int) -> int:
        await repo.player(i).wins.incr()
        return await repo.player(i).wins.get()  # sees its own write

    assert await asyncio.gather(*(bump(i) for i in range(3))) == [1, 1, 1]
    updated = await asyncio.gather(
        repo.player(0).name.update(lambda name: name + "!"),
        repo.player(0).name.get(),
        repo.update([repo.player(1).name, repo.title], lambda name, title: [title, name]),
    )
    assert updated[0] == "p0!"
    assert updated[2] == ["", "p1"]
    async with repo.pipeline() as p:
        queued = [p.player(i).name.get() for i in range(3)]
    assert [item.result for item in queued] == ["p0!", "", "p2"]
    assert (await repo.player(2).load()).card == Card(title="c2", level=2)
    assert await repo.player(2).clear() == 6
    assert await repo.player(2).name.get() == "anon"


async def test_a_publishing_repository_still_publishes_every_write(backend: Any) -> None:
    writer = repository(backend, coalesce_reads=True, publish_events=True)
    events: list[KeyEvent] = []

    async def listen() -> None:
        async for event in repository(backend).player(1).events(timeout=5):
            events.append(event)
            if len(events) == 2:
                return

    task = asyncio.create_task(listen())
    await asyncio.sleep(SETTLE)
    results = await asyncio.gather(
        writer.player(1).name.get(),
        writer.player(1).name.set("ann"),
        writer.player(1).moves.push(7),
        writer.player(1).moves.length(),
    )
    await task

    assert results[1:3] == [True, 1]
    assert sorted((event.key, event.operation) for event in events) == [
        ("game:player:1:moves", "rpush"),  # concurrent writes: in either order
        ("game:player:1:name", "set"),
    ]
