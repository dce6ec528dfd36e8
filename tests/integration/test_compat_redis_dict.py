"""``keyspace.compat.redis_dict``, used as a redis-dict user uses redis-dict.

Every case runs on the in-memory backend and on a real redis-server. Data "written by
redis-dict" is written here directly with redis-py, as redis-dict 3 writes it: the text
``"<TypeName>:<payload>"`` at ``<namespace>:<key>``, and for ``PythonRedisDict`` the sorted set
``redis-dict-insertion-order-<namespace>`` of Redis keys scored by insertion time.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import threading
import time as clock
from collections import OrderedDict, defaultdict
from collections.abc import Callable, MutableMapping
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any
from uuid import UUID

import pytest
from redis.exceptions import ResponseError

from keyspace import (
    CorruptValueError,
    InvalidParameterError,
    KeyspaceDict,
    OptionsError,
    RedisSettings,
    UnsupportedValueError,
)
from keyspace.compat.redis_dict import PythonRedisDict, RedisDict

ORDER = "redis-dict-insertion-order-{}"


@pytest.fixture
def store(backend: Any) -> Any:
    """A plain redis-py client (bytes) on the same data: what redis-dict's peers see."""
    return backend.sync_client()


@pytest.fixture
def make(backend: Any) -> Callable[..., Any]:
    """``make(namespace="ns", cls=RedisDict, **options)`` on a client like redis-dict's own
    (responses decoded to ``str``)."""

    def build(namespace: str = "ns", cls: type[Any] = RedisDict, **options: Any) -> Any:
        return cls(namespace=namespace, redis=backend.sync_client(decode_responses=True), **options)

    return build


class Person:
    """A custom type as redis-dict's documentation declares them."""

    def __init__(self, name: str, age: int) -> None:
        self.name, self.age = name, age

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Person) and vars(self) == vars(other)

    def encode(self) -> str:
        return json.dumps(vars(self))

    @classmethod
    def decode(cls, encoded: str) -> Person:
        return cls(**json.loads(encoded))


class Color(IntEnum):
    RED = 1


# -- the README ---------------------------------------------------------------------------


async def test_readme_example(make: Any, store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    dic = make("bar")
    assert "foo" not in dic
    dic["foo"] = 42
    assert dic["foo"] == 42
    assert "foo" in dic
    dic["baz"] = "a string"
    print(dic)
    assert ast.literal_eval(capsys.readouterr().out) == {"foo": 42, "baz": "a string"}
    assert sorted(store.keys("*")) == [b"bar:baz", b"bar:foo"]


async def test_every_dict_method_and_subscripting(make: Any) -> None:
    assert set(dir(dict)) <= set(dir(RedisDict))
    assert set(dir(dict)) <= set(dir(PythonRedisDict))
    typed = RedisDict[str, Any]
    assert issubclass(typed, RedisDict)
    d = make(cls=typed)
    assert issubclass(typed, MutableMapping)
    assert issubclass(typed, KeyspaceDict)
    d.update({"a": 1, "b": 2})
    assert d.copy() == {"a": 1, "b": 2} == d
    assert d | {"c": 3} == {"a": 1, "b": 2, "c": 3}
    assert {"a": 0, "z": 9} | d == {"a": 1, "b": 2, "z": 9}
    d |= {"c": 3}
    assert sorted(d) == ["a", "b", "c"]
    assert sorted(d.keys()) == ["a", "b", "c"]
    assert sorted(d.values()) == [1, 2, 3]
    assert len(d) == len(d.items()) == 3
    assert d.get("zz") is None
    assert d.get("zz", 0) == 0
    assert d.fromkeys(["x", "y"], 0) is d
    assert d["x"] == d["y"] == 0
    d.clear()
    assert len(d) == 0
    assert d != {"a": 1}


# -- values -------------------------------------------------------------------------------

VALUES = [
    ("hello", "str:hello"),
    (42, "int:42"),
    (0.5, "float:0.5"),
    (True, "bool:True"),
    (None, "NoneType:None"),
    ([1, "a", None], 'list:[1, "a", null]'),
    ({"a": 1}, 'dict:{"a": 1}'),
    ((1, "a"), 'tuple:[1, "a"]'),
    ({1}, "set:[1]"),
    (frozenset({"x"}), 'frozenset:["x"]'),
    (datetime(2024, 1, 1, 12, 30, 45), "datetime:2024-01-01T12:30:45"),
    (datetime(2024, 1, 1, tzinfo=timezone.utc), "datetime:2024-01-01T00:00:00+00:00"),
    (date(2024, 1, 2), "date:2024-01-02"),
    (time(1, 2, 3), "time:01:02:03"),
    (timedelta(hours=1), "timedelta:3600.0"),
    (Decimal("1.10"), "Decimal:1.10"),
    (complex(1, 2), "complex:1.0,2.0"),
    (b"\xff\x00", "bytes:/wA="),
    (UUID(int=1), "UUID:00000000-0000-0000-0000-000000000001"),
    (OrderedDict([(1, "a"), ("b", 2)]), 'OrderedDict:[[1, "a"], ["b", 2]]'),
    (defaultdict(int, {"a": 1}), 'defaultdict:{"a": 1}'),
    ([datetime(2024, 1, 1)], 'list:[{"__type__": "datetime", "value": "2024-01-01T00:00:00"}]'),
    ({"t": (1, 2)}, 'dict:{"t": {"__type__": "tuple", "value": "[1, 2]"}}'),
    (
        {"s": {b"x"}},
        'dict:{"s": {"__type__": "set", "value": "[{\\"__type__\\": \\"bytes\\", '
        '\\"value\\": \\"eA==\\"}]"}}',
    ),
]


@pytest.mark.parametrize(("value", "stored"), VALUES, ids=[s.partition(":")[0] for _, s in VALUES])
async def test_values_keep_their_types_in_redis_dicts_format(
    make: Any, store: Any, value: Any, stored: str
) -> None:
    d = make()
    d["k"] = value
    assert store.get("ns:k") == stored.encode()
    got = d["k"]
    assert got == value
    assert type(got) is type(value)


READS = [
    ("list:[1, [2, 3]]", [1, [2, 3]]),  # redis-dict wrote a nested tuple as a list
    (
        'dict:{"when": {"__type__": "datetime", "value": "2024-01-01T12:30:45"}}',
        {"when": datetime(2024, 1, 1, 12, 30, 45)},
    ),
    ('list:[{"__type__": "set", "value": "[1, 2]"}]', [{1, 2}]),
    ('set:["a"]', {"a"}),
    ("bool:False", False),
    ('OrderedDict:[["b", 1], ["a", 2]]', OrderedDict([("b", 1), ("a", 2)])),
    ("timedelta:90.5", timedelta(seconds=90.5)),
    (
        "datetime:2024-01-01T12:30:45+02:00",
        datetime(2024, 1, 1, 12, 30, 45, tzinfo=timezone(timedelta(hours=2))),
    ),
    ("bytes:aGVsbG8=", b"hello"),
    ("str:a:b", "a:b"),
    ("str:", ""),
    ("float:inf", math.inf),
    ("int:-7", -7),
]


async def test_reads_values_redis_dict_wrote(make: Any, store: Any) -> None:
    d = make()
    for index, (raw, _) in enumerate(READS):
        store.set(f"ns:{index}", raw)
    store.set("ns:dd", 'defaultdict:{"a": [1]}')
    store.set("ns:nan", "float:nan")
    for index, (_, expected) in enumerate(READS):
        got = d[str(index)]
        assert (got, type(got)) == (expected, type(expected)), READS[index]
    assert list(d["5"]) == ["b", "a"]  # the OrderedDict keeps its order
    dd = d["dd"]
    assert type(dd) is defaultdict
    assert dd == {"a": [1]}
    assert dd["missing"] is None
    assert math.isnan(d["nan"])


async def test_unsupported_values_are_refused_before_writing(make: Any, store: Any) -> None:
    d = make()
    bad = [
        Person("ann", 3),  # not registered: redis-dict stored str(value)
        {1: "a"},  # JSON would turn the key into "1"
        [{"__type__": "int", "value": "5"}],  # would read back as 5
        Color.RED,
        [object()],
    ]
    for value in bad:
        with pytest.raises(UnsupportedValueError):
            d["k"] = value
    with pytest.raises(TypeError):  # UnsupportedValueError is a TypeError too
        d.update({"ok": 1, "k": {2: "b"}})
    with pytest.raises(UnsupportedValueError):
        d.setdefault("k", Person("bob", 4))
    assert store.keys("*") == []


async def test_unreadable_data_raises_corrupt_value(make: Any, store: Any) -> None:
    d = make()
    for raw in ("Person:{}", "no prefix", "int:abc", 'list:["unclosed'):
        store.set("ns:bad", raw)
        with pytest.raises(CorruptValueError, match="ns:bad"):
            d["bad"]


async def test_extends_type_is_scoped_to_the_instance(make: Any, store: Any) -> None:
    d, other = make(), make()
    d.extends_type(Person)
    d["ann"] = Person("ann", 3)
    assert store.get("ns:ann") == b'Person:{"name": "ann", "age": 3}'
    assert d["ann"] == Person("ann", 3)
    d["team"] = [Person("bob", 4)]
    assert d["team"] == [Person("bob", 4)]
    with pytest.raises(CorruptValueError, match="extends_type"):
        other["ann"]  # redis-dict's registry was global; this one is the mapping's
    with pytest.raises(UnsupportedValueError):
        other["x"] = Person("x", 1)

    other.extends_type(Person, encode=lambda p: f"{p.name}/{p.age}", decode=_slash_person)
    other["x"] = Person("x", 1)
    assert store.get("ns:x") == b"Person:x/1"
    assert other["x"] == Person("x", 1)
    assert "Person" in other.encoding_registry
    assert "Person" in other.decoding_registry

    class Plain:
        pass

    with pytest.raises(NotImplementedError, match="encode"):
        d.extends_type(Plain)
    with pytest.raises(NotImplementedError, match="to_text"):
        d.new_type_compliance(Person, encode_method_name="to_text")
    d.custom_encode_method, d.custom_decode_method = "encode", "decode"
    d.extends_type(Person, encoding_method_name="encode", decoding_method_name="decode")


def _slash_person(text: str) -> Person:
    name, age = text.split("/")
    return Person(name, int(age))


# -- expiry and batching --------------------------------------------------------------------


async def test_expire_preserve_and_get_ttl(make: Any) -> None:
    d = make(expire=60)
    d["a"] = 1
    assert 55 <= d.get_ttl("a") <= 60
    assert d.get_ttl("missing") is None
    with d.expire_at(timedelta(seconds=30)):
        d["b"] = 1
    assert 25 <= d.get_ttl("b") <= 30
    d.expire = None
    assert d.expire is None
    d["c"] = 1
    assert d.get_ttl("c") is None
    d.expire = timedelta(minutes=2)
    d["c"] = 2
    assert 110 <= d.get_ttl("c") <= 120

    kept = make(expire=10, preserve_expiration=True)
    assert kept.preserve_expiration
    with kept.expire_at(100):
        kept["k"] = 1
    kept["k"] = 2  # an overwrite keeps the entry's TTL
    assert kept["k"] == 2
    assert kept.get_ttl("k") > 10
    kept["new"] = 1  # a new entry gets the default
    assert kept.get_ttl("new") <= 10
    kept.preserve_expiration = False
    kept["k"] = 3
    assert kept.get_ttl("k") <= 10


async def test_expire_at_and_pipeline_belong_to_their_thread(make: Any) -> None:
    """redis-dict swapped ``self.expire`` and ``self.redis`` for the whole instance."""
    d = make()
    inside, written = threading.Event(), threading.Event()

    def other_thread() -> None:
        inside.wait()
        d["theirs"] = 2
        written.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with d.expire_at(100), d.pipeline():
        d["mine"] = 1
        inside.set()
        written.wait(10)
        assert d["theirs"] == 2  # sent at once, not into this thread's pipeline
        assert "mine" not in d  # still buffered
    thread.join()
    assert d["mine"] == 1
    assert d.get_ttl("mine") is not None
    assert d.get_ttl("theirs") is None  # not this thread's expire_at()


async def test_pipeline_sends_nothing_when_the_block_raises(make: Any) -> None:
    d = make()

    def failing_block() -> None:
        with d.pipeline():
            d["a"] = 1
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        failing_block()
    assert "a" not in d


# -- redis-dict's extras ------------------------------------------------------------------


async def test_chains_and_prefix_reads(make: Any, store: Any) -> None:
    d = make()
    d.chain_set(["parent", "child1"], "a")
    d.chain_set(["parent", "child2"], "b")
    d["parent1"] = "c"
    assert store.get("ns:parent:child1") == b"str:a"
    assert d.chain_get(["parent", "child1"]) == "a"
    assert sorted(d.multi_get("parent")) == ["a", "b", "c"]
    assert sorted(d.multi_chain_get(["parent", "child"])) == ["a", "b"]
    assert d.multi_dict("parent:") == {"child1": "a", "child2": "b"}
    assert list(d) == ["parent1"]  # chain entries belong to the namespace "ns:parent"
    assert RedisDict(namespace="ns:parent", redis=store).to_dict() == {"child1": "a", "child2": "b"}
    d.chain_del(["parent", "child1"])
    d.chain_del(["parent", "child1"])  # missing: no error by default
    with pytest.raises(KeyError):
        d.chain_get(["parent", "child1"])
    assert d.multi_del("parent") == 2
    assert d.multi_get("parent") == []
    assert d.multi_dict("nothing") == {}
    with pytest.raises(InvalidParameterError):
        d.chain_set([], 1)
    with pytest.raises(InvalidParameterError):
        d.multi_get(1)
    strict = make(raise_key_error_delete=True)
    with pytest.raises(KeyError, match="parent:child2"):
        strict.chain_del(["parent", "child2"])


async def test_prefix_reads_escape_glob_characters(make: Any, store: Any) -> None:
    d = make()
    d["a1"] = 1
    d["ab"] = 2
    store.set("ns:a[b]", "int:3")  # written by someone else: a literal bracket
    assert d.multi_get("a[") == [3]
    assert d.multi_del("a?") == 0


async def test_setdefault_and_pop_are_atomic(make: Any) -> None:
    d = make()
    barrier = threading.Barrier(10)
    got: list[Any] = []

    def racer(value: int) -> None:
        barrier.wait()
        got.append(d.setdefault("k", value))

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(got)) == 1
    assert d["k"] == got[0]

    popped: list[Any] = []

    def popper() -> None:
        barrier.wait()
        popped.append(d.pop("k", None))

    threads = [threading.Thread(target=popper) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(popped, key=str) == [got[0]] + [None] * 9
    with pytest.raises(KeyError):
        d.pop("k")


async def test_redis_info(make: Any, backend: Any) -> None:
    d = make()
    if backend.is_memory:
        with pytest.raises(ResponseError):  # the in-memory Redis has no INFO
            d.get_redis_info()
    else:
        assert "redis_version" in d.get_redis_info()


# -- redis-dict's defects, fixed ----------------------------------------------------------


async def test_nested_iteration_over_one_instance(make: Any) -> None:
    d = make()
    d.update(a=1, b=2, c=3)
    pairs = [(x, y) for x in d for y in d]
    assert sorted(pairs) == [(x, y) for x in "abc" for y in "abc"]


async def test_popitem_in_a_namespace_among_many_keys(make: Any, store: Any) -> None:
    for start in range(0, 3000, 1000):
        store.mset({f"other:{i}": 1 for i in range(start, start + 1000)})
    d = make()
    d["only"] = 1
    assert d.popitem() == ("only", 1)
    with pytest.raises(KeyError):
        d.popitem()
    assert store.dbsize() == 3000


async def test_namespaces_never_overlap(make: Any, store: Any) -> None:
    outer, inner = make("ns"), make("ns:sub")
    inner["x"] = 1
    outer["y"] = 2
    assert outer.to_dict() == {"y": 2}
    assert inner.to_dict() == {"x": 1}
    assert len(outer) == 1
    assert "sub:x" not in outer
    with pytest.raises(InvalidParameterError):
        outer["sub:x"] = 3
    outer.clear()
    assert inner["x"] == 1

    star, other = make("ns*"), make("nsX")
    other["z"] = 1
    star["s"] = 2
    assert list(star) == ["s"]
    assert len(star) == 1
    star.clear()
    assert other["z"] == 1
    assert store.exists("nsX:z")
    with pytest.raises(InvalidParameterError):
        star["a*"] = 1


async def test_a_client_in_use_is_left_as_it_is(backend: Any) -> None:
    client = backend.sync_client()  # bytes, as the rest of the application wants them
    client.set("app:flag", "1")
    assert client.get("app:flag") == b"1"  # a connection of the pool is in use now
    pool_kwargs = client.connection_pool.connection_kwargs
    kwargs = dict(pool_kwargs)
    with RedisDict(namespace="ns", redis=client) as d:
        d["a"] = "text"
        assert d["a"] == "text"
        assert d.redis is client is d.get_redis
        assert list(d.items()) == [("a", "text")]
    assert pool_kwargs == kwargs
    assert client.get("app:flag") == b"1"  # still bytes, and still open


async def test_update_with_pairs_and_keywords(make: Any) -> None:
    d = make()
    d.update([("a", 1), ("b", 2)], c=3)
    d.update(d={"x": [1]})
    source = make("src")
    source["e"] = 5
    d.update(source)
    assert d.to_dict() == {"a": 1, "b": 2, "c": 3, "d": {"x": [1]}, "e": 5}
    with pytest.raises(ValueError, match="length"):
        d.update([("a", 1, 2)])


async def test_deleting_a_missing_key(make: Any) -> None:
    lenient, strict = make(), make(raise_key_error_delete=True)
    del lenient["missing"]  # redis-dict's default for distributed systems
    strict["k"] = 1
    del strict["k"]
    with pytest.raises(KeyError):
        del strict["k"]


async def test_clients_from_keywords_and_settings(backend: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("REDIS_URL", backend.url)
    with RedisDict(namespace="env") as d:  # no client: keyspace's settings
        d["a"] = 1
    with RedisDict(namespace="env", settings=RedisSettings(url=backend.url)) as d:
        assert d["a"] == 1
    if backend.server is not None:
        server = backend.server
        with RedisDict(namespace="env", host=server.host, port=server.port) as built:
            assert built["a"] == 1
            assert built.redis.get("env:a") == "int:1"  # decoded, as redis-dict's client
    with pytest.raises(OptionsError, match="host"):
        RedisDict(redis=backend.sync_client(), host="localhost")
    with pytest.raises(InvalidParameterError, match="namespace"):
        RedisDict(namespace="")  # the client it built is closed again


# -- PythonRedisDict ----------------------------------------------------------------------


async def test_python_redis_dict_is_insertion_ordered(make: Any, store: Any) -> None:
    d = make(cls=PythonRedisDict)
    for key in "cab":
        d[key] = key
    d["c"] = "again"  # an overwrite keeps its place
    d.update([("z", 1), ("y", 2)], x=3)
    assert d.setdefault("w", 0) == 0
    assert d.setdefault("c", 0) == "again"
    assert list(d) == ["c", "a", "b", "z", "y", "x", "w"]
    assert list(reversed(d)) == ["w", "x", "y", "z", "b", "a", "c"]
    assert list(d.items())[:2] == [("c", "again"), ("a", "a")]
    assert len(d) == 7
    assert d.popitem() == ("w", 0)  # the last inserted
    assert d.pop("a") == "a"
    del d["b"]
    with pytest.raises(KeyError):
        del d["b"]
    assert list(d) == ["c", "z", "y", "x"]
    assert d.pop("missing", 0) == 0
    d.delete("x")
    with pytest.raises(KeyError):
        d.delete("x")
    assert store.zcard(ORDER.format("ns")) == 3
    d.clear()
    assert len(d) == 0
    assert not store.exists(ORDER.format("ns"))
    with pytest.raises(KeyError):
        d.popitem()
    for name in ("multi_get", "multi_dict", "multi_del", "multi_chain_get"):
        with pytest.raises(NotImplementedError):
            getattr(d, name)("x")


async def test_python_redis_dict_drops_expired_entries_from_its_order(
    make: Any, store: Any
) -> None:
    d = make(cls=PythonRedisDict)
    d["a"] = 1
    d.set("gone", 2, ttl=0.05)
    d["b"] = 3
    d.set("back", 4, ttl=0.05)
    await asyncio.sleep(0.15)
    assert len(d) == 2  # redis-dict counted the expired entries
    assert list(d) == ["a", "b"]
    assert store.zrange(ORDER.format("ns"), 0, -1) == [b"ns:a", b"ns:b"]  # pruned
    d["c"] = 5
    d.set("again", 6, ttl=0.05)
    await asyncio.sleep(0.15)
    d["again"] = 7  # expired, then set again: a new insertion goes to the end
    assert list(d) == ["a", "b", "c", "again"]
    assert d.popitem() == ("again", 7)
    d.set("last", 8, ttl=0.05)
    await asyncio.sleep(0.15)
    assert d.popitem() == ("c", 5)  # the expired last entry is skipped


async def test_python_redis_dict_pruning_spares_recreated_entries(make: Any, store: Any) -> None:
    d = make(cls=PythonRedisDict)
    d["x"] = 1
    [(member, score)] = store.zrange(ORDER.format("ns"), 0, -1, withscores=True)
    # A walk saw ns:x missing, and a writer recreated it before the walk pruned it.
    d._executor.run(d._prune([(member, score)]))
    assert store.zscore(ORDER.format("ns"), "ns:x") == score
    assert list(d) == ["x"]


async def test_python_redis_dict_reads_redis_dicts_order(make: Any, store: Any) -> None:
    now = clock.time()
    store.set("ns:second", "int:2")
    store.set("ns:first", "int:1")
    store.set("ns:a:b", "int:3")  # a key chain redis-dict recorded: not an entry here
    store.zadd(ORDER.format("ns"), {"ns:first": now, "ns:second": now + 1, "ns:a:b": now + 2})
    d = make(cls=PythonRedisDict)
    assert list(d.items()) == [("first", 1), ("second", 2)]
    assert d.popitem() == ("second", 2)
    assert store.get("ns:a:b") == b"int:3"
    with d.pipeline():
        d["x"] = 1
        del d["never"]  # inside a pipeline, a missing key cannot be known
    assert list(d) == ["first", "x"]
