"""Client-side caching (``REDIS_CLIENT_CACHE``) against a real redis-server.

Only real servers can run these: fakeredis has no ``CLIENT TRACKING``, and redis.asyncio has
no client-side cache, so every case here is sync and on the private ``redis-server``.

redis-py enables its cache only on Redis 7.4 or later, although Redis has sent the
invalidations it relies on since 6.0. Where the private server is older (Debian's 7.0, say),
the ``cached_url`` fixture lowers redis-py's version floor for the test, so that keyspace's
behaviour is checked against a server that really tracks keys; ``test_redis_py_wants_7_4``
checks the floor itself. Whether a read was served from the cache is read off the server's
``INFO commandstats``: a cached read never reaches it.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import BaseModel
from redis.connection import CacheProxyConnection

from keyspace import (
    Cluster,
    HashKey,
    Key,
    ListKey,
    RedisSettings,
    SetKey,
    SettingsError,
    SortedSetKey,
    SyncRepository,
    WrongTypeError,
)

pytestmark = pytest.mark.redis_server

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "caching.md"
BENCHMARKS = ROOT / "benchmarks"
WAIT = 5.0  # seconds an invalidation or a background expiry may take before a test fails


class Profile(BaseModel):
    bio: str = ""
    visits: int = 0


class Flags(Cluster, prefix="flags"):
    banner: Key[str] = "none"
    rollout: Key[int] = 0
    short: Key[int] = Key(default=-1, ttl=timedelta(milliseconds=100))
    sliding: Key[int] = Key(default=-1, ttl=60, sliding=True)
    profile: HashKey[Profile]
    tags: ListKey[str]
    members: SetKey[int]
    ranks: SortedSetKey[str]


class Root(Cluster, prefix="cc"):
    flags: Flags


def _version(server: Any) -> tuple[int, ...]:
    with redis.Redis(host=server.host, port=server.port, decode_responses=True) as client:
        return tuple(int(part) for part in client.info("server")["redis_version"].split("."))


@pytest.fixture
def server_url(redis_server: Any) -> str:
    """The private server's URL, emptied before the test."""
    assert redis_server.port != 6379
    with redis.Redis(host=redis_server.host, port=redis_server.port) as client:
        client.flushall()
    return str(redis_server.url)


@pytest.fixture
def cached_url(server_url: str, redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """``server_url``, with redis-py's 7.4 floor lowered when the server is older."""
    if _version(redis_server) < (7, 4):
        monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "6.0.0")
    return server_url


@pytest.fixture
def observer(server_url: str) -> Iterator[redis.Redis]:
    """A plain client, for the server's own counts and for writes of another client."""
    with redis.Redis.from_url(server_url) as client:
        yield client


@pytest.fixture
def cached(cached_url: str) -> Iterator[SyncRepository[Root]]:
    """A repository on a caching client; its socket timeout keeps a stuck read from hanging."""
    settings = RedisSettings(url=cached_url, client_cache=True, socket_timeout=5)
    with SyncRepository(Root, settings=settings) as repo:
        yield repo


@pytest.fixture
def plain(server_url: str) -> Iterator[SyncRepository[Root]]:
    """A repository of the same declaration on a client without a cache: another client."""
    with SyncRepository(Root, settings=RedisSettings(url=server_url)) as repo:
        yield repo


def calls(observer: redis.Redis, command: str) -> int:
    """How many times the server has executed ``command`` since it started."""
    stats = observer.info("commandstats")
    return int(stats.get(f"cmdstat_{command.lower()}", {}).get("calls", 0))


def eventually(check: Callable[[], bool]) -> bool:
    """Whether ``check()`` becomes true within ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


# --- served from memory --------------------------------------------------------------------


def test_repeated_reads_are_served_from_the_cache(
    cached: SyncRepository[Root], observer: redis.Redis
) -> None:
    cached.flags.banner.set("sale")
    before = calls(observer, "GET")

    values = [cached.flags.banner.get() for _ in range(50)]

    assert values == ["sale"] * 50
    assert calls(observer, "GET") - before == 1  # the first read; the other 49 from memory


def test_every_kind_of_read_is_cached_and_fresh_after_a_write(
    cached: SyncRepository[Root], plain: SyncRepository[Root], observer: redis.Redis
) -> None:
    flags = cached.flags
    flags.profile.set(Profile(bio="hi", visits=1))
    flags.tags.set(["a", "b"])
    flags.members.set({1, 2})
    flags.ranks.set({"x": 1.0})
    reads: dict[str, Callable[[], Any]] = {
        "HGETALL": flags.profile.get,
        "LRANGE": flags.tags.get,
        "SMEMBERS": flags.members.get,
        "ZRANGE": flags.ranks.get,
        "TYPE": lambda: flags.tags.the_type,
    }
    first = {name: read() for name, read in reads.items()}
    counts = {name: calls(observer, name) for name in reads}

    again = {name: read() for name, read in reads.items()}

    assert again == first
    assert {name: calls(observer, name) for name in reads} == counts
    plain.flags.profile.set_field("visits", 2)
    plain.flags.tags.push("c")
    plain.flags.members.add(3)
    plain.flags.ranks.add("y", 2.0)
    assert eventually(lambda: flags.profile.get() == Profile(bio="hi", visits=2))
    assert eventually(lambda: flags.tags.get() == ["a", "b", "c"])
    assert eventually(lambda: flags.members.get() == {1, 2, 3})
    assert eventually(lambda: flags.ranks.get() == {"x": 1.0, "y": 2.0})


def test_a_missing_key_is_not_cached(cached: SyncRepository[Root], observer: redis.Redis) -> None:
    before = calls(observer, "GET")

    assert [cached.flags.banner.get() for _ in range(3)] == ["none"] * 3

    assert calls(observer, "GET") - before == 3  # redis-py caches no empty reply


def test_a_cached_value_is_a_fresh_object_each_time(cached: SyncRepository[Root]) -> None:
    cached.flags.profile.set(Profile(bio="a"))
    first = cached.flags.profile.get()
    first.bio = "changed here"

    assert cached.flags.profile.get() == Profile(bio="a")


def test_decoded_replies_are_cached_too(cached_url: str, observer: redis.Redis) -> None:
    settings = RedisSettings(url=cached_url, client_cache=True, decode_responses=True)
    with SyncRepository(Root, settings=settings) as repo:
        repo.flags.banner.set("é")
        before = calls(observer, "GET")
        assert [repo.flags.banner.get() for _ in range(3)] == ["é"] * 3
        assert calls(observer, "GET") - before == 1


def test_multi_key_reads_are_invalidated_by_any_of_their_keys(
    cached: SyncRepository[Root], observer: redis.Redis
) -> None:
    client = cached.client
    observer.mset({"cc:a": "1", "cc:b": "2"})
    assert client.execute_command("MGET", "cc:a", "cc:b") == [b"1", b"2"]
    assert client.execute_command("EXISTS", "cc:a", "cc:b", "cc:c") == 2
    before = calls(observer, "MGET") + calls(observer, "EXISTS")
    assert client.execute_command("MGET", "cc:a", "cc:b") == [b"1", b"2"]
    assert calls(observer, "MGET") + calls(observer, "EXISTS") == before  # from the cache

    observer.set("cc:c", "3")
    observer.set("cc:b", "20")

    assert eventually(lambda: client.execute_command("MGET", "cc:a", "cc:b") == [b"1", b"20"])
    assert eventually(lambda: client.execute_command("EXISTS", "cc:a", "cc:b", "cc:c") == 3)


# --- invalidation ----------------------------------------------------------------------------


def test_another_clients_write_reaches_the_cached_reader(
    cached: SyncRepository[Root], plain: SyncRepository[Root], observer: redis.Redis
) -> None:
    plain.flags.rollout.set(10)
    assert cached.flags.rollout.get() == 10  # cached now
    gets = calls(observer, "GET")
    assert cached.flags.rollout.get() == 10
    assert calls(observer, "GET") == gets

    plain.flags.rollout.set(50)

    # The invalidation travels apart from the write's reply: the reader sees it from its
    # next command after it arrives, typically the very next read.
    assert eventually(lambda: cached.flags.rollout.get() == 50)
    assert calls(observer, "GET") > gets  # read again from the server
    plain.flags.rollout.delete()
    assert eventually(lambda: cached.flags.rollout.get() == 0)  # the declared default


def test_own_writes_are_seen_by_the_next_read(
    cached: SyncRepository[Root], observer: redis.Redis
) -> None:
    flags = cached.flags
    for value in range(20):
        flags.rollout.set(value)
        assert flags.rollout.get() == value  # the invalidation came on the same connection
        assert flags.rollout.get() == value  # and the new value is cached again
    flags.banner.set("a")
    assert flags.banner.get() == "a"
    flags.clear()
    assert (flags.banner.get(), flags.rollout.get()) == ("none", 0)
    assert observer.keys("cc:*") == []


def test_reads_in_transactions_and_pipelines_never_come_from_the_cache(
    cached: SyncRepository[Root], observer: redis.Redis
) -> None:
    flags = cached.flags
    flags.rollout.set(1)
    flags.banner.set("server")
    assert (flags.rollout.get(), flags.banner.get()) == (1, "server")
    # Make both cached entries stale by hand, as if their invalidations were still on the way.
    cache = cached.client.get_cache()
    assert cache is not None
    stale = {("cc:flags:rollout",): b"7", ("cc:flags:banner",): b'"old"'}
    for entry in cache.collection.values():
        entry.cache_value = stale[entry.cache_key.redis_keys]
    assert (flags.rollout.get(), flags.banner.get()) == (7, "old")  # plain reads: the cache

    assert cached.update([flags.rollout], lambda n: [n + 1]) == [2]  # read under WATCH: 1
    with cached.pipeline() as pipe:
        banner = pipe.flags.banner.get()
    assert banner.result == "server"
    assert flags.load().banner == "server"
    assert observer.get("cc:flags:rollout") == b"2"


def test_sliding_reads_always_reach_the_server(
    cached: SyncRepository[Root], plain: SyncRepository[Root], observer: redis.Redis
) -> None:
    cached.flags.sliding.set(5)
    observer.pexpire("cc:flags:sliding", 1_000)
    before = calls(observer, "GETEX")

    assert [cached.flags.sliding.get() for _ in range(3)] == [5, 5, 5]

    assert calls(observer, "GETEX") - before == 3  # GETEX renews the TTL: never cached
    assert observer.pttl("cc:flags:sliding") > 50_000
    plain.flags.sliding.set(6)
    assert cached.flags.sliding.get() == 6  # no cached copy to wait for


def test_an_expired_key_reads_as_its_default_once_redis_deletes_it(
    cached: SyncRepository[Root], observer: redis.Redis
) -> None:
    cached.flags.short.set(3)  # 100 ms TTL
    assert cached.flags.short.get() == 3  # cached now

    # Until Redis deletes the expired key, nothing tells the client; its background expiry
    # does (DBSIZE counts expired keys until then, and touches none).
    assert eventually(lambda: observer.dbsize() == 0)
    assert eventually(lambda: cached.flags.short.get() == -1)


def test_wrong_type_is_named_and_leaves_no_stuck_read(
    cached_url: str, observer: redis.Redis
) -> None:
    # No retries: a read stuck waiting for a reply raises TimeoutError instead of being
    # rescued by a reconnection.
    settings = RedisSettings(url=cached_url, client_cache=True, socket_timeout=2, retries=0)
    observer.hset("cc:flags:banner", "f", "v")

    with SyncRepository(Root, settings=settings) as cached:
        for _ in range(3):
            with pytest.raises(WrongTypeError, match="cc:flags:banner"):
                cached.flags.banner.get()

        observer.delete("cc:flags:banner")
        cached.flags.banner.set("ok")
        assert cached.flags.banner.get() == "ok"
        assert cached.flags.rollout.get() == 0


def test_a_dropped_connection_empties_the_cache(
    cached: SyncRepository[Root], observer: redis.Redis
) -> None:
    cached.flags.banner.set("kept")
    assert cached.flags.banner.get() == "kept"
    cache = cached.client.get_cache()
    assert cache is not None
    assert cache.size == 1

    observer.client_kill_filter(_type="normal", skipme=True)

    assert cached.flags.banner.get() == "kept"  # reconnected (and tracking again)
    observer.set("cc:flags:banner", '"changed"')
    assert eventually(lambda: cached.flags.banner.get() == "changed")


def test_events_are_read_through_a_repository_without_the_cache(
    cached_url: str, observer: redis.Redis
) -> None:
    settings = RedisSettings(url=cached_url, client_cache=True)
    with SyncRepository(Root, settings=settings, publish_events=True) as cached:
        with pytest.raises(SettingsError, match=r"REDIS_CLIENT_CACHE: .* cannot subscribe"):
            next(cached.flags.events(timeout=1))
        with observer.pubsub() as pubsub:
            pubsub.psubscribe("*")
            assert pubsub.get_message(timeout=5) is not None  # subscribed
            cached.flags.banner.set("news")
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None  # a caching repository still publishes its writes
    assert b"cc:flags:banner" in message["channel"]


# --- the benchmark's cached cases ------------------------------------------------------------


@pytest.fixture
def bench_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """``benchmarks/bench_cache.py``, imported as the script imports its helpers: by name."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("bench_cache", "_harness", "_target"):
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)
    before = set(sys.modules)
    yield importlib.import_module("bench_cache")
    for name in set(sys.modules) - before:  # the benchmark modules this test imported
        del sys.modules[name]


@pytest.mark.parametrize("delay_us", [0, 200])
def test_the_benchmark_counts_cache_hits_on_the_server(
    bench_cache: types.ModuleType,
    server_url: str,
    observer: redis.Redis,
    tmp_path: Path,
    delay_us: int,
) -> None:
    # Checks the harness path of the cached cases (server-side counts, the delaying proxy),
    # never the timings; tests/test_benchmarks_smoke.py can only run the uncached pair.
    output = tmp_path / "cache.json"
    argv = ["--smoke", "--url", server_url, "--json", str(output), "--delay-us", str(delay_us)]

    assert bench_cache.main(argv) == 0

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["parameters"]["traffic_counted_on"] == "server (INFO commandstats)"
    assert report["parameters"]["delay_us_each_way"] == delay_us
    traffic = {
        case["name"]: (case["keyspace"]["commands_per_op"], case["raw"]["commands_per_op"])
        for case in report["cases"]
    }
    cached_after_writes, plain_after_writes = traffic.pop("set by another + get")
    assert traffic == {
        "get, no cache": ({"GET": 1}, {"GET": 1}),
        "get, cache vs no cache": ({}, {"GET": 1}),
        "get, cache vs raw": ({}, {"GET": 1}),
        "get, cache vs raw cached": ({}, {}),
    }
    assert plain_after_writes == {"GET": 1, "SET": 1}
    # Each read misses, except one that overtook its invalidation (served stale, no GET).
    assert cached_after_writes["SET"] == 1
    assert 0.5 <= cached_after_writes["GET"] <= 1
    assert 0 <= report["consistency"]["stale_reads"] <= bench_cache.SMOKE_OPS
    assert observer.keys("ksbench:*") == []


# --- the documented example and the server version ---------------------------------------------

_SKIPPED_BLOCK = re.compile(r"<!-- skip-test -->\s*\n```python\n(.*?)\n```", re.DOTALL)


def test_the_docs_examples_run_on_a_real_server(
    cached_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocks = _SKIPPED_BLOCK.findall(DOCS.read_text(encoding="utf-8"))
    assert blocks, "docs/caching.md has no example that needs a real server"
    monkeypatch.setenv("REDIS_URL", cached_url)
    monkeypatch.chdir(tmp_path)
    # pydantic resolves the example's annotations through its module.
    module = types.ModuleType("docs_caching_on_redis")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), module.__dict__)


def test_redis_py_wants_7_4(server_url: str, redis_server: Any) -> None:
    with RedisSettings(url=server_url, client_cache=True).sync_client() as client:
        if _version(redis_server) >= (7, 4):
            assert client.ping()
        else:
            with pytest.raises(redis.ConnectionError, match=r"Redis 7\.4 or later"):
                client.ping()
