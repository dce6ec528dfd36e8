"""Coalesced reads, on a client double that records every round trip (no Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from keyspace import (
    Cluster,
    Counter,
    Key,
    KeyNotFoundError,
    RedisSettings,
    Repository,
    ValueTooLargeError,
    WrongTypeError,
)

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


class Item(Cluster, prefix="item:{item_id}"):
    price: Key[int] = 0
    label: Key[str]  # no default: a missing label is an error
    seen: Key[int] = Key(default=0, ttl=60, sliding=True)
    hits: Counter


class Shop(Cluster, prefix="shop"):
    item: Item


class Client:
    """Stands in for ``redis.asyncio.Redis``: stores bytes and hashes, and records each
    round trip as the list of commands it carried."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.trips: list[list[tuple[Any, ...]]] = []
        self.hold: asyncio.Event | None = None  # round trips wait for it when set
        self.fail: Exception | None = None  # every round trip raises it when set

    async def execute_command(self, *command: Any) -> Any:
        (reply,) = await self._round_trip([command])
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def type(self, key: str) -> Any:
        return await self.execute_command("TYPE", key)

    def pipeline(self, transaction: bool = True) -> Pipeline:
        return Pipeline(self)

    async def _round_trip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        self.trips.append(commands)
        await asyncio.sleep(0)  # the network
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            raise self.fail
        return [self._reply(command) for command in commands]

    def _reply(self, command: tuple[Any, ...]) -> Any:
        name, key = command[0], command[1]
        value = self.data.get(key)
        if name == "TYPE":
            return b"none" if value is None else b"hash" if isinstance(value, dict) else b"string"
        if name in ("GET", "GETEX"):
            return ResponseError(WRONGTYPE) if isinstance(value, dict) else value
        if name == "EXISTS":
            return int(value is not None)
        if name == "SET":
            self.data[key] = command[2]
            return b"OK"
        if name == "PERSIST":
            return 0
        if name == "INCRBY":
            self.data[key] = str(int(self.data.get(key, b"0")) + command[2]).encode()
            return int(self.data[key])
        raise AssertionError(f"the double does not know {name}")


class Pipeline:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.commands: list[tuple[Any, ...]] = []

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        pass

    def execute_command(self, *command: Any) -> None:
        self.commands.append(command)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        return await self.client._round_trip(self.commands)


@pytest.fixture
def client() -> Client:
    client = Client()
    client.data.update({f"shop:item:{i}:price": str(i).encode() for i in range(100)})
    return client


def repository(client: Client, **options: Any) -> Any:
    return Repository(Shop, client, settings=RedisSettings(), **options)  # type: ignore[arg-type]


@pytest.fixture
def repo(client: Client) -> Any:
    return repository(client, coalesce_reads=True)


def prices(repo: Any, ids: range) -> list[Any]:
    return [repo.item(i).price.get() for i in ids]


async def test_concurrent_gets_share_one_round_trip_and_get_their_own_results(
    client: Client, repo: Any
) -> None:
    results = await asyncio.gather(*prices(repo, range(100)), repo.item(500).price.get())

    assert results == [*range(100), 0]  # a missing key reads as its default
    sent = [("GET", f"shop:item:{i}:price") for i in [*range(100), 500]]
    assert client.trips == [sent]


async def test_without_the_option_each_get_is_its_own_round_trip(client: Client) -> None:
    repo = repository(client)

    assert await asyncio.gather(*prices(repo, range(5))) == [0, 1, 2, 3, 4]
    assert client.trips == [[("GET", f"shop:item:{i}:price")] for i in range(5)]


async def test_a_lone_read_is_one_ordinary_command(client: Client, repo: Any) -> None:
    assert await repo.item(7).price.get() == 7
    assert await repo.item(8).price.exists() is True

    assert client.trips == [[("GET", "shop:item:7:price")], [("EXISTS", "shop:item:8:price")]]


async def test_a_wrong_type_fails_its_own_caller_as_it_would_alone(
    client: Client, repo: Any
) -> None:
    client.data["shop:item:3:price"] = {"a": b"1"}
    alone = repository(client)
    with pytest.raises(WrongTypeError) as uncoalesced:
        await alone.item(3).price.get()
    client.trips.clear()

    results = await asyncio.gather(*prices(repo, range(6)), return_exceptions=True)

    error = results.pop(3)
    assert results == [0, 1, 2, 4, 5]
    assert isinstance(error, WrongTypeError)
    assert str(error) == str(uncoalesced.value)
    assert "holds a Redis hash" in str(error)
    assert isinstance(error.__cause__, ResponseError)
    # The batch, then the type of the one key that failed.
    assert client.trips[1:] == [[("TYPE", "shop:item:3:price")]]


async def test_a_parse_error_fails_its_own_caller_only(client: Client, repo: Any) -> None:
    client.data["shop:item:1:label"] = b'"one"'

    results = await asyncio.gather(
        repo.item(1).label.get(), repo.item(2).label.get(), repo.item(2).price.get(),
        return_exceptions=True,
    )  # fmt: skip

    assert results[0] == "one"
    assert isinstance(results[1], KeyNotFoundError)
    assert results[2] == 2
    assert len(client.trips) == 1


async def test_an_oversized_key_fails_before_joining_the_batch(client: Client) -> None:
    repo = Repository(
        Shop,
        client,  # type: ignore[arg-type]
        settings=RedisSettings(max_key_bytes=40),
        coalesce_reads=True,
    )
    huge = "x" * 50

    results = await asyncio.gather(
        repo.item(1).price.get(), repo.item(huge).price.get(), repo.item(2).price.get(),
        return_exceptions=True,
    )  # fmt: skip

    assert results[::2] == [1, 2]
    assert isinstance(results[1], ValueTooLargeError)
    assert client.trips == [[("GET", "shop:item:1:price"), ("GET", "shop:item:2:price")]]


async def test_a_lost_connection_reaches_every_waiting_caller(client: Client, repo: Any) -> None:
    client.fail = RedisConnectionError("connection reset")

    results = await asyncio.gather(*prices(repo, range(3)), return_exceptions=True)

    assert [type(result) for result in results] == [RedisConnectionError] * 3
    assert len(client.trips) == 1
    with pytest.raises(RedisConnectionError):  # alone, too
        await repo.item(1).price.get()


async def held(client: Client, repo: Any, ids: range) -> list[asyncio.Task[Any]]:
    """Start reads of ``ids`` as tasks, and let them reach the held round trip."""
    client.hold = client.hold or asyncio.Event()
    tasks = [asyncio.ensure_future(read) for read in prices(repo, ids)]
    for _ in range(5):
        await asyncio.sleep(0)
    return tasks


async def test_a_caller_cancelled_while_waiting_leaves_the_others_their_results(
    client: Client, repo: Any
) -> None:
    tasks = await held(client, repo, range(4))
    assert len(client.trips) == 1  # on its way

    tasks[0].cancel()  # the first caller, which led the batch
    tasks[2].cancel()
    assert client.hold is not None
    client.hold.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert [isinstance(r, asyncio.CancelledError) for r in results] == [True, False, True, False]
    assert results[1::2] == [1, 3]


@pytest.mark.parametrize("cancelled", [[0], [1], [0, 1, 2]], ids=["leader", "other", "all"])
async def test_callers_cancelled_before_the_batch_leaves_are_not_sent(
    client: Client, repo: Any, cancelled: list[int]
) -> None:
    tasks = [asyncio.ensure_future(read) for read in prices(repo, range(3))]
    await asyncio.sleep(0)  # every read has joined; the leader yields once
    for i in cancelled:
        tasks[i].cancel()

    results = await asyncio.gather(*tasks, return_exceptions=True)

    for i, result in enumerate(results):
        assert isinstance(result, asyncio.CancelledError) if i in cancelled else result == i
    sent = [[("GET", f"shop:item:{i}:price") for i in range(3) if i not in cancelled]]
    assert client.trips == (sent if sent[0] else [])


async def test_a_cancelled_round_trip_cancels_its_callers_instead_of_stranding_them(
    client: Client, repo: Any
) -> None:
    tasks = await held(client, repo, range(3))
    current = asyncio.current_task()
    (sending,) = [t for t in asyncio.all_tasks() if t not in tasks and t is not current]

    sending.cancel()  # as the event loop's shutdown does
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(result, asyncio.CancelledError) for result in results)


async def test_reads_during_a_round_trip_form_the_next_batch(client: Client, repo: Any) -> None:
    first = await held(client, repo, range(3))
    second = await held(client, repo, range(3, 6))
    assert client.hold is not None
    client.hold.set()

    assert await asyncio.gather(*first, *second) == list(range(6))
    assert [len(trip) for trip in client.trips] == [3, 3]


async def test_writes_and_multi_command_ops_go_straight_through_in_order(
    client: Client, repo: Any
) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: repo.item(1).price.set(10),
        lambda: repo.item(1).hits.incr(),
        lambda: repo.item(1).seen.get(),  # sliding: GETEX renews the TTL
        lambda: repo.item(2).price.get(),
        lambda: repo.item(3).price.get(),
    ]

    assert await asyncio.gather(*(call() for call in calls)) == [True, 1, 0, 2, 3]
    assert [[command[0] for command in trip] for trip in client.trips] == [
        ["SET"],
        ["INCRBY", "PERSIST"],  # one op: the count and the expiry it owes
        ["GETEX"],
        ["GET", "GET"],
    ]


async def test_the_setting_turns_it_on_and_the_keyword_wins(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_COALESCE_READS", "true")
    assert RedisSettings().coalesce_reads is True

    for options, trips in (({}, 1), ({"coalesce_reads": False}, 3)):
        client.trips.clear()
        await asyncio.gather(*prices(repository(client, **options), range(3)))
        assert len(client.trips) == trips, options
