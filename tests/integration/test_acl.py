"""Least privilege: keyspace works for a Redis ACL user restricted to its root prefix.

The user below may reach keys under ``root:`` only, its event channels only, and only the
commands keyspace needs (the list of docs/reliability.md). The integration cases of the
modules in ``REUSED`` run again here, with every client the tests build logged in as that
user (``raw``, which the tests read the stored data with, stays the default user). A command
keyspace sends that the list lacks, or a key outside ``root:``, fails them with ``NOPERM``.

A scan of the source checks that no code path uses ``KEYS``, ``FLUSHDB``, ``FLUSHALL`` or
``CONFIG`` (except ``CONFIG SET`` in the explicit ``enable_keyspace_notifications()``).
"""

from __future__ import annotations

import ast
import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis
import redis.asyncio

import keyspace
from conftest import Backend
from keyspace import (
    Cluster,
    Counter,
    Key,
    ListKey,
    Repository,
    SetKey,
    SortedSetKey,
    SyncRepository,
)

from . import test_batching, test_clusters, test_events, test_keys
from .models import Root

pytestmark = pytest.mark.redis_server

USER = "keyspace-app"

# What keyspace sends, by feature (docs/reliability.md has the same list).
COMMANDS = {
    "string keys": "get set getex getdel mget",
    "every key": "del unlink exists type pttl expire pexpire persist",
    "clear, subkeys, instances, mappings": "scan",
    "update, transactions": "watch unwatch multi exec discard",
    "counters": "incrby decrby incrbyfloat",
    "hashes": "hset hget hmget hgetall hdel hkeys hexists hincrby hincrbyfloat",
    "lists": "rpush lpush lrange lpop rpop llen lindex lrem ltrim blpop brpop",
    "sets": "sadd srem smembers sismember scard spop srandmember",
    "sorted sets": "zadd zrem zrange zscore zcard zincrby zrank zrevrank",
    "events": "publish psubscribe punsubscribe",
    "connections": "ping",
}
RULES = [
    "reset",
    "on",
    "~root:*",  # the root prefix only
    # Redis matches a PSUBSCRIBE pattern literally against the user's channel patterns, so
    # subscribers need every pattern they subscribe to listed (see test_event_channels below),
    # or all channels; the reused event cases subscribe to many.
    "allchannels",
    "-@all",
    *(f"+{command}" for commands in COMMANDS.values() for command in commands.split()),
]


class RestrictedBackend(Backend):
    """The fixture server, with every client logged in as the restricted user."""

    def __init__(self, server: Any, password: str) -> None:
        super().__init__("redis-acl", server.url, server=server)
        self.password = password

    def async_client(self, decode_responses: bool = False, **kwargs: Any) -> Any:
        login = {"username": USER, "password": self.password, **kwargs}
        return super().async_client(decode_responses, **login)

    def sync_client(self, decode_responses: bool = False, **kwargs: Any) -> Any:
        login = {"username": USER, "password": self.password, **kwargs}
        return super().sync_client(decode_responses, **login)


@pytest.fixture
def admin(redis_server: Any) -> Iterator[redis.Redis]:
    """The default user on the fixture server: creates the restricted one, then removes it."""
    with redis.Redis(host=redis_server.host, port=redis_server.port) as client:
        client.flushall()
        yield client
        client.execute_command("ACL", "DELUSER", USER)
        client.config_set("notify-keyspace-events", "")


@pytest_asyncio.fixture
async def backend(redis_server: Any, admin: redis.Redis) -> AsyncIterator[Backend]:
    """Overrides the integration ``backend``: the fixture server, as the restricted user."""
    password = uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", USER, *RULES, f">{password}")
    # The only CONFIG SET keyspace has is the explicit opt-in; an administrator does it.
    admin.config_set("notify-keyspace-events", "KEA")
    instance = RestrictedBackend(redis_server, password)
    try:
        yield instance
    finally:
        await instance.aclose()


@pytest_asyncio.fixture
async def raw(redis_server: Any) -> AsyncIterator[Any]:
    """Overrides the integration ``raw``: the tests inspect the data as the default user."""
    client = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port)
    try:
        yield client
    finally:
        await client.aclose()


# -- the integration cases, as the restricted user --------------------------------------------

REUSED = (test_keys, test_clusters, test_batching, test_events)
# Cases that need what this user may not do on purpose.
SKIPPED = {
    "test_keyspace_notifications_include_expiry",  # calls enable_keyspace_notifications()
    "test_root_without_prefix_refuses_clear",  # its keys are not under root:
}


def _is_fixture(value: object) -> bool:
    # pytest 8.4+ wraps fixtures in FixtureFunctionDefinition; earlier ones mark the function.
    return type(value).__name__ == "FixtureFunctionDefinition" or hasattr(
        value, "_pytestfixturefunction"
    )


def _reuse() -> None:
    """Collect the cases (and the fixtures of their own) of ``REUSED`` in this module too."""
    for module in REUSED:
        short = module.__name__.rsplit(".", 1)[1].removeprefix("test_")
        for name, value in vars(module).items():
            if _is_fixture(value):
                globals()[name] = value  # a module's own fixture (``arepo``, ...)
            elif name.startswith("test_") and callable(value) and name not in SKIPPED:
                globals()[f"test_as_acl_user__{short}__{name.removeprefix('test_')}"] = value


_reuse()


# -- every kind and whole-cluster operation, as the restricted user ---------------------------


async def test_every_key_kind_and_cluster_operation(backend: Backend, raw: Any) -> None:
    class Item(Cluster, prefix="item:{item_id}", ttl=60):
        name: Key[str] = Key(default="")
        hits: Counter
        tags: SetKey[str]
        log: ListKey[int]
        ranks: SortedSetKey[str]
        note: Key[str] = Key("note:{note_id}", default="")

    class App(Cluster, prefix="root"):
        item: Item

    repo = Repository(App, backend.async_client())
    item = repo.item(1)
    await item.name.set("one")
    assert await item.name.get() == "one"
    assert await item.hits.incr(2) == 2
    assert await item.tags.add("a", "b") == 2
    assert await item.log.push(1, 2) == 2
    assert await item.ranks.add("x", 1.0)
    await item.note(7).set("seven")
    assert await item.name.update(lambda name: name + "!") == "one!"
    async with repo.pipeline(transaction=True) as pipe:
        pipe.item(2).name.set("two")
        pipe.item(2).hits.incr()
    assert (await item.load()).hits == 2
    await item.save({"name": "uno"})
    notes = item.note.as_dict()
    assert await notes.to_dict() == {"7": "seven"}
    assert await notes.setdefault("8", "eight") == "eight"
    assert sorted(await item.subkeys()) == sorted(
        f"root:item:1:{name}"
        for name in ("name", "hits", "tags", "log", "ranks", "note:7", "note:8")
    )
    assert sorted(i.get_full_prefix() for i in await repo.item.instances()) == [
        "root:item:1",
        "root:item:2",
    ]
    assert await item.clear() == 7
    assert await raw.exists("root:item:2:name")

    sync = SyncRepository(App, backend.sync_client())
    sync.item(3).tags.set({"z"})
    assert sync.item(3).tags.get() == {"z"}
    assert sync.clear() == 3


def test_the_user_is_really_restricted(backend: Backend) -> None:
    client = backend.sync_client()
    client.set("root:x", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("other:x", "1")
    for command in (("KEYS", "*"), ("FLUSHDB",), ("FLUSHALL",), ("CONFIG", "SET", "x", "y")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*command)


async def test_event_channels(redis_server: Any, admin: redis.Redis) -> None:
    """Publishing needs the root's event channels; subscribing, each pattern literally."""
    password = uuid.uuid4().hex
    channels = ["&__keyspace_events__:root:*", "&__keyspace_events__:root:user:1:*"]
    rules = [rule for rule in RULES if rule != "allchannels"]
    admin.execute_command("ACL", "SETUSER", USER, *rules, *channels, f">{password}")
    server = RestrictedBackend(redis_server, password)
    writer = Repository(Root, server.async_client(), publish_events=True)
    reader = Repository(Root, server.async_client())
    try:
        events = reader.user(1).events(timeout=5)
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.2)  # subscribed
        await writer.user(1).age.set(3)  # PUBLISH on __keyspace_events__:root:user:1:age
        assert (await waiting).value == 3
        await events.aclose()
        with pytest.raises(redis.exceptions.NoPermissionError):
            await anext(reader.user(2).events(timeout=1))  # not a listed pattern
    finally:
        await server.aclose()


# -- no code path sends KEYS, FLUSHDB, FLUSHALL or CONFIG -------------------------------------

FORBIDDEN = {"KEYS", "FLUSHDB", "FLUSHALL", "CONFIG"}
FORBIDDEN_METHODS = {"flushdb", "flushall", "config_set", "config_get", "config_rewrite"}
# The one explicit, documented exception: an opt-in the application calls itself.
ALLOWED = {("_repository.py", "enable_keyspace_notifications", "config_set")}


def _offences(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    functions: dict[ast.AST, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                functions.setdefault(inner, node.name)
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        function = functions.get(node, "")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in FORBIDDEN_METHODS and (path.name, function, method) not in ALLOWED:
                yield f"{where}: .{method}()"
            # dict.keys() takes no argument; a Redis client's keys() takes a pattern.
            if method == "keys" and (node.args or node.keywords):
                yield f"{where}: .keys(...) with a pattern"
            if method in ("execute_command", "send") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and str(first.value).upper() in FORBIDDEN:
                    yield f"{where}: {method}({first.value!r}, ...)"
        # Commands are built as tuples: ("GET", key), ("SCAN", cursor, ...).
        if isinstance(node, ast.Tuple) and node.elts:
            first = node.elts[0]
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value in FORBIDDEN  # command names are upper case in the source
            ):
                yield f"{where}: command tuple {first.value!r}"


def test_no_code_path_uses_keys_flush_or_config() -> None:
    source = Path(keyspace.__file__).parent
    files = sorted(source.rglob("*.py"))
    assert len(files) > 20
    offences = [offence for path in files for offence in sorted(_offences(path))]
    assert offences == []


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(client, pipe):\n"
        "    client.flushall()\n"
        "    client.keys('root:*')\n"
        "    client.execute_command('FLUSHDB')\n"
        "    pipe.send(('KEYS', '*'))\n"
        "    client.config_set('maxmemory', 1)\n"
        "    {}.keys()\n"  # a dict: fine
    )
    assert [offence.split(": ", 1)[1] for offence in sorted(_offences(bad))] == [
        ".flushall()",
        ".keys(...) with a pattern",
        "execute_command('FLUSHDB', ...)",
        "command tuple 'KEYS'",
        ".config_set()",
    ]
