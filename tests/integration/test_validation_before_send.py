"""Every write path validates before it sends: an invalid or oversized value raises, and
nothing is written; a pipeline, transaction, ``save()`` or ``update()`` is never half applied.

Each case snapshots the whole database (``DUMP`` of every key, and whether it expires) before
the failing write and compares it after, so a write that deleted a key before failing (the
``DEL`` of a whole-structure ``set()``), or an expiry that was reset, would show.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from keyspace import (
    Cluster,
    Counter,
    HashKey,
    Key,
    KeyspaceDict,
    KeyspaceError,
    ListKey,
    Repository,
    SetKey,
    SortedSetKey,
    SyncRepository,
    ValueTooLargeError,
)

LIMIT = 64  # bytes: the key and value limit of these tests


class Doc(BaseModel):
    title: str = ""
    pages: int = 0


class Shelf(Cluster, prefix="shelf:{shelf_id}", ttl=60):
    label: Key[str] = Key(default="")
    count: Key[int] = Key(default=0)
    doc: HashKey[Doc]
    tags: SetKey[str]
    log: ListKey[int]
    ranks: SortedSetKey[str]
    hits: Counter
    note: Key[str] = Key("note:{note_id}", default="")


class Library(Cluster, prefix="lib"):
    shelf: Shelf


async def snapshot(raw: Any) -> dict[bytes, tuple[bytes, bool]]:
    """Every key's serialized value, and whether it has an expiry."""
    state = {}
    async for key in raw.scan_iter(count=1000):
        state[key] = (await raw.dump(key), await raw.pttl(key) > 0)
    return state


async def fill(shelf: Any) -> None:
    """A value in every key of ``shelf``, so a failed write that deleted one would show."""
    await shelf.label.set("before")
    await shelf.count.set(1)
    await shelf.doc.set(Doc(title="t", pages=1))
    await shelf.tags.set({"a"})
    await shelf.log.set([1])
    await shelf.ranks.set({"a": 1.0})
    await shelf.hits.incr()
    await shelf.note(1).set("n")


Write = Callable[[Any], Awaitable[Any]]

INVALID: dict[str, Write] = {
    "set": lambda s: s.count.set("many"),
    "set nx": lambda s: s.count.set("many", nx=True),
    "hash set": lambda s: s.doc.set({"title": "t", "pages": "many"}),
    "hash set_field": lambda s: s.doc.set_field("pages", "many"),
    "hash set_fields": lambda s: s.doc.set_fields(title="ok", pages="many"),
    "hash unknown field": lambda s: s.doc.set_field("author", "x"),
    "set add": lambda s: s.tags.add("ok", 5),
    "set replace": lambda s: s.tags.set(["ok", 5]),
    "list push": lambda s: s.log.push(2, "x"),
    "list push_left": lambda s: s.log.push_left("x"),
    "list replace": lambda s: s.log.set([2, "x"]),
    "sorted set add": lambda s: s.ranks.add("b", "high"),
    "sorted set add_many": lambda s: s.ranks.add_many({"b": 1.0, "c": "high"}),
    "sorted set replace": lambda s: s.ranks.set({"b": 1.0, 5: 2.0}),
    "counter set": lambda s: s.hits.set("x"),
    "counter incr": lambda s: s.hits.incr(1.5),
    "family key": lambda s: s.note(2).set(3),
    "save": lambda s: s.save({"label": "ok", "count": "many"}),
    "update": lambda s: s.count.update(lambda count: "many"),
}

BIG = "x" * (LIMIT + 1)
OVERSIZED: dict[str, Write] = {
    "set": lambda s: s.label.set(BIG),
    "hash set": lambda s: s.doc.set(Doc(title=BIG)),
    "hash set_field": lambda s: s.doc.set_field("title", BIG),
    "set add": lambda s: s.tags.add("ok", BIG),
    "set replace": lambda s: s.tags.set({"ok", BIG}),
    "sorted set add_many": lambda s: s.ranks.add_many({"ok": 1.0, BIG: 2.0}),
    "sorted set incr": lambda s: s.ranks.incr(BIG),
    "family key": lambda s: s.note(BIG).set("small"),
    "save": lambda s: s.save({"count": 2, "label": BIG}),
    "update": lambda s: s.label.update(lambda label: BIG),
}


@pytest.mark.parametrize("write", INVALID.values(), ids=INVALID.keys())
async def test_an_invalid_value_raises_and_writes_nothing(
    make_repo: Callable[..., Any], raw: Any, write: Write
) -> None:
    repo = make_repo(Library)
    await fill(repo.shelf(1))
    before = await snapshot(raw)
    with pytest.raises((pydantic.ValidationError, KeyspaceError)):
        await write(repo.shelf(1))
    assert await snapshot(raw) == before


@pytest.mark.parametrize("write", OVERSIZED.values(), ids=OVERSIZED.keys())
async def test_an_oversized_value_or_key_raises_and_writes_nothing(
    make_repo: Callable[..., Any], raw: Any, write: Write
) -> None:
    repo = make_repo(Library, max_value_bytes=LIMIT, max_key_bytes=LIMIT)
    await fill(repo.shelf(1))
    before = await snapshot(raw)
    with pytest.raises(ValueTooLargeError, match=r"over the limit of 64 \(REDIS_MAX_"):
        await write(repo.shelf(1))
    assert await snapshot(raw) == before


async def test_the_limits_are_inclusive_and_name_the_setting(
    make_repo: Callable[..., Any], raw: Any
) -> None:
    repo = make_repo(Library, max_value_bytes=LIMIT, max_key_bytes=LIMIT)
    fits = "é" * ((LIMIT - 2) // 2)  # two bytes each in UTF-8, plus the JSON quotes
    await repo.shelf(1).label.set(fits)
    assert len(await raw.get("lib:shelf:1:label")) == LIMIT
    with pytest.raises(ValueTooLargeError) as info:
        await repo.shelf(1).label.set(fits + "x")
    assert isinstance(info.value, ValueError)
    assert "'lib:shelf:1:label'" in str(info.value)
    assert "65 bytes" in str(info.value)
    assert "REDIS_MAX_VALUE_BYTES" in str(info.value)
    name = "k" * (LIMIT - len("lib:shelf:1:note:"))
    await repo.shelf(1).note(name).set("fits")
    with pytest.raises(ValueTooLargeError, match=r"key name is 65 bytes.*REDIS_MAX_KEY_BYTES"):
        await repo.shelf(1).note(name + "k").get()  # reads are refused too: nothing is sent


async def test_the_default_limits_allow_large_values(make_repo: Callable[..., Any]) -> None:
    repo = make_repo(Library)
    await repo.shelf(1).label.set("x" * 200_000)  # well under 512 MiB
    assert len(await repo.shelf(1).label.get()) == 200_000


# -- pipelines and transactions ---------------------------------------------------------------


def _repo(backend: Any, flavour: str, **settings: Any) -> Any:
    from keyspace import RedisSettings

    options = RedisSettings(max_value_bytes=LIMIT, max_key_bytes=LIMIT, **settings)
    if flavour == "async":
        return Repository(Library, backend.async_client(), settings=options)
    return SyncRepository(Library, backend.sync_client(), settings=options)


async def _execute(pipe: Any) -> Any:
    result = pipe.execute()
    return await result if hasattr(result, "__await__") else result


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "transaction"])
async def test_an_oversized_value_leaves_the_whole_pipeline_unsent(
    backend: Any, flavour: str, raw: Any, transaction: bool
) -> None:
    repo = _repo(backend, flavour)
    pipe = repo.pipeline(transaction=transaction)
    pipe.shelf(1).count.set(5)
    pipe.shelf(1).log.push(1, 2)
    pipe.shelf(1).label.set(BIG)  # queued: sizes are checked when the pipeline is sent
    pipe.shelf(2).hits.incr()
    with pytest.raises(ValueTooLargeError):
        await _execute(pipe)
    assert await raw.dbsize() == 0
    pipe = repo.pipeline(transaction=transaction)
    pipe.shelf(1).count.set(5)
    assert await _execute(pipe) == [True]  # the pipeline itself still works


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "transaction"])
async def test_an_invalid_value_leaves_the_whole_pipeline_unsent(
    backend: Any, flavour: str, raw: Any, transaction: bool
) -> None:
    repo = _repo(backend, flavour)
    with pytest.raises(pydantic.ValidationError):  # noqa: PT012 - raised while queuing
        if flavour == "async":
            async with repo.pipeline(transaction=transaction) as p:
                p.shelf(1).count.set(5)
                p.shelf(1).tags.add("x", 3)
        else:
            with repo.pipeline(transaction=transaction) as p:
                p.shelf(1).count.set(5)
                p.shelf(1).tags.add("x", 3)
    assert await raw.dbsize() == 0


async def test_update_of_several_keys_writes_none_of_them(
    make_repo: Callable[..., Any], raw: Any
) -> None:
    repo = make_repo(Library, max_value_bytes=LIMIT)
    keys = [repo.shelf(1).label, repo.shelf(1).count]
    await repo.update(keys, lambda label, count: ("a", 1))
    before = await snapshot(raw)
    with pytest.raises(pydantic.ValidationError):
        await repo.update(keys, lambda label, count: ("b", "two"))
    with pytest.raises(ValueTooLargeError):
        await repo.update(keys, lambda label, count: (BIG, 2))
    assert await snapshot(raw) == before
    assert await repo.update(keys, lambda label, count: (label * 2, count + 1)) == ["aa", 2]


# -- mappings ---------------------------------------------------------------------------------


async def _call(result: Any) -> Any:
    return await result if hasattr(result, "__await__") else result


async def test_mapping_writes_validate_before_sending(backend: Any, flavour: str, raw: Any) -> None:
    repo = _repo(backend, flavour)
    notes = repo.shelf(1).note.as_dict()
    await _call(notes.set(1, "kept"))
    before = await snapshot(raw)
    with pytest.raises(pydantic.ValidationError):
        await _call(notes.update({2: "ok", 3: 4}))
    with pytest.raises(pydantic.ValidationError):
        await _call(notes.set(2, ["not", "text"]))
    with pytest.raises(pydantic.ValidationError):
        await _call(notes.setdefault(2, 5))
    with pytest.raises(ValueTooLargeError):
        await _call(notes.update({2: "ok", 3: BIG}))
    with pytest.raises(ValueTooLargeError):
        await _call(notes.set("k" * LIMIT, "ok"))
    assert await snapshot(raw) == before


async def test_a_mapping_batch_with_an_oversized_value_sends_nothing(
    backend: Any, flavour: str, raw: Any
) -> None:
    repo = _repo(backend, flavour)
    notes = repo.shelf(1).note.as_dict()
    with pytest.raises(ValueTooLargeError):  # noqa: PT012 - raised when the block exits
        if flavour == "async":
            async with notes.batch():
                await notes.set(1, "a")
                await notes.set(2, BIG)
        else:
            with notes.batch():
                notes[1] = "a"
                notes[2] = BIG
    assert await raw.dbsize() == 0


def test_a_standalone_mapping_validates_before_sending(backend: Any) -> None:
    with KeyspaceDict[int, int](namespace="counts", client=backend.sync_client()) as counts:
        with pytest.raises(pydantic.ValidationError):
            counts.update({1: 1, 2: "two"})
        assert counts.to_dict() == {}
