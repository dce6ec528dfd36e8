"""``keyspace.compat.redis_pydict``, used as a redis-pydict user uses redis-pydict.

Every case runs on the in-memory backend and on a real redis-server. Data "written by
redis-pydict" is written here directly with redis-py, as redis-pydict writes it: a one-byte
type tag and the payload at ``<namespace>&&<key>``, and key-set events on the channel
``event_<namespace>&&<key>`` carrying the writer's notification id.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from keyspace import (
    CorruptValueError,
    InvalidParameterError,
    KeyspaceDict,
    RedisSettings,
    UnsupportedValueError,
)
from keyspace.compat.redis_pydict import KeyNotification, PyRedisDict


@pytest.fixture
def store(backend: Any) -> Any:
    """A plain redis-py client on the same data, as redis-pydict's own (bytes)."""
    return backend.sync_client()


@pytest.fixture
def make(backend: Any) -> Callable[..., PyRedisDict]:
    """``make(namespace="mykeyspace", **options)`` on a client of this backend."""

    def build(namespace: str = "mykeyspace", **options: Any) -> PyRedisDict:
        return PyRedisDict(namespace=namespace, custom=backend.sync_client(), **options)

    return build


class CustomClass:
    """The custom object of redis-pydict's README."""

    def __init__(self) -> None:
        self.values = (10, 20, 30)

    def add(self) -> int:
        return sum(self.values)


def _ran_code() -> None:  # pragma: no cover - must never run
    raise AssertionError("a pickle ran code")


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (_ran_code, ())


# -- the README examples ------------------------------------------------------------------


async def test_basic_get_set(make: Any, store: Any) -> None:
    d = make()
    d.clear()
    d["none"] = None
    d["int"] = 10
    d["float"] = 20.131
    d["array"] = [10, 20, 30]
    d["hashmap"] = {"name": "prasanna", "meta": {"age": 24, "hobbies": ["gaming"]}}
    assert d["int"] == 10
    assert d["float"] == 20.131
    assert d["array"] == [10, 20, 30]
    assert d["hashmap"]["name"] == "prasanna"
    assert d["hashmap"]["meta"]["age"] == 24
    assert d["none"] is None
    assert store.get("mykeyspace&&int") == b"i10"
    assert store.get("mykeyspace&&none") == b"n"
    assert store.get("mykeyspace&&array") == b"l[10, 20, 30]"
    d.clear()
    assert store.keys("*") == []


async def test_custom_objects_need_the_unsafe_pickle_opt_in(make: Any) -> None:
    d = make()
    with pytest.raises(UnsupportedValueError, match="unsafe_pickle"):
        d["obj"] = CustomClass()
    trusting = make(unsafe_pickle=True)
    trusting["obj"] = CustomClass()
    assert trusting["obj"].add() == 10 + 20 + 30
    with pytest.raises(CorruptValueError, match="unsafe_pickle"):
        d["obj"]  # the safe reader builds no CustomClass


async def test_iterations(make: Any) -> None:
    d = make("mykeyspace2")
    d.clear()
    d["mykey_none"] = None
    d["mykey_int"] = 10
    d["mykey_float"] = 20.131
    d["array"] = [10, 20, 30]
    d["hashmap"] = {"name": "prasanna", "meta": {"age": 24, "hobbies": ["gaming"]}}
    assert len(d) == 5
    assert len(d.items()) == 5
    assert len(d.items_matching("mykey*")) == 3
    assert sorted(d.iter_matching("mykey_[if]*")) == ["mykey_float", "mykey_int"]
    assert sorted(d.keys()) == ["array", "hashmap", "mykey_float", "mykey_int", "mykey_none"]
    assert None in list(d.values())
    d.clear()


async def test_deletion(make: Any) -> None:
    d = make("mykeyspace3", unsafe_pickle=True)
    d.clear()
    for key in ("x1", "x2", "x3", "x4", "x4"):
        d[key] = CustomClass()
    assert "x1" in d
    del d["x1"]
    assert "x1" not in d
    with pytest.raises(KeyError):
        del d["x1"]
    d.clear()
    assert len(d) == 0


async def test_conversions(make: Any) -> None:
    d = make()
    d["mykey_none"] = None
    d["mykey_int"] = 10
    d["mykey_float"] = 20.131
    d["array"] = [10, 20, 30]
    d["hashmap"] = {"name": "prasanna", "meta": {"age": 24, "hobbies": ["gaming"]}}
    assert len(d.to_dict()) == 5
    normal_dict = {"mykey_1": 10, "mykey_2": 20, "mykey_3": "hello", "array": [50, 60, 70]}
    d.update(normal_dict)
    assert len(d) == 5 + 3
    assert d["array"] == [50, 60, 70]
    assert str(d) == str(d.to_dict())
    assert d.get("missing", "default") == "default"


# -- storage format -----------------------------------------------------------------------

SAFE_VALUES = [
    True,
    (1, "a"),
    {1, 2},
    frozenset({"x"}),
    b"\xff",
    complex(1, 2),
    datetime(2024, 1, 1, tzinfo=timezone.utc),
    date(2024, 1, 2),
    timedelta(hours=1),
    Decimal("1.10"),
    UUID(int=1),
    OrderedDict(a=1),
    [(1, 2)],  # JSON would turn the tuple into a list: pickled instead
    {1: "a"},  # JSON would turn the key into "1"
]


async def test_values_keep_their_types(make: Any, store: Any) -> None:
    d = make()
    plain = {"s": ("hé", b"sh\xc3\xa9"), "f": (float("inf"), b"finf"), "i": (-3, b"i-3")}
    for key, (value, stored) in plain.items():
        d[key] = value
        assert store.get(f"mykeyspace&&{key}") == stored
        assert d[key] == value
    for index, value in enumerate(SAFE_VALUES):
        d[str(index)] = value
        stored = store.get(f"mykeyspace&&{index}")
        assert stored[:1] == b"c"
        assert pickle.loads(stored[1:]) == value  # what redis-pydict reads
        got = d[str(index)]
        assert (got, type(got)) == (value, type(value))


async def test_reads_values_redis_pydict_wrote(make: Any, store: Any) -> None:
    written = {
        b"n": None,
        b"i42": 42,
        b"f0.5": 0.5,
        b"shello": "hello",
        b'd{"a": [1, 2]}': {"a": [1, 2]},
        b"l[1, null]": [1, None],
        b"c" + pickle.dumps(True): True,
        b"c" + pickle.dumps((datetime(2024, 1, 1), {1})): (datetime(2024, 1, 1), {1}),
    }
    for index, raw in enumerate(written):
        store.set(f"mykeyspace&&{index}", raw)
    d = make()
    assert [d[str(i)] for i in range(len(written))] == list(written.values())
    for raw in (b"x??", b"", b"d[1]", b"cnot a pickle"):
        store.set("mykeyspace&&bad", raw)
        with pytest.raises(CorruptValueError, match="mykeyspace&&bad"):
            d["bad"]


async def test_a_malicious_pickle_is_never_loaded(make: Any, store: Any) -> None:
    store.set("mykeyspace&&evil", b"c" + pickle.dumps(_Evil()))
    store.set("mykeyspace&&system", b"c" + pickle.dumps(os.system))
    d = make()
    for key in ("evil", "system"):
        with pytest.raises(CorruptValueError, match="not on the safe list"):
            d[key]
    with pytest.raises(CorruptValueError):
        d.to_dict()


async def test_namespaces_and_keys_never_overlap(make: Any, store: Any) -> None:
    a, a_amp, a_b, empty = make("a"), make("a&"), make("a&&b"), make("")
    a["x"] = 1
    a_amp["x"] = 2  # a&&&x
    a_b["x"] = 3  # a&&b&&x
    empty["x"] = 4  # &&x, as redis-pydict's default namespace
    assert sorted(store.keys("*")) == [b"&&x", b"a&&&x", b"a&&b&&x", b"a&&x"]
    assert (a.to_dict(), a_amp.to_dict(), a_b.to_dict()) == ({"x": 1}, {"x": 2}, {"x": 3})
    assert empty.to_dict() == {"x": 4}
    for key in ("b&&x", "&x", "a:b", "*", ""):
        with pytest.raises(InvalidParameterError):
            a[key] = 0
        assert key not in a
    assert a.setdefault("s", (1, 2)) == (1, 2)
    assert a.setdefault("s", 0) == (1, 2)
    with pytest.raises(InvalidParameterError):
        make(7)
    with pytest.raises(InvalidParameterError):
        a.items_matching(None)
    star = make("n*")
    store.set("nX&&k", b"i1")
    assert len(star) == 0
    a.clear()
    assert a_amp["x"] == 2
    assert a_b["x"] == 3


# -- events -------------------------------------------------------------------------------


def _collect(d: PyRedisDict, pattern: str, count: int, got: list[KeyNotification]) -> None:
    for event in d.subscribe_to_key_events(pattern, timeout=5):
        got.append(event)
        if len(got) == count:
            return


async def _subscribed(store: Any, thread: threading.Thread) -> None:
    thread.start()
    for _ in range(500):
        if int(store.execute_command("PUBSUB", "NUMPAT")) >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscriber never subscribed")


async def test_key_set_events_match_glob_patterns(make: Any, store: Any) -> None:
    writer, reader = make(), make()
    writer.set_notification_mode(True)
    writer.set_notification_id("myprocess1")
    got: list[KeyNotification] = []
    thread = threading.Thread(target=_collect, args=(reader, "key*", 4, got))
    await _subscribed(store, thread)
    writer["key"] = "Hello"
    writer["other"] = "not matched"
    writer.update({"key2": [1], "key3": (1, 2)})  # update() publishes too
    store.publish("event_mykeyspace&&key&&x", b"not a key of this namespace")
    store.publish("event_mykeyspace&&key4", b"peer")  # redis-pydict's events carry no value
    store.set("mykeyspace&&key4", b"i4")
    thread.join()
    assert [tuple(e) for e in got[:3]] == [
        ("key", "myprocess1", "Hello"),
        ("key2", "myprocess1", [1]),
        ("key3", "myprocess1", (1, 2)),
    ]
    assert got[3].key == "key4"
    assert got[3].notification_id == "peer"
    assert got[3].value in (None, 4)  # read from Redis when it arrives


async def test_events_of_redis_pydict_writers(make: Any, store: Any) -> None:
    reader = make()
    reader["k"] = "now"
    got: list[KeyNotification] = []
    thread = threading.Thread(target=_collect, args=(reader, "k", 2, got))
    await _subscribed(store, thread)
    store.publish("event_mykeyspace&&k", b"{odd id\nwith a newline")
    store.publish("event_mykeyspace&&k", b"writer-2")
    thread.join()
    assert got == [
        KeyNotification("k", "{odd id\nwith a newline", "now"),
        KeyNotification("k", "writer-2", "now"),
    ]


async def test_no_events_unless_enabled(make: Any, store: Any) -> None:
    writer = make()
    got: list[KeyNotification] = []
    thread = threading.Thread(target=_collect, args=(make(), "*", 1, got))
    await _subscribed(store, thread)
    writer["quiet"] = 1
    writer.set_notification_mode(True)
    writer["loud"] = 2
    thread.join()
    assert got == [KeyNotification("loud", "", 2)]


# -- clients ------------------------------------------------------------------------------


async def test_clients(backend: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("REDIS_URL", backend.url)
    with PyRedisDict(namespace="env") as d:  # no connection arguments: keyspace's settings
        d["a"] = 1
        assert isinstance(d, KeyspaceDict)
    with PyRedisDict(namespace="env", settings=RedisSettings(url=backend.url)) as d:
        assert d["a"] == 1
    if backend.server is not None:
        with PyRedisDict(host=backend.server.host, port=backend.server.port, namespace="env") as d:
            assert d["a"] == 1
            assert d.key_namespace == "env"
    client = backend.sync_client(decode_responses=True)
    with PyRedisDict(namespace="env", custom=client) as d:
        assert d["a"] == 1
        assert d.redis is client
    assert client.ping()  # a custom client is the caller's: never closed
