"""KeyspaceDict and AsyncKeyspaceDict against both backends.

Most cases run for both flavours through one async test body: the sync mapping is wrapped in
:class:`AsAsync`, which works because both flavours have the same method names. The dict
protocol (``d[k]``, ``in``, ``|=`` ...) and the concurrency cases are tested per flavour.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, MutableMapping
from datetime import datetime, timezone
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from keyspace import (
    BindingError,
    Cluster,
    CorruptValueError,
    InvalidParameterError,
    Key,
    RedisSettings,
    Repository,
    SyncRepository,
    WrongTypeError,
)
from keyspace._mapping import KeyspaceDict
from keyspace._mapping_async import AsyncKeyspaceDict


class Item(BaseModel):
    name: str
    qty: int = 0


class Done:
    """A computed result that can be awaited or async-iterated, like a ``KeyScan``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # pragma: no cover - makes this a generator

    async def __aiter__(self) -> AsyncIterator[Any]:
        for item in self.value:
            yield item


class AsAsync:
    """Presents a sync ``KeyspaceDict`` with the async surface (the method names are equal)."""

    def __init__(self, mapping: KeyspaceDict[Any, Any]) -> None:
        self.sync = mapping

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.sync, name)
        if name == "expiring" or not callable(value):
            return value
        if name == "batch":
            return lambda: _AsyncBlock(value())
        if name in ("keys", "values", "items"):
            return lambda: Done(list(value()))

        async def call(*args: Any, **kwargs: Any) -> Any:
            return value(*args, **kwargs)

        return call

    async def __aiter__(self) -> AsyncIterator[Any]:
        for key in self.sync:
            yield key


class _AsyncBlock:
    def __init__(self, block: Any) -> None:
        self.block = block

    async def __aenter__(self) -> Any:
        return self.block.__enter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return self.block.__exit__(*exc)


class Trips:
    """Counts the round trips of a client: commands sent alone, and pipeline executions."""

    def __init__(self, client: Any) -> None:
        self.sent: list[str] = []
        execute_command = client.execute_command
        pipeline = client.pipeline
        is_async = inspect.iscoroutinefunction(execute_command)

        def counted(run: Callable[..., Any], what: Callable[..., str]) -> Callable[..., Any]:
            if is_async:

                async def arun(*args: Any, **kwargs: Any) -> Any:
                    self.sent.append(what(*args))
                    return await run(*args, **kwargs)

                return arun

            def srun(*args: Any, **kwargs: Any) -> Any:
                self.sent.append(what(*args))
                return run(*args, **kwargs)

            return srun

        def make_pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = pipeline(*args, **kwargs)
            pipe.execute = counted(pipe.execute, lambda *a: "PIPELINE")
            return pipe

        client.execute_command = counted(execute_command, lambda *a: str(a[0]).upper())
        client.pipeline = make_pipeline

    @property
    def round_trips(self) -> int:
        return len(self.sent)

    def reset(self) -> None:
        self.sent.clear()


@pytest.fixture
def make(backend: Any, flavour: str) -> Callable[..., Any]:
    """``make(K, V, namespace="ns", decode_responses=False, settings=None, **options)``."""

    def build(
        key_type: Any = str,
        value_type: Any = int,
        namespace: str = "ns",
        decode_responses: bool = False,
        settings: RedisSettings | None = None,
        **options: Any,
    ) -> Any:
        settings = settings or RedisSettings()
        if flavour == "async":
            client = backend.async_client(decode_responses)
            return AsyncKeyspaceDict[key_type, value_type](  # type: ignore[valid-type]
                namespace, client, settings=settings, **options
            )
        mapping = KeyspaceDict[key_type, value_type](  # type: ignore[valid-type]
            namespace, backend.sync_client(decode_responses), settings=settings, **options
        )
        return AsAsync(mapping)

    return build


async def fill(raw: Any, count: int, prefix: str = "other") -> None:
    for start in range(0, count, 1000):
        await raw.mset({f"{prefix}:{i}": 1 for i in range(start, min(count, start + 1000))})


# -- items ------------------------------------------------------------------------------------


async def test_items_are_written_read_and_deleted(make: Any, raw: Any) -> None:
    d = make()
    assert await d.len() == 0
    await d.set("a", 1)
    await d.set("b", "2")  # lax validation, as Key[int]
    assert await d.getitem("a") == 1
    assert await d.get("b") == 2
    assert await d.get("z") is None
    assert await d.get("z", 0) == 0
    assert await d.contains("a")
    assert not await d.contains("z")
    assert await d.len() == 2
    assert sorted([key async for key in d]) == ["a", "b"]
    await d.delete("a")
    assert not await d.contains("a")
    assert await raw.get("ns:b") == b"2"
    with pytest.raises(KeyError):
        await d.getitem("a")
    with pytest.raises(KeyError):
        await d.delete("a")


async def test_values_are_validated_and_stored_as_plain_json(make: Any, raw: Any) -> None:
    d = make(str, Item)
    await d.set("x", {"name": "pen", "qty": "3"})
    assert await d.getitem("x") == Item(name="pen", qty=3)
    assert await raw.get("ns:x") == b'{"name":"pen","qty":3}'
    with pytest.raises(pydantic.ValidationError):
        await d.set("y", {"qty": 1})
    with pytest.raises(pydantic.ValidationError):
        await d.update({"z": Item(name="ok"), "y": {"qty": "many"}})
    assert await raw.keys("ns:*") == [b"ns:x"]  # nothing of the failed writes was sent


async def test_untyped_mappings_keep_python_types(make: Any) -> None:
    d = make(str, Any)
    when = datetime(2024, 1, 1, 12, 30, tzinfo=timezone.utc)
    await d.update(when=when, pair=(1, b"\xff"), n=None)
    assert await d.to_dict() == {"when": when, "pair": (1, b"\xff"), "n": None}


async def test_keys_are_typed(make: Any, raw: Any) -> None:
    d = make(int, str)
    await d.set(1, "one")
    await d.set("2", "two")
    await raw.mset({"ns:007": '"x"', "ns:abc": '"y"'})  # no int key renders like these
    assert await d.to_dict() == {1: "one", 2: "two"}
    assert sorted(await d.keys()) == [1, 2]
    assert await d.len() == 2
    with pytest.raises(InvalidParameterError, match="not a valid int"):
        await d.set("abc", "z")


@pytest.mark.parametrize("key", ["a:b", "a*", "x?", "[a]", "{a}", "a\\b", ""])
async def test_keys_that_would_leave_their_segment_are_rejected(make: Any, key: str) -> None:
    d = make()
    with pytest.raises(InvalidParameterError, match="may not"):
        await d.set(key, 1)
    with pytest.raises(InvalidParameterError):
        await d.get(key)
    assert not await d.contains(key)


async def test_a_corrupt_or_foreign_value_names_its_key(make: Any, raw: Any) -> None:
    d = make()
    await raw.set("ns:bad", "not json")
    await raw.hset("ns:hash", "f", "v")
    with pytest.raises(CorruptValueError, match="ns:bad"):
        await d.getitem("bad")
    with pytest.raises(WrongTypeError, match="ns:hash"):
        await d.getitem("hash")


async def test_clients_that_decode_responses_work(make: Any) -> None:
    d = make(int, Item, decode_responses=True)
    await d.update({1: Item(name="a"), 2: Item(name="b")})
    assert await d.to_dict() == {1: Item(name="a"), 2: Item(name="b")}
    assert await d.pop(1) == Item(name="a")
    assert await d.popitem() == (2, Item(name="b"))
    assert await d.setdefault(3, Item(name="c")) == Item(name="c")


# -- namespaces --------------------------------------------------------------------------------


async def test_namespaces_never_overlap(make: Any, raw: Any) -> None:
    top, sub, sibling = make(namespace="ns"), make(namespace="ns:sub"), make(namespace="nsx")
    await top.update(a=1, b=2)
    await sub.update(a=10, c=30)
    await sibling.update(a=100)
    assert await top.to_dict() == {"a": 1, "b": 2}
    assert await sub.to_dict() == {"a": 10, "c": 30}
    assert await top.len() == 2
    await top.clear()
    assert await top.len() == 0
    assert await sub.to_dict() == {"a": 10, "c": 30}
    assert await sibling.to_dict() == {"a": 100}
    assert sorted(await raw.keys()) == [b"ns:sub:a", b"ns:sub:c", b"nsx:a"]


@pytest.mark.parametrize("namespace", ["ns*", "n?", "n[s]", "n\\s", "*"])
async def test_glob_characters_in_a_namespace_are_safe(make: Any, raw: Any, namespace: str) -> None:
    await raw.mset({"ns:a": 1, "nsX:b": 2, "n[s]x:c": 3, "nss:d": 4, "x:e": 5, "ns*:sub:f": 6})
    d = make(namespace=namespace)
    assert await d.len() == 0
    await d.set("mine", 7)
    assert await d.to_dict() == {"mine": 7}
    assert await d.popitem() == ("mine", 7)
    await d.set("mine", 7)
    await d.clear()
    assert await raw.dbsize() == 6


# -- iteration and views ---------------------------------------------------------------------


async def test_nested_iteration_over_one_mapping(make: Any) -> None:
    d = make(settings=RedisSettings(scan_count=2))  # several SCAN pages per loop
    await d.update({str(i): i for i in range(7)})
    pairs = [(a, b) async for a in d async for b in d]
    assert len(pairs) == 49
    assert len(set(pairs)) == 49


async def test_keys_values_items_and_copies(make: Any) -> None:
    d = make(settings=RedisSettings(scan_count=3))
    await d.update({f"k{i}": i for i in range(10)})
    assert sorted(await d.keys()) == sorted(f"k{i}" for i in range(10))
    assert sorted(await d.values()) == list(range(10))
    assert sorted(await d.items()) == sorted((f"k{i}", i) for i in range(10))
    assert sorted([pair async for pair in d.items()]) == sorted(await d.items())
    copy = await d.copy()
    assert type(copy) is dict
    assert copy == await d.to_dict() == {f"k{i}": i for i in range(10)}
    assert await d.equals(copy)
    copy["k0"] = 99
    assert not await d.equals(copy)
    assert await d.getitem("k0") == 0  # a copy is a plain dict, detached from Redis


async def test_bulk_reads_take_one_round_trip_per_scan_page(make: Any) -> None:
    d = make()
    await d.update({f"k{i}": i for i in range(50)})
    trips = Trips(d.client)
    assert len(await d.to_dict()) == 50
    assert trips.sent == ["SCAN", "MGET"]


async def test_len_of_a_small_namespace_in_a_large_database_is_cheap(make: Any, raw: Any) -> None:
    await fill(raw, 5000)
    d = make()
    await d.update({f"k{i}": i for i in range(5)})
    trips = Trips(d.client)
    assert await d.len() == 5
    assert trips.sent == ["SCAN"] * trips.round_trips
    assert trips.round_trips <= 12  # a COUNT of 10 would take about 500


# -- dict methods --------------------------------------------------------------------------------


async def test_pop_popitem_and_setdefault(make: Any) -> None:
    d = make()
    await d.update(a=1, b=2)
    assert await d.pop("a") == 1
    assert await d.pop("a", None) is None
    assert await d.pop("a", 5) == 5
    with pytest.raises(KeyError):
        await d.pop("a")
    assert await d.setdefault("b", 9) == 2
    assert await d.setdefault("c", "3") == 3
    assert await d.getitem("c") == 3
    popped = {await d.popitem(), await d.popitem()}
    assert popped == {("b", 2), ("c", 3)}
    with pytest.raises(KeyError, match="empty"):
        await d.popitem()
    with pytest.raises(pydantic.ValidationError):
        await d.setdefault("d", "x")
    assert not await d.contains("d")


async def test_popitem_finds_an_entry_among_many_other_keys(make: Any, raw: Any) -> None:
    await fill(raw, 1000)
    await fill(raw, 200, prefix="ns:sub")
    d = make(settings=RedisSettings(scan_count=100))
    await d.set("needle", 1)
    assert await d.popitem() == ("needle", 1)
    with pytest.raises(KeyError):
        await d.popitem()
    assert await raw.dbsize() == 1200


async def test_update_takes_any_dict_signature_in_one_round_trip(make: Any, raw: Any) -> None:
    d = make(ttl=60)
    trips = Trips(d.client)
    await d.update({"a": 1, "b": 2})
    await d.update([("c", 3), ("d", 4)])
    await d.update(e=5)
    await d.update({"f": 6}, g=7)
    await d.update((pair for pair in [("h", 8)]), i=9)
    await d.update({})
    assert trips.round_trips == 5
    assert await d.to_dict() == dict(zip("abcdefghi", range(1, 10), strict=True))
    assert 55 < await raw.ttl("ns:i") <= 60
    with pytest.raises(ValueError, match="length 1"):
        await d.update(["x"])


async def test_update_from_another_mapping_of_the_same_flavour(make: Any) -> None:
    source, target = make(namespace="source"), make(namespace="target")
    await source.update(a=1, b=2)
    await target.update(source.sync if isinstance(source, AsAsync) else source)
    assert await target.to_dict() == {"a": 1, "b": 2}


async def test_clear_deletes_every_entry_and_nothing_else(make: Any, raw: Any) -> None:
    await raw.mset({"ns:sub:x": 1, "nsa:y": 2})
    d = make(settings=RedisSettings(scan_count=5, delete_chunk_size=3))
    await d.update({str(i): i for i in range(20)})
    await d.clear()
    assert await d.len() == 0
    assert sorted(await raw.keys()) == [b"ns:sub:x", b"nsa:y"]


# -- expiry ---------------------------------------------------------------------------------------


async def test_default_ttl_and_per_write_ttl(make: Any, raw: Any) -> None:
    d = make(ttl=60)
    await d.set("a", 1)
    await d.set("b", 1, ttl=1.5)
    await d.set("c", 1, ttl=None)
    assert 55 < await d.ttl("a") <= 60
    assert 0 < await raw.pttl("ns:b") <= 1500
    assert await d.ttl("c") is None
    await d.set("a", 2, ttl=None)  # an overwrite without a TTL removes it, like SET
    assert await d.ttl("a") is None
    with pytest.raises(KeyError):
        await d.ttl("missing")


async def test_the_settings_default_ttl_applies_unless_the_mapping_sets_one(
    make: Any, raw: Any
) -> None:
    inherited = make(settings=RedisSettings(default_ttl=30), namespace="a")
    never = make(settings=RedisSettings(default_ttl=30), namespace="b", ttl=None)
    await inherited.set("k", 1)
    await never.set("k", 1)
    assert 25 < await raw.ttl("a:k") <= 30
    assert await raw.ttl("b:k") == -1


async def test_expiring_sets_the_ttl_of_the_writes_inside(make: Any, raw: Any) -> None:
    d = make(ttl=60)
    with d.expiring(100):
        await d.set("a", 1)
        await d.update(b=2)
        assert await d.setdefault("c", 3) == 3
        with d.expiring(None):
            await d.set("d", 4)
        await d.set("e", 5, ttl=10)  # the call's own ttl wins
    await d.set("f", 6)
    ttls = {key: await raw.ttl(f"ns:{key}") for key in "abcdef"}
    assert all(95 < ttls[key] <= 100 for key in "abc"), ttls
    assert ttls["d"] == -1
    assert 5 < ttls["e"] <= 10
    assert 55 < ttls["f"] <= 60


async def test_preserve_ttl_keeps_an_existing_ttl_on_overwrite(make: Any, raw: Any) -> None:
    d = make(ttl=60, preserve_ttl=True)
    await raw.set("ns:old", 1, ex=500)
    await raw.set("ns:forever", 1)
    await d.set("old", 2)
    await d.set("forever", 2)
    await d.set("new", 2)
    await d.update(old=3, new=3)
    assert 490 < await raw.ttl("ns:old") <= 500
    assert await raw.ttl("ns:forever") == -1
    assert 55 < await raw.ttl("ns:new") <= 60
    assert await d.to_dict() == {"old": 3, "forever": 2, "new": 3}
    await d.set("old", 4, ttl=5)  # an explicit TTL still applies
    assert 0 < await raw.ttl("ns:old") <= 5
    plain = make(namespace="plain", ttl=None, preserve_ttl=True)
    await raw.set("plain:k", 1, ex=500)
    await plain.set("k", 2)
    await plain.set("n", 2)
    assert 490 < await raw.ttl("plain:k") <= 500
    assert await raw.ttl("plain:n") == -1


# -- batching -------------------------------------------------------------------------------------


async def test_batch_sends_nested_writes_in_one_round_trip(make: Any, raw: Any) -> None:
    d = make(ttl=60)
    await d.set("gone", 0)
    trips = Trips(d.client)
    async with d.batch():
        await d.set("a", 1)
        async with d.batch():
            await d.update(b=2, c=3)
            with d.expiring(5):
                await d.set("d", 4)
        assert trips.round_trips == 0  # the inner block did not send
        await d.delete("gone")
        await d.delete("never-there")  # no KeyError inside a batch: unknown until sent
        assert not await d.contains("a")  # reads see Redis, not the buffer
        trips.reset()
    assert trips.sent == ["PIPELINE"]
    assert await d.to_dict() == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert 0 < await raw.ttl("ns:d") <= 5


async def test_an_exception_discards_the_writes_of_its_block(make: Any) -> None:
    d = make()

    async def failing_block(key: str) -> None:
        async with d.batch():
            await d.set(key, 1)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await failing_block("a")
    async with d.batch():
        await d.set("b", 2)
        with pytest.raises(RuntimeError):
            await failing_block("c")
    assert await d.to_dict() == {"b": 2}


async def test_ops_with_results_inside_a_batch_send_the_buffer_first(make: Any) -> None:
    d = make()
    trips = Trips(d.client)
    async with d.batch():
        await d.set("a", 1)
        assert await d.pop("a") == 1  # the buffered SET went with the GETDEL
        await d.set("b", 2)
        assert await d.setdefault("b", 5) == 2
        assert await d.pop("b") == 2
        await d.set("c", 3)
        assert await d.popitem() == ("c", 3)
        await d.set("d", 4)
        await d.clear()
        await d.set("e", 5)
    assert await d.to_dict() == {"e": 5}
    assert trips.sent[:2] == ["PIPELINE", "PIPELINE"]


# -- clients -------------------------------------------------------------------------------------


async def test_own_clients_are_closed_and_callers_clients_are_not(
    backend: Any, flavour: str
) -> None:
    settings = RedisSettings(url=backend.url)
    caller = backend.async_client() if flavour == "async" else backend.sync_client()
    if flavour == "async":
        async with AsyncKeyspaceDict[str, int]("ns", settings=settings) as own:
            await own.set("a", 1)
        async with AsyncKeyspaceDict[str, int]("ns", caller) as theirs:
            assert await theirs.get("a") == 1
        assert await caller.get("ns:a") == b"1"
    else:
        with KeyspaceDict[str, int]("ns", settings=settings) as own_sync:
            own_sync["a"] = 1
        with KeyspaceDict[str, int]("ns", caller) as theirs_sync:
            assert theirs_sync["a"] == 1
        assert caller.get("ns:a") == b"1"


# -- key families of clusters ------------------------------------------------------------------


class Inbox(Cluster, prefix="inbox:{user_id}", ttl=50):
    message_id: int
    message: Key[str] = Key("message:{message_id}")
    draft: Key[Item] = Key("draft:d{message_id}:body", ttl=None)
    count: Key[int] = 0


class Mail(Cluster, prefix="mail"):
    inbox: Inbox


def family(handle: Any, flavour: str) -> Any:
    """``as_dict()`` of an unbound key handle (the sync view wrapped for awaiting)."""
    view = handle.as_dict()
    assert isinstance(view, AsyncKeyspaceDict if flavour == "async" else KeyspaceDict)
    return view


async def test_a_key_family_of_a_bound_cluster_as_a_mapping(
    backend: Any, flavour: str, raw: Any
) -> None:
    if flavour == "async":
        repo: Any = Repository(Mail, backend.async_client())
        messages, drafts = (
            family(repo.inbox(1).message, flavour),
            family(repo.inbox(1).draft, flavour),
        )
    else:
        repo = SyncRepository(Mail, backend.sync_client())
        messages = AsAsync(family(repo.inbox(1).message, flavour))
        drafts = AsAsync(family(repo.inbox(1).draft, flavour))
    with pytest.raises(BindingError, match="as_dict"):
        repo.inbox(1).count.as_dict()
    await messages.update({5: "hi", "6": "yo"})
    await drafts.set(5, {"name": "draft"})
    await raw.set("mail:inbox:1:count", 3)
    await raw.set("mail:inbox:10:message:5", '"other user"')
    assert await messages.to_dict() == {5: "hi", 6: "yo"}
    assert await drafts.to_dict() == {5: Item(name="draft")}
    assert await raw.get("mail:inbox:1:message:5") == b'"hi"'
    assert await raw.get("mail:inbox:1:draft:d5:body") == b'{"name":"draft","qty":0}'
    assert 45 < await messages.ttl(5) <= 50  # the key's declared TTL
    assert await drafts.ttl(5) is None
    with pytest.raises(InvalidParameterError, match="message_id"):
        await messages.set("x", "bad")
    again = family(repo.inbox(1).message, flavour)  # as_dict() makes a new view each time
    again = again if flavour == "async" else AsAsync(again)
    async with messages.batch():  # ... and the views of one family share their batch
        await again.set(7, "later")
        assert not await messages.contains(7)
    assert await messages.getitem(7) == "later"
    await messages.clear()
    assert sorted(await raw.keys()) == [
        b"mail:inbox:10:message:5",
        b"mail:inbox:1:count",
        b"mail:inbox:1:draft:d5:body",
    ]


async def test_a_namespace_on_a_repository_client(backend: Any, flavour: str, raw: Any) -> None:
    settings = RedisSettings(default_ttl=40)
    if flavour == "async":
        repo: Any = Repository(Mail, backend.async_client(), settings=settings)
        cache: Any = AsyncKeyspaceDict[str, int]._for_namespace(repo._rt, "mail:cache")
    else:
        repo = SyncRepository(Mail, backend.sync_client(), settings=settings)
        cache = AsAsync(KeyspaceDict[str, int]._for_namespace(repo._rt, "mail:cache"))
    await cache.set("hits", 3)
    assert await raw.get("mail:cache:hits") == b"3"
    assert 35 < await cache.ttl("hits") <= 40  # the repository's default TTL
    assert await cache.to_dict() == {"hits": 3}


# -- the sync flavour: the dict protocol ---------------------------------------------------------


async def test_the_sync_flavour_is_a_mutable_mapping(backend: Any) -> None:
    d = KeyspaceDict[str, int]("ns", backend.sync_client())
    other = KeyspaceDict[str, int]("other", backend.sync_client())
    assert isinstance(d, MutableMapping)
    d["a"] = 1
    d["b"] = 2
    assert d["a"] == 1
    assert "a" in d
    assert "a:b" not in d
    assert 5 not in d
    assert len(d) == 2
    assert sorted(d) == ["a", "b"]
    assert sorted(d.keys()) == ["a", "b"]
    assert sorted(d.values()) == [1, 2]
    assert sorted(d.items()) == [("a", 1), ("b", 2)]
    assert ("a", 1) in d.items()
    assert d == {"a": 1, "b": 2}
    assert d != {"a": 1}
    assert d != other
    other.update(d)
    assert d == other
    assert d | {"c": 3} == {"a": 1, "b": 2, "c": 3}
    assert {"a": 0, "z": 0} | d == {"a": 1, "b": 2, "z": 0}
    merged = d
    merged |= {"c": 3}
    assert merged is d
    assert d.to_dict() == {"a": 1, "b": 2, "c": 3}
    del d["c"]
    with pytest.raises(KeyError):
        del d["c"]
    with pytest.raises(KeyError):
        d["c"]
    assert d.copy() == {"a": 1, "b": 2}
    assert d.equals({"a": 1, "b": 2})
    assert d.getitem("a") == 1
    assert d.contains("a")
    assert d.len() == 2
    with pytest.raises(TypeError):
        hash(d)
    d.clear()
    assert not d


async def test_the_sync_flavour_streams_views_by_pages(backend: Any) -> None:
    d = KeyspaceDict[str, int]("ns", backend.sync_client())
    d.update({f"k{i}": i for i in range(30)})
    trips = Trips(d.client)
    assert sum(value for value in d.values()) == sum(range(30))
    assert trips.sent == ["SCAN", "MGET"]


async def test_sync_expiring_and_batch_are_local_to_a_thread(backend: Any, raw: Any) -> None:
    d = KeyspaceDict[str, int]("ns", backend.sync_client())
    inside = threading.Event()
    written = threading.Event()

    def other() -> None:
        inside.wait(5)
        d["other"] = 2  # neither batched nor expiring: the block belongs to the main thread
        written.set()

    thread = threading.Thread(target=other)
    thread.start()
    with d.batch(), d.expiring(100):
        d["mine"] = 1
        inside.set()
        assert written.wait(5)
        assert d.get("other") == 2
        assert "mine" not in d
    thread.join()
    assert await raw.ttl("ns:other") == -1
    assert 95 < await raw.ttl("ns:mine") <= 100


async def test_sync_setdefault_is_atomic_across_threads(backend: Any) -> None:
    d = KeyspaceDict[str, int]("ns", backend.sync_client())
    results: list[int] = []
    barrier = threading.Barrier(20)

    def racer(value: int) -> None:
        barrier.wait(5)
        results.append(d.setdefault("k", value))

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert len(set(results)) == 1
    assert d["k"] == results[0]


# -- the async flavour ---------------------------------------------------------------------------


async def test_async_setdefault_is_atomic_under_concurrent_tasks(backend: Any) -> None:
    d = AsyncKeyspaceDict[str, int]("ns", backend.async_client())
    results = await asyncio.gather(*(d.setdefault("k", i) for i in range(50)))
    assert len(set(results)) == 1
    assert await d.getitem("k") == results[0]


async def test_async_expiring_is_local_to_a_task(backend: Any, raw: Any) -> None:
    d = AsyncKeyspaceDict[str, int]("ns", backend.async_client())
    both_inside = asyncio.Barrier(2) if hasattr(asyncio, "Barrier") else None

    async def writer(key: str, ttl: int) -> None:
        with d.expiring(ttl):
            if both_inside is not None:
                await both_inside.wait()
            await asyncio.sleep(0)
            await d.set(key, ttl)

    await asyncio.gather(writer("short", 10), writer("long", 1000))
    assert 5 < await raw.ttl("ns:short") <= 10
    assert 995 < await raw.ttl("ns:long") <= 1000


async def test_async_batch_is_local_to_a_task(backend: Any) -> None:
    d = AsyncKeyspaceDict[str, int]("ns", backend.async_client())
    entered = asyncio.Event()
    done = asyncio.Event()

    async def batched() -> None:
        async with d.batch():
            await d.set("batched", 1)
            entered.set()
            await done.wait()
            assert not await d.contains("batched")

    async def direct() -> None:
        await entered.wait()
        await d.set("direct", 2)  # sent at once: the batch is the other task's
        assert await d.contains("direct")
        done.set()

    await asyncio.gather(batched(), direct())
    assert await d.to_dict() == {"batched": 1, "direct": 2}


async def test_the_async_flavour_refuses_io_operators(backend: Any) -> None:
    d = AsyncKeyspaceDict[str, int]("ns", backend.async_client())
    with pytest.raises(TypeError, match="equals"):
        _ = d == {}
    assert d != 5
    assert d == d  # identity still holds
    with pytest.raises(TypeError):
        iter(d)  # type: ignore[call-overload]
    assert {d: 1}[d] == 1
    twin = AsyncKeyspaceDict[str, int]("twin", backend.async_client())
    await twin.set("a", 1)
    await d.update(twin)
    assert await d.equals(twin)
    with pytest.raises(TypeError, match="needs a mapping"):
        await d.equals(5)  # type: ignore[arg-type]


def test_both_flavours_have_the_same_method_names_and_parameters() -> None:
    def public(cls: type) -> dict[str, Any]:
        names = {n for n in dir(cls) if not n.startswith("_")} - {"close", "aclose"}
        out = {}
        for name in names:
            member = inspect.getattr_static(cls, name)
            if isinstance(member, property):
                out[name] = "property"
                continue
            assert inspect.getdoc(member), f"{cls.__name__}.{name} has no docstring"
            params = inspect.signature(member).parameters.values()
            out[name] = [(p.name, p.kind, p.default) for p in params]
        return out

    assert public(KeyspaceDict) == public(AsyncKeyspaceDict)


async def test_sync_iterators_are_independent(backend: Any) -> None:
    d = KeyspaceDict[str, int]("ns", backend.sync_client(), settings=RedisSettings(scan_count=1))
    d.update(a=1, b=2, c=3)
    first: Iterator[str] = iter(d)
    second = iter(d)
    seen = [next(first), next(second), next(first)]
    assert len(set(seen[::2])) == 2
    assert sorted([*first, seen[0], seen[2]]) == ["a", "b", "c"]


async def test_tasks_started_inside_a_batch_join_it_while_it_is_open(backend: Any) -> None:
    d = AsyncKeyspaceDict[str, int]("ns", backend.async_client())
    release = asyncio.Event()

    async def later() -> None:
        await release.wait()
        async with d.batch():  # its outer block has been sent meanwhile
            await d.set("late", 3)
        await d.set("later", 4)

    trips = Trips(d.client)
    async with d.batch():
        await asyncio.gather(d.set("a", 1), d.set("b", 2))
        task = asyncio.create_task(later())
        assert trips.round_trips == 0
    assert trips.sent == ["PIPELINE"]
    release.set()
    await task
    assert await d.to_dict() == {"a": 1, "b": 2, "late": 3, "later": 4}


async def test_threads_never_join_a_batch_even_with_its_context(backend: Any) -> None:
    d = KeyspaceDict[str, int]("ns", backend.sync_client())
    with d.batch():
        d["a"] = 1
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(d.__setitem__, "b", 2))
        thread.start()
        thread.join()
        assert "b" in d  # written at once
        assert "a" not in d
    assert d.to_dict() == {"a": 1, "b": 2}


async def test_mapping_events_carry_typed_keys_values_and_stay_in_the_namespace(
    backend: Any,
) -> None:
    import asyncio

    writer = AsyncKeyspaceDict[int, Item]("evt", backend.async_client(), publish_events=True)
    other = AsyncKeyspaceDict[int, Item]("evt:sub", backend.async_client(), publish_events=True)
    reader = AsyncKeyspaceDict[int, Item]("evt", backend.async_client())

    async def two() -> list[Any]:
        seen = []
        async for event in reader.events(timeout=5):
            seen.append(event)
            if len(seen) == 2:
                break
        return seen

    task = asyncio.create_task(two())
    await asyncio.sleep(0.2)
    await other.set(1, Item(name="elsewhere"))  # ns:sub is another namespace
    await writer.update({1: Item(name="a")})
    await writer.delete(1)
    events = await task
    assert [(e.key, e.operation, e.value) for e in events] == [
        ("evt:1", "set", Item(name="a")),
        ("evt:1", "del", None),
    ]
    sync_reader = KeyspaceDict[int, Item]("evt", backend.sync_client())
    assert list(sync_reader.events(timeout=0.2)) == []
