"""The keyspace API on a real three-primary Redis Cluster, for both flavours.

Each test body drives an async :class:`Repository` or a :class:`SyncRepository` (the
``flavour`` parameter): :func:`io` awaits what the async flavour returns and passes the sync
flavour's results through, so one body checks both. Data is planted so that it lands on all
three primaries (asserted), and what Redis holds is checked per node with plain clients.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import redis
import redis.asyncio
from pydantic import BaseModel
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from keyspace import (
    AsyncKeyspaceDict,
    Cluster,
    ConflictError,
    Counter,
    CrossSlotError,
    HashKey,
    Key,
    KeyEvent,
    KeyspaceDict,
    ListKey,
    PipelineError,
    RedisSettings,
    Repository,
    SetKey,
    SortedSetKey,
    SyncRepository,
    WrongTypeError,
)
from servers import SHARED_REDIS_PORT, ClusterDeployment

SUBSCRIBE_TIMEOUT = 10.0  # seconds for a subscriber to reach the nodes before writes start


class Profile(BaseModel):
    bio: str = ""
    level: int = 0


class User(Cluster, prefix="user:{user_id}", ttl=120):
    user_id: int
    age: Key[int] = 0
    name: Key[str] = "anon"
    profile: HashKey[Profile]
    log: ListKey[int]
    tags: SetKey[str]
    scores: SortedSetKey[str]
    visits: Counter
    note: Key[str] = Key("note:{note_id}", default="")


class Cart(Cluster, prefix="cart:{cart_id}", hash_tag=True, ttl=60):
    items: Key[list[str]] = []
    total: Key[int] = 0
    hits: Counter
    owner: HashKey[Profile]


class Root(Cluster, prefix="ks"):
    user: User
    cart: Cart
    title: Key[str] = ""


class Shop(Cluster, prefix="shop", hash_tag=True):
    open: Key[bool] = False
    orders: Counter


# -- helpers -------------------------------------------------------------------------------


async def io(result: Any) -> Any:
    """The result of an async or sync call: awaited, or listed when it is an iterator."""
    if inspect.isawaitable(result):
        return await result
    if isinstance(result, Iterator):
        return list(result)
    return result


async def execute(repo: Any, fill: Callable[[Any], list[Any]], transaction: bool) -> list[Any]:
    """Queue ``fill(pipeline)`` on a pipeline of ``repo`` and run it."""
    pipe = repo.pipeline(transaction=transaction)
    pending = fill(pipe)
    await io(pipe.execute())
    return [item.result for item in pending]


def nodes_of(cluster: ClusterDeployment) -> list[redis.Redis]:
    clients = []
    for host, port in cluster.nodes:
        assert port != SHARED_REDIS_PORT
        clients.append(redis.Redis(host=host, port=port, decode_responses=True))
    return clients


def keys_by_node(cluster: ClusterDeployment, pattern: str = "*") -> dict[int, set[str]]:
    """The keys each primary holds."""
    out = {}
    for node in nodes_of(cluster):
        with node:
            out[node.connection_pool.connection_kwargs["port"]] = set(node.scan_iter(pattern))
    return out


def owners(raw: RedisCluster, keys: list[str]) -> set[int]:
    """The ports of the primaries that own ``keys``."""
    return {raw.get_node_from_key(key).port for key in keys}


def write_calls(cluster: ClusterDeployment) -> dict[int, dict[str, int]]:
    """Per node, the calls of commands that change data or start a transaction."""
    watched = ("set", "hset", "del", "unlink", "expire", "multi", "exec", "watch", "publish")
    out = {}
    for node in nodes_of(cluster):
        with node:
            stats = node.info("commandstats")
            port = node.connection_pool.connection_kwargs["port"]
            out[port] = {
                name: stats[f"cmdstat_{name}"]["calls"]
                for name in watched
                if f"cmdstat_{name}" in stats
            }
    return out


pytestmark = pytest.mark.usefixtures("no_redis_env")


@pytest.fixture(params=["async", "sync"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def make_repo(
    clean_redis_cluster: ClusterDeployment, flavour: str
) -> AsyncIterator[Callable[..., Any]]:
    """``make_repo(root=Root, **settings_and_options)``: a repository of this test's flavour
    on the cluster, its client built from ``RedisSettings(url=redis+cluster://...)``."""
    made: list[Any] = []

    def make(root: type[Cluster] = Root, **options: Any) -> Any:
        keywords = {k: options.pop(k) for k in ("prefix", "publish_events") if k in options}
        settings = RedisSettings(url=clean_redis_cluster.url, **options)
        cls = Repository if flavour == "async" else SyncRepository
        repo = cls(root, settings=settings, **keywords)
        made.append(repo)
        return repo

    yield make
    for repo in made:
        await io(repo.aclose() if isinstance(repo, Repository) else repo.close())


@pytest.fixture
def raw(clean_redis_cluster: ClusterDeployment) -> Iterator[RedisCluster]:
    """A plain cluster client, built from the fixture's nodes, to look at what is stored."""
    nodes = [ClusterNode(host, port) for host, port in clean_redis_cluster.nodes]
    with RedisCluster(startup_nodes=nodes, decode_responses=True) as client:
        yield client


# -- every key kind ---------------------------------------------------------------------------


async def test_every_key_kind_on_every_primary(
    make_repo: Any, raw: RedisCluster, clean_redis_cluster: ClusterDeployment
) -> None:
    repo = make_repo()
    for user_id in range(6):
        user = repo.user(user_id)
        assert await io(user.age.set(30 + user_id))
        assert await io(user.age.get()) == 30 + user_id
        assert await io(user.name.get()) == "anon"  # missing: the default
        await io(user.profile.set(Profile(bio="hi", level=user_id)))
        await io(user.profile.set_field("level", 7))
        assert await io(user.profile.get()) == Profile(bio="hi", level=7)
        assert await io(user.profile.incr_field("level", 2)) == 9
        await io(user.log.set([1, 2]))
        assert await io(user.log.push(3)) == 3
        assert await io(user.log.get()) == [1, 2, 3]
        assert await io(user.log.pop()) == 3
        assert await io(user.tags.add("a", "b")) == 2
        assert await io(user.tags.get()) == {"a", "b"}
        assert await io(user.scores.add("x", 1.5))
        assert await io(user.scores.incr("x", 2)) == 3.5
        assert await io(user.scores.get()) == {"x": 3.5}
        assert await io(user.visits.incr()) == 1
        assert await io(user.visits.incr(4)) == 5
        assert await io(user.note(1).set("n"))
    user = repo.user(5)
    types = [await io(getattr(user, name).the_type) for name in ("age", "profile", "log", "tags")]
    assert types == [int, Profile, list, set]
    assert await io(user.scores.the_type) is dict
    assert await io(user.visits.the_type) is int
    assert await io(user.name.the_type) is None
    assert 115 < await io(user.tags.ttl()) <= 120
    assert await io(user.tags.expire(30))
    assert 25 < await io(user.tags.ttl()) <= 30
    assert await io(user.tags.persist())
    assert await io(user.tags.ttl()) is None
    assert await io(user.visits.delete())
    assert not await io(user.visits.exists())

    assert raw.get("ks:user:3:age") == "33"
    assert raw.hget("ks:user:3:profile", "level") == "9"
    assert raw.lrange("ks:user:3:log", 0, -1) == ["1", "2"]
    found = keys_by_node(clean_redis_cluster, "ks:*")
    assert sum(map(len, found.values())) == 6 * 7 - 1  # no name was written, one deleted
    assert all(found.values()), found  # every primary holds some of them


# -- whole-keyspace operations visit every primary ------------------------------------------


async def plant(repo: Any, users: int, carts: int) -> int:
    """Write ages and names of ``users`` users, ``carts`` carts and the title; how many keys."""

    def fill(p: Any) -> list[Any]:
        pending = [p.title.set("shop")]
        for i in range(users):
            pending += [p.user(i).age.set(i), p.user(i).name.set(f"u{i}")]
        for i in range(carts):
            pending += [p.cart(i).items.set(["a"]), p.cart(i).hits.incr()]
        return pending

    assert all(await execute(repo, fill, transaction=False))
    return 1 + 2 * users + 2 * carts


async def test_clear_subkeys_and_instances_count_exactly_across_primaries(
    make_repo: Any, raw: RedisCluster, clean_redis_cluster: ClusterDeployment
) -> None:
    # Small SCAN pages and UNLINK chunks: many steps, every chunk spanning slots and nodes.
    repo = make_repo(scan_count=7, delete_chunk_size=5)
    total = await plant(repo, users=90, carts=6)
    raw.set("ks:user:1:unknown", "not declared")  # under the prefix, but no declared key
    raw.set("ksx:user:1:age", "1")  # a sibling prefix
    by_node = keys_by_node(clean_redis_cluster, "ks:*")
    assert all(len(keys) > 20 for keys in by_node.values()), by_node

    subkeys = await io(repo.subkeys())
    assert len(subkeys) == len(set(subkeys)) == total + 1
    assert set(subkeys) == set().union(*by_node.values())
    users = [user async for user in _iterate(repo.user.instances())]
    assert sorted(user.get_full_prefix() for user in users) == sorted(
        f"ks:user:{i}" for i in range(90)
    )
    carts = await io(repo.cart.instances())
    assert sorted(cart.get_full_prefix() for cart in carts) == [
        f"ks:{{cart:{i}}}" for i in range(6)
    ]
    assert len(await io(repo.user(7).subkeys())) == 2

    assert await io(repo.user(7).clear()) == 2
    assert await io(repo.cart(0).clear()) == 2
    assert await io(repo.clear()) == total - 4
    assert await io(repo.clear()) == 0
    remaining = keys_by_node(clean_redis_cluster)
    assert set().union(*remaining.values()) == {"ks:user:1:unknown", "ksx:user:1:age"}


async def _iterate(items: Any) -> AsyncIterator[Any]:
    """``async for`` over an async iterable or a sync iterator."""
    if hasattr(items, "__aiter__"):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def test_a_scan_stopped_early_leaves_the_repository_usable(make_repo: Any) -> None:
    repo = make_repo(scan_count=3)  # the cluster scan is left half way through one node
    await plant(repo, users=30, carts=0)
    first = None
    async for key in _iterate(repo.subkeys()):
        first = key
        break
    assert first is not None
    assert first.startswith("ks:")
    assert await io(repo.clear()) == 61


# -- pipelines and transactions -------------------------------------------------------------


async def test_a_pipeline_across_slots_returns_typed_results_in_order(
    make_repo: Any, raw: RedisCluster
) -> None:
    repo = make_repo()
    await io(repo.user(1).age.set(41))

    def fill(p: Any) -> list[Any]:
        pending = []
        for i in range(12):
            user = p.user(i)
            pending += [
                user.age.set(i),
                user.profile.set(Profile(level=i)),  # several commands of one op
                user.visits.incr(2),
                user.tags.add("t"),
                user.scores.add("s", i / 2),
                user.age.get(),
                user.profile.get_field("level"),
            ]
        pending.append(p.user(99).age.get())
        pending.append(p.user(99).name.the_type)
        return pending

    results = await execute(repo, fill, transaction=False)
    assert results[:7] == [True, None, 2, 1, True, 0, 0]
    assert results[7 * 11 : 7 * 12] == [True, None, 2, 1, True, 11, 11]
    assert results[-2:] == [0, None]
    assert owners(raw, [f"ks:user:{i}:age" for i in range(12)]) == {
        node.port for node in raw.get_primaries()
    }
    assert raw.hget("ks:user:11:profile", "level") == "11"
    assert 115 < raw.ttl("ks:user:11:profile") <= 120

    raw.delete("ks:user:4:age")
    raw.hset("ks:user:4:age", "x", "y")
    with pytest.raises(PipelineError) as info:
        await execute(repo, lambda p: [p.user(i).age.get() for i in range(3, 9)], transaction=False)
    results = info.value.results
    assert [r for i, r in enumerate(results) if i != 1] == [3, 5, 6, 7, 8]
    assert isinstance(results[1], WrongTypeError)
    assert "ks:user:4:age" in str(results[1])
    assert "hash" in str(results[1])


async def test_transactions_save_and_updates_on_a_hash_tagged_cluster(
    make_repo: Any, raw: RedisCluster
) -> None:
    repo = make_repo()
    cart = repo.cart(7)
    names = [cart.items.key, cart.total.key, cart.hits.key, cart.owner.key]
    assert names[0] == "ks:{cart:7}:items"
    assert len({key_slot(name.encode()) for name in names}) == 1

    def fill(p: Any) -> list[Any]:
        c = p.cart(7)
        return [
            c.items.set(["a", "b"]),
            c.total.set(3),
            c.hits.incr(),
            c.owner.set(Profile(bio="me")),
            c.total.get(),
        ]

    assert await execute(repo, fill, transaction=True) == [True, True, 1, None, 3]
    await io(cart.save({"items": ["c"], "total": 10}))
    snapshot = await io(cart.load())
    assert (snapshot.items, snapshot.total, snapshot.hits) == (["c"], 10, 1)
    assert snapshot.owner == Profile(bio="me")
    assert await io(cart.total.update(lambda total: total + 5)) == 15
    assert await io(repo.update([cart.items, cart.total], lambda i, t: ([*i, "d"], t * 2))) == [
        ["c", "d"],
        30,
    ]
    assert raw.get("ks:{cart:7}:total") == "30"
    assert 55 < raw.ttl("ks:{cart:7}:items") <= 60


def _cross_slot_user(raw: RedisCluster) -> int:
    """A user id whose age and name keys live in different slots (and so most often nodes)."""
    for user_id in range(100):
        if key_slot(f"ks:user:{user_id}:age".encode()) != key_slot(
            f"ks:user:{user_id}:name".encode()
        ):
            return user_id
    raise AssertionError("no such user")  # pragma: no cover


async def test_transactions_across_slots_fail_before_anything_is_sent(
    make_repo: Any, raw: RedisCluster, clean_redis_cluster: ClusterDeployment
) -> None:
    repo = make_repo()
    user_id = _cross_slot_user(raw)
    user = repo.user(user_id)
    await io(user.age.set(1))
    await io(user.name.set("before"))
    await io(repo.user(user_id + 1).age.set(2))
    for node in nodes_of(clean_redis_cluster):
        with node:
            node.config_resetstat()
    before = write_calls(clean_redis_cluster)
    calls: list[Any] = []

    def both(p: Any) -> list[Any]:
        return [p.user(user_id).age.set(5), p.user(user_id + 1).age.set(6)]

    with pytest.raises(CrossSlotError) as info:
        await execute(repo, both, transaction=True)
    message = str(info.value)
    assert f"'ks:user:{user_id}:age'" in message
    assert f"'ks:user:{user_id + 1}:age'" in message
    assert "hash_tag=True" in message
    with pytest.raises(CrossSlotError, match=f"ks:user:{user_id}:name"):
        await io(user.save({"age": 5, "name": "after"}))
    with pytest.raises(CrossSlotError, match=f"ks:user:{user_id + 1}:age"):
        await io(
            repo.update([user.age, repo.user(user_id + 1).age], lambda *v: calls.append(v) or v)
        )
    assert calls == []  # the WATCH was refused before anything was read

    assert write_calls(clean_redis_cluster) == before  # nothing reached any node
    assert raw.get(f"ks:user:{user_id}:age") == "1"
    assert raw.get(f"ks:user:{user_id}:name") == '"before"'
    assert raw.get(f"ks:user:{user_id + 1}:age") == "2"
    # One key is one slot: its own update is a transaction that works.
    assert await io(user.age.update(lambda age: age + 1)) == 2


async def test_updates_retry_after_conflicts(make_repo: Any, raw: RedisCluster) -> None:
    repo = make_repo()
    total = repo.cart(1).total
    await io(total.set(0))

    def meddle(value: int) -> int:
        raw.incr(total.key)  # another client writes after every WATCH
        return value + 100

    with pytest.raises(ConflictError, match="3 times"):
        await io(total.update(meddle, attempts=3))
    assert raw.get(total.key) == "3"
    # Concurrent updaters of one key end with the exact total.
    others = [make_repo() for _ in range(3)]
    if isinstance(repo, Repository):
        await asyncio.gather(
            *(r.cart(1).total.update(lambda v: v + 1) for r in others for _ in range(5))
        )
    else:
        await asyncio.gather(
            *(
                asyncio.to_thread(r.cart(1).total.update, lambda v: v + 1)
                for r in others
                for _ in range(5)
            )
        )
    assert await io(total.get()) == 18


async def test_load_reads_keys_across_slots(make_repo: Any, raw: RedisCluster) -> None:
    repo = make_repo()
    user = repo.user(3)
    await io(user.age.set(5))
    await io(user.name.set("Ann"))
    await io(user.log.set([1]))
    await io(user.visits.incr(9))
    statics = [getattr(user, name).key for name in ("age", "name", "profile", "log", "visits")]
    assert len(owners(raw, statics)) > 1
    snapshot = await io(user.load())
    assert (snapshot.age, snapshot.name, snapshot.log, snapshot.visits) == (5, "Ann", [1], 9)
    assert snapshot.tags == set()
    assert snapshot.profile is None


# -- events -----------------------------------------------------------------------------------


def _one_user_per_primary(raw: RedisCluster, key: str) -> list[int]:
    """User ids whose key ``key`` lives on the first, second and third primary."""
    found: dict[int, int] = {}
    for user_id in range(200):
        found.setdefault(raw.get_node_from_key(f"ks:user:{user_id}:{key}").port, user_id)
    assert len(found) == 3
    return sorted(found.values())


async def subscribed(cluster: ClusterDeployment, nodes: int) -> None:
    """Wait until ``nodes`` primaries have a pattern subscriber (the test's own)."""
    deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
    while True:
        counts = []
        for node in nodes_of(cluster):
            with node:
                counts.append(node.execute_command("PUBSUB", "NUMPAT"))
        if sum(1 for count in counts if count) >= nodes:
            return
        assert time.monotonic() < deadline, f"subscriptions per node: {counts}"
        await asyncio.sleep(0.02)


def listen(repo: Any, count: int, **options: Any) -> asyncio.Future[list[KeyEvent]]:
    """Collect ``count`` events of ``repo.events(**options)`` in the background."""

    async def collect() -> list[KeyEvent]:
        out: list[KeyEvent] = []
        async for event in repo.events(**options):
            out.append(event)
            if len(out) == count:
                break
        return out

    def collect_sync() -> list[KeyEvent]:
        events = repo.events(**options)
        try:
            out: list[KeyEvent] = []
            for event in events:
                out.append(event)
                if len(out) == count:
                    break
            return out
        finally:
            events.close()

    if isinstance(repo, Repository):
        return asyncio.ensure_future(collect())
    return asyncio.ensure_future(asyncio.to_thread(collect_sync))


async def test_published_events_reach_subscribers_from_every_node(
    make_repo: Any, raw: RedisCluster, clean_redis_cluster: ClusterDeployment
) -> None:
    writer = make_repo(publish_events=True)
    reader = make_repo()
    users = _one_user_per_primary(raw, "age")
    received = listen(reader, 7, timeout=10)
    await subscribed(clean_redis_cluster, 1)  # a PUBLISH reaches every node
    for user_id in users:
        await io(writer.user(user_id).age.set(user_id))  # one write op, published with it
    await io(writer.user(users[0]).visits.incr())
    await io(writer.cart(1).save({"total": 4}))  # a transaction: events after EXEC
    await io(writer.cart(1).total.update(lambda total: total + 1))  # WATCH ... EXEC
    await execute(writer, lambda p: [p.title.set("t")], transaction=True)
    events = await received
    assert [(e.key, e.operation, e.value) for e in events] == [
        *((f"ks:user:{user_id}:age", "set", user_id) for user_id in users),
        (f"ks:user:{users[0]}:visits", "incrby", None),
        ("ks:{cart:1}:total", "set", 4),
        ("ks:{cart:1}:total", "set", 5),
        ("ks:title", "set", "t"),
    ]
    assert {e.writer for e in events} == {writer.writer_id}


async def test_keyspace_notifications_from_every_primary(
    make_repo: Any, raw: RedisCluster, clean_redis_cluster: ClusterDeployment
) -> None:
    repo = make_repo()
    users = _one_user_per_primary(raw, "name")
    # An explicit opt-in on each node: notifications are per node, and keyspace never
    # enables them by itself.
    for node in nodes_of(clean_redis_cluster):
        with node:
            node.config_set("notify-keyspace-events", "KEA")
    try:
        received = listen(repo, 6, source="keyspace", timeout=10)
        await subscribed(clean_redis_cluster, 3)
        for user_id in users:
            await io(repo.user(user_id).name.set("x", ttl=None))  # SET, and a PERSIST of nothing
        await io(repo.user(users[2]).visits.set(1, ttl=0.05))  # expires on the third node
        events = await received
    finally:
        for node in nodes_of(clean_redis_cluster):
            with node:
                node.config_set("notify-keyspace-events", "")
    got = [(e.key, e.operation) for e in events]
    visits = f"ks:user:{users[2]}:visits"
    assert sorted(got) == sorted(
        [(f"ks:user:{user_id}:name", "set") for user_id in users]
        + [(visits, "set"), (visits, "expire"), (visits, "expired")]
    )
    assert len(owners(raw, [key for key, _ in got])) == 3  # events from every primary
    # Merged from three subscriptions: in order per node, interleaved across them.
    assert [op for key, op in got if key == visits] == ["set", "expire", "expired"]
    assert all(e.source == "keyspace" and e.value is None for e in events)


# -- mapping views, callers' clients, tenants ---------------------------------------------------


async def test_mapping_views_on_a_cluster(
    clean_redis_cluster: ClusterDeployment, flavour: str, raw: RedisCluster
) -> None:
    settings = RedisSettings(url=clean_redis_cluster.url, scan_count=7)
    d: Any = (
        AsyncKeyspaceDict[int, Profile]("profiles", settings=settings)
        if flavour == "async"
        else KeyspaceDict[int, Profile]("profiles", settings=settings)
    )
    try:
        raw.set("profiles:x:1", "not an entry")  # below the namespace, not one of its keys
        await io(d.update({i: Profile(level=i) for i in range(40)}))
        assert len(owners(raw, [f"profiles:{i}" for i in range(40)])) == 3
        assert await io(d.len()) == 40
        assert sorted([key async for key in _iterate(d)]) == list(range(40))
        assert await io(d.to_dict()) == {i: Profile(level=i) for i in range(40)}
        key, value = await io(d.popitem())
        assert value == Profile(level=key)
        assert await io(d.len()) == 39
        assert await io(d.setdefault(100, Profile(bio="new"))) == Profile(bio="new")
        assert await io(d.setdefault(100, Profile(bio="other"))) == Profile(bio="new")
        assert await io(d.pop(key + 1 if key < 39 else 0)) is not None
        if flavour == "async":
            async with d.batch():
                await d.set(200, Profile(level=200))
                await d.set(201, Profile(level=201))
        else:
            with d.batch():
                d.set(200, Profile(level=200))
                d.set(201, Profile(level=201))
        assert await io(d.len()) == 41
        await io(d.clear())
        assert await io(d.len()) == 0
        assert raw.get("profiles:x:1") == "not an entry"
    finally:
        await io(d.aclose() if flavour == "async" else d.close())


async def test_a_key_family_as_a_mapping(make_repo: Any, raw: RedisCluster) -> None:
    repo = make_repo()
    notes = repo.user(1).note.as_dict()
    await io(notes.update({i: f"n{i}" for i in range(30)}))
    assert len(owners(raw, [f"ks:user:1:note:{i}" for i in range(30)])) == 3
    assert await io(notes.len()) == 30
    assert await io(repo.user(1).note(29).get()) == "n29"
    assert 115 < raw.ttl("ks:user:1:note:29") <= 120  # the key's TTL
    assert await io(repo.user(1).clear()) == 30


async def test_a_callers_client_that_decodes_responses(
    clean_redis_cluster: ClusterDeployment, flavour: str
) -> None:
    nodes = clean_redis_cluster.nodes
    client: Any
    if flavour == "async":
        client = redis.asyncio.RedisCluster(
            startup_nodes=[redis.asyncio.cluster.ClusterNode(h, p) for h, p in nodes],
            decode_responses=True,
        )
        repo: Any = Repository(Root, client)
    else:
        client = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in nodes], decode_responses=True
        )
        repo = SyncRepository(Root, client)
    try:
        await plant(repo, users=20, carts=2)
        assert await io(repo.user(3).age.get()) == 3
        assert (await io(repo.user(3).load())).name == "u3"
        assert len(await io(repo.user.instances())) == 20
        assert await io(repo.cart(1).hits.incr()) == 2
        assert await io(repo.clear()) == 45
        await io(repo.aclose() if flavour == "async" else repo.close())
        assert await io(client.ping())  # the caller's client stays open
    finally:
        await io(client.aclose() if flavour == "async" else client.close())


async def test_tenants_on_one_cluster_never_see_each_other(
    make_repo: Any, raw: RedisCluster
) -> None:
    first, second = make_repo(prefix="t1:ks"), make_repo(prefix="t2:ks")
    assert await plant(first, users=30, carts=2) == await plant(second, users=30, carts=2)
    await io(second.user(1).age.set(1000))
    assert await io(first.user(1).age.get()) == 1
    assert await io(second.user(1).age.get()) == 1000
    assert {key.split(":")[0] for key in await io(first.subkeys())} == {"t1"}
    assert len(await io(second.user.instances())) == 30
    assert await io(first.clear()) == 65
    assert await io(first.subkeys()) == []
    assert len(await io(second.subkeys())) == 65

    # Hash-tagged tenants: each tenant's keys share one slot, so its transactions work.
    shop_a, shop_b = make_repo(Shop, prefix="shop-a"), make_repo(Shop, prefix="shop-b")
    await io(shop_a.save({"open": True, "orders": 3}))
    await io(shop_b.save({"open": False}))
    assert raw.get("{shop-a}:orders") == "3"
    assert await snapshot_of(shop_a) == (True, 3)
    assert await snapshot_of(shop_b) == (False, 0)
    assert await io(shop_b.update([shop_b.open], lambda is_open: [not is_open])) == [True]
    assert await io(shop_a.clear()) == 2
    assert sorted(raw.scan_iter("{shop-*")) == ["{shop-b}:open"]


async def snapshot_of(repo: Any) -> tuple[bool, int]:
    snapshot = await io(repo.load())
    return snapshot.open, snapshot.orders


async def test_redis_url_selects_the_cluster(
    clean_redis_cluster: ClusterDeployment, flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", clean_redis_cluster.url)
    repo: Any = Repository(Root) if flavour == "async" else SyncRepository(Root)
    try:
        assert isinstance(repo.client, (RedisCluster, redis.asyncio.RedisCluster))
        await plant(repo, users=10, carts=1)
        assert await io(repo.clear()) == 23
    finally:
        await io(repo.aclose() if flavour == "async" else repo.close())
