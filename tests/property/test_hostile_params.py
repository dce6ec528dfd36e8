"""Hostile parameter values never let an operation reach a key outside its cluster.

Hypothesis draws parameter values (glob characters, separators, braces, backslashes,
whitespace, control characters, unicode, very long strings, numbers as strings, non-string
types) and plants lookalike and sibling keys around the bound cluster: the same value with a
character more or less, other cases and unicode normal forms, ``rootbeer:``, ``root:items:``,
the bare prefix, and the drawn values' own keys. Then ``clear()``, ``subkeys()``, instance
iteration and the mapping views run, and every command they send is checked:

- on the in-memory backend, a spy inside the fake server sees every command and checks each key
  it names, and the literal head of each SCAN pattern, against the cluster's prefix;
- on a real ``redis-server``, the repository connects as an ACL user whose key pattern is the
  cluster's prefix, so Redis itself refuses any command on a foreign key.

Afterwards every foreign key must hold its value, and what was listed must be exactly what lies
under the prefix. A refused parameter must raise ``InvalidParameterError`` before anything is
sent.

``HYPOTHESIS_PROFILE=slow pytest -m slow tests/property`` is the dedicated run: over 10,000
cases on the in-memory backend and 500 on a real server; the normal run does 300 and 25.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from unittest import mock

import fakeredis
import pytest
import redis
import redis.asyncio
from fakeredis._socket._base import BaseFakeSocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyspace import (
    AsyncKeyspaceDict,
    Cluster,
    InvalidParameterError,
    Key,
    KeyspaceDict,
    RedisSettings,
    Repository,
    SyncRepository,
)

SETTINGS = RedisSettings()  # made once: reading the environment costs more than a case

SLOW_RUN = os.environ.get("HYPOTHESIS_PROFILE") == "slow"
MEMORY_CASES = 10_000 if SLOW_RUN else 300
REAL_CASES = 500 if SLOW_RUN else 25
# Cases take milliseconds, very long values included: no deadline, no size complaints.
CASES = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


class Leaf(Cluster, prefix="leaf:{leaf_id}"):
    value: Key[str] = Key(default="")


class Item(Cluster, prefix="item:{item_id}"):
    name: Key[str] = Key(default="")
    note: Key[str] = Key("note:{note_id}", default="")
    leaf: Leaf


class Root(Cluster, prefix="root"):
    item: Item


# -- hostile values ---------------------------------------------------------------------------

FORBIDDEN = ":{}*?[]\\"
AWKWARD = " \t\n\r\x00\x01\x1b\x7f\u00a0\u200b\u2028\ufeff/%#@!$^|~'\"`,;.-_+="
# Accents (composed and not), dotted and dotless i, titlecase, eszett, a ligature, non-ASCII
# digits, Greek, an emoji.
UNICODE = (
    "\u00e9\u00c9e\u0301\u0131\u0130iI\u01c5\u00df\u1e9e\ufb01"
    "\u0661\uff11\u0663\u03a9\u03c9\U0001f600"
)
_chars = st.sampled_from(FORBIDDEN + AWKWARD + UNICODE + "0123456789abcAB")

texts = st.one_of(
    st.text(_chars, max_size=8),
    st.text(max_size=12),  # any unicode (hypothesis leaves out lone surrogates)
    st.integers().map(str),
    st.from_regex(r"[+-]?0*[0-9]{1,4}", fullmatch=True),  # numbers as strings
    st.text(_chars, min_size=500, max_size=5000),  # very long
)
params = st.one_of(
    texts,
    st.integers(),
    st.sampled_from([None, 1.5, True, b"1", ("a",)]),  # not a str or int: refused
)


def refused(value: object) -> bool:
    """Whether keyspace must refuse ``value`` as an (untyped) parameter."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return True
    return isinstance(value, str) and (not value or any(c in FORBIDDEN for c in value))


def variants(value: str) -> set[str]:
    """Values that look like ``value``: one character more or less, other cases and forms."""
    found = {value + "0", "0" + value, value + " ", " " + value, value[:-1], value[1:]}
    found |= {value * 2, value.upper(), value.lower(), value.casefold(), value.strip()}
    found |= {value + "\x00", value + "*", value + "?", "[" + value + "]", value + "\\"}
    found |= {unicodedata.normalize(form, value) for form in ("NFC", "NFD", "NFKC", "NFKD")}
    found |= {value.replace(c, "?", 1) for c in value[:3]}
    return found - {value, ""}


def neighbours(rendered: str, strangers: list[str]) -> set[str]:
    """Keys around ``root:item:<rendered>``: lookalike and sibling instances and prefixes."""
    keys = {
        f"root:item:{rendered}",
        f"rootbeer:item:{rendered}:name",
        f"root:items:{rendered}:name",
        f"root:ite:{rendered}:name",
        f"xroot:item:{rendered}:name",
        f"root:item:{rendered}\\:name",
        f"root:item:{{{rendered}}}:name",
        f"root:{rendered}:name",
        "root:item:*:name",
        "root:item:?:name",
    }
    for value in variants(rendered) | set(strangers):
        for tail in ("name", "note:1", "leaf:1:value"):
            keys.add(f"root:item:{value}:{tail}")
        keys.add(f"root:item:{value}")
    return {key for key in keys if _encodable(key)}


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# -- what a command touches -------------------------------------------------------------------

_ALL_KEYS = {"DEL", "UNLINK", "EXISTS", "MGET", "WATCH", "TOUCH"}
_NO_KEY = {"SCAN", "MULTI", "EXEC", "DISCARD", "UNWATCH", "PING", "CLIENT", "HELLO", "SELECT"}
_ONE_KEY = {
    "GET", "SET", "GETEX", "GETDEL", "TYPE", "PTTL", "TTL", "PERSIST", "EXPIRE", "PEXPIRE",
    "INCRBY", "INCRBYFLOAT", "DECRBY", "HSET", "HGET", "HGETALL", "HMGET", "HDEL", "HKEYS",
    "HEXISTS", "HINCRBY", "HINCRBYFLOAT", "RPUSH", "LPUSH", "LRANGE", "LPOP", "RPOP", "LLEN",
    "LINDEX", "LREM", "LTRIM", "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SCARD", "SPOP",
    "SRANDMEMBER", "ZADD", "ZREM", "ZRANGE", "ZSCORE", "ZCARD", "ZINCRBY", "ZRANK", "ZREVRANK",
}  # fmt: skip


def touched_keys(fields: list[bytes]) -> list[bytes]:
    """The keys a command names (the commands keyspace sends; anything else fails loudly)."""
    name = fields[0].decode().upper()
    if name in _NO_KEY:
        return []
    if name in _ALL_KEYS:
        return fields[1:]
    assert name in _ONE_KEY, f"the spy does not know {name}: add it to a command table"
    return fields[1:2]


def pattern_head(pattern: bytes) -> bytes:
    """The literal text a SCAN pattern starts with (up to its first glob character)."""
    head = bytearray()
    escaped = False
    for byte in pattern:
        if escaped:
            head.append(byte)
            escaped = False
        elif byte == ord("\\"):
            escaped = True
        elif byte in b"*?[":
            break
        else:
            head.append(byte)
    return bytes(head)


class Spy:
    """Every command one fake server receives while ``watching``."""

    def __init__(self, server: fakeredis.FakeServer) -> None:
        self.server = server
        self.commands: list[list[bytes]] = []

    @contextmanager
    def watching(self) -> Iterator[list[list[bytes]]]:
        original = BaseFakeSocket._process_command
        spy = self

        def process(socket: Any, fields: list[bytes]) -> None:
            if socket._server is spy.server and fields:
                spy.commands.append(list(fields))
            original(socket, fields)

        self.commands = []
        with mock.patch.object(BaseFakeSocket, "_process_command", process):
            yield self.commands

    def assert_within(self, scope: bytes) -> None:
        """Every key named, and every SCAN pattern, lies under ``scope``."""
        for fields in self.commands:
            if fields[0].upper() == b"SCAN":
                pattern = fields[fields.index(b"MATCH") + 1]
                assert pattern_head(pattern).startswith(scope), (fields, scope)
            for key in touched_keys(fields):
                assert key.startswith(scope), (fields, scope)


# -- flavours ---------------------------------------------------------------------------------


async def io(result: Any) -> Any:
    """The result of a sync or async call."""
    return await result if hasattr(result, "__await__") else result


async def items(found: Any) -> list[Any]:
    """What a sync iterator or an async one yields, as a list."""
    if hasattr(found, "__aiter__"):
        return [item async for item in found]
    return list(found)


def all_keys(raw: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key and its value (all are strings here)."""
    keys = list(raw.scan_iter(count=10_000))
    return dict(zip(keys, raw.mget(keys), strict=True)) if keys else {}


Check = Callable[[bytes], AbstractContextManager[None]]
"""``check(scope)``: a block in which no command may name a key outside ``scope``."""


def _run(flavour: str, client: Any, scenario: Callable[[Any], Any]) -> None:
    """Run ``scenario(repo)`` with a repository of ``flavour`` on ``client()``."""

    async def main() -> None:
        if flavour == "async":
            async with client("async") as connection:
                await scenario(Repository(Root, connection, settings=SETTINGS))
        else:
            with client("sync") as connection:
                await scenario(SyncRepository(Root, connection, settings=SETTINGS))

    asyncio.run(main())


# -- the scenarios ----------------------------------------------------------------------------


async def plant(repo: Any, raw: redis.Redis, param: object, ids: list[Any]) -> Any:
    """Bind ``repo.item(param)``, write its keys and plant its neighbours; the bound cluster."""
    bound = repo.item(param)
    await io(bound.name.set("mine"))
    for value in ids:
        try:
            await io(bound.note(value).set("note"))
            await io(bound.leaf(value).value.set("leaf"))
        except InvalidParameterError:
            assert refused(value)
    prefix = bound.get_full_prefix()
    rendered = prefix.removeprefix("root:item:")
    strangers = [str(value) for value in ids]
    for key in neighbours(rendered, strangers) | {f"{prefix}:{s}" for s in strangers}:
        if _encodable(key):
            raw.set(key, b'"planted"', nx=True)
    return bound


async def exercise_bound(bound: Any, raw: redis.Redis, check: Check) -> None:
    """subkeys(), instances(), the mapping view and clear() of one bound cluster."""
    scope = (bound.get_full_prefix() + ":").encode()
    before = all_keys(raw)
    inside = {key for key in before if key.startswith(scope)}
    foreign = {key: value for key, value in before.items() if not key.startswith(scope)}
    with check(scope):
        listed = await items(bound.subkeys())
        assert {key.encode() for key in listed} == inside
        assert len(listed) == len(inside)
        for leaf in await items(bound.leaf.instances()):
            head = (leaf.get_full_prefix() + ":").encode()
            assert head.startswith(scope + b"leaf:")
            assert any(key.startswith(head) for key in inside)
        notes = bound.note.as_dict()
        entries = await io(notes.to_dict())
        for key in entries:
            assert notes._name(key).encode() in inside
        assert await io(notes.len()) == len(entries)
        await io(notes.clear())
        await io(bound.clear())
    after = all_keys(raw)
    assert {key: after.get(key) for key in foreign} == foreign  # every foreign key is intact
    assert not any(key.startswith(scope + b"note:") and after[key] == b'"note"' for key in after)


async def exercise_instances(repo: Any, raw: redis.Redis, check: Check) -> None:
    """Instance iteration of the unbound cluster stays under ``root:item:``."""
    before = all_keys(raw)
    with check(b"root:item:"):
        for item in await items(repo.item.instances()):
            head = (item.get_full_prefix() + ":").encode()
            assert head.startswith(b"root:item:")
            assert any(key.startswith(head) for key in before)
    assert all_keys(raw) == before


def _scenario(raw: redis.Redis, param: Any, ids: list[Any], check: Check) -> Any:
    async def scenario(repo: Any) -> None:
        if refused(param):
            with check(b"\xff-nothing-may-be-sent"), pytest.raises(InvalidParameterError):
                repo.item(param)
            return
        bound = await plant(repo, raw, param, ids)
        await exercise_bound(bound, raw, check)
        await exercise_instances(repo, raw, check)

    return scenario


def _namespace_scenario(raw: redis.Redis, namespace: str, keys: list[Any], check: Check) -> Any:
    """A ``KeyspaceDict`` over a hostile namespace: its SCANs escape glob characters."""

    async def scenario(repo: Any) -> None:
        mapping_class = AsyncKeyspaceDict if isinstance(repo, Repository) else KeyspaceDict
        try:
            mapping = mapping_class[str, str](namespace, repo.client, settings=SETTINGS)
        except InvalidParameterError:
            assert not namespace or "" in namespace.split(":")
            return
        scope = (namespace + ":").encode()
        for key in keys:
            try:
                await io(mapping.set(key, "mine"))
            except InvalidParameterError:
                assert refused(key)
        for neighbour in variants(namespace) | {namespace + ":sub", namespace[:-1] + "*"}:
            for tail in ("k", "sub:k", *map(str, keys)):
                if _encodable(f"{neighbour}:{tail}"):
                    raw.set(f"{neighbour}:{tail}", b'"planted"', nx=True)
        before = all_keys(raw)
        foreign = {key: value for key, value in before.items() if not key.startswith(scope)}
        with check(scope):
            listed = await items(mapping)
            assert {f"{namespace}:{key}".encode() for key in listed} <= set(before)
            assert await io(mapping.len()) == len(listed)
            assert set(await io(mapping.to_dict())) == set(listed)
            await io(mapping.clear())
        after = all_keys(raw)
        assert {key: after.get(key) for key in foreign} == foreign

    return scenario


# -- in-memory backend: a spy in the server ---------------------------------------------------


def _memory(server: fakeredis.FakeServer) -> tuple[Check, Callable[[str], Any]]:
    spy = Spy(server)

    @contextmanager
    def check(scope: bytes) -> Iterator[None]:
        with spy.watching():
            yield
        spy.assert_within(scope)

    def client(flavour: str) -> Any:
        if flavour == "async":
            return fakeredis.FakeAsyncRedis(server=server)
        return fakeredis.FakeRedis(server=server)

    return check, client


@pytest.mark.slow
@settings(CASES, max_examples=MEMORY_CASES)
@given(param=params, ids=st.lists(params, max_size=4), flavour=st.sampled_from(["async", "sync"]))
def test_cluster_operations_stay_inside_on_memory(param: Any, ids: list[Any], flavour: str) -> None:
    server = fakeredis.FakeServer()
    check, client = _memory(server)
    with fakeredis.FakeRedis(server=server) as raw:
        _run(flavour, client, _scenario(raw, param, ids, check))


@pytest.mark.slow
@settings(CASES, max_examples=MEMORY_CASES // 4)
@given(
    namespace=texts, keys=st.lists(texts, max_size=4), flavour=st.sampled_from(["async", "sync"])
)
def test_namespace_mappings_stay_inside_on_memory(
    namespace: str, keys: list[Any], flavour: str
) -> None:
    server = fakeredis.FakeServer()
    check, client = _memory(server)
    with fakeredis.FakeRedis(server=server) as raw:
        _run(flavour, client, _namespace_scenario(raw, namespace, keys, check))


# -- a real server: an ACL user whose keys are the cluster's ----------------------------------

_USER = "hostile-params"
_NOT_IN_ACL_PATTERNS = {bytes([c]) for c in b"\x00 \t\n\v\f\r"}


def _acl_pattern(scope: bytes) -> bytes:
    """An ACL key pattern for the keys under ``scope``.

    Glob characters are escaped; whitespace and NUL, which ACL patterns may not hold, become
    ``?`` (which only widens what Redis lets through; the other checks still see every key).
    """
    escaped = (b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in scope)
    return b"".join(b"?" if part in _NOT_IN_ACL_PATTERNS else part for part in escaped) + b"*"


def _real(server: Any, raw: redis.Redis) -> tuple[Check, Callable[[str], Any]]:
    password = uuid.uuid4().hex
    raw.execute_command("ACL", "SETUSER", _USER, "reset", "on", f">{password}", "~*", "&*", "+@all")

    @contextmanager
    def check(scope: bytes) -> Iterator[None]:
        # ACL changes apply at once to the user's open connections.
        raw.execute_command("ACL", "SETUSER", _USER, "resetkeys", b"~" + _acl_pattern(scope))
        try:
            yield
        finally:
            raw.execute_command("ACL", "SETUSER", _USER, "resetkeys", "~*")

    def client(flavour: str) -> Any:
        options = {
            "host": server.host,
            "port": server.port,
            "username": _USER,
            "password": password,
        }
        if flavour == "async":
            return redis.asyncio.Redis(**options)
        return redis.Redis(**options)

    return check, client


@contextmanager
def _acl_user(redis_server: Any) -> Iterator[tuple[redis.Redis, Check, Callable[[str], Any]]]:
    with redis.Redis(host=redis_server.host, port=redis_server.port) as raw:
        raw.flushall()
        check, client = _real(redis_server, raw)
        try:
            yield raw, check, client
        finally:
            raw.execute_command("ACL", "DELUSER", _USER)


@pytest.mark.slow
@settings(CASES, max_examples=REAL_CASES)
@given(param=params, ids=st.lists(params, max_size=3), flavour=st.sampled_from(["async", "sync"]))
def test_cluster_operations_stay_inside_on_a_real_server(
    redis_server: Any, param: Any, ids: list[Any], flavour: str
) -> None:
    with _acl_user(redis_server) as (raw, check, client):
        _run(flavour, client, _scenario(raw, param, ids, check))


@pytest.mark.slow
@settings(CASES, max_examples=REAL_CASES)
@given(
    namespace=texts, keys=st.lists(texts, max_size=3), flavour=st.sampled_from(["async", "sync"])
)
def test_namespace_mappings_stay_inside_on_a_real_server(
    redis_server: Any, namespace: str, keys: list[Any], flavour: str
) -> None:
    with _acl_user(redis_server) as (raw, check, client):
        _run(flavour, client, _namespace_scenario(raw, namespace, keys, check))


# -- known bugs (minimal examples) ------------------------------------------------------------


class Account(Cluster, prefix="account:{account_id}"):
    account_id: int
    balance: Key[int] = Key(default=0)


class Bank(Cluster, prefix="bank"):
    account: Account


def test_typed_instances_come_only_from_canonical_key_names() -> None:
    with fakeredis.FakeRedis() as client:
        client.set("bank:account:007:balance", b"1")  # not written by keyspace
        repo = SyncRepository(Bank, client, settings=SETTINGS)
        assert list(repo.account.instances()) == []


def test_a_lone_surrogate_is_an_invalid_parameter() -> None:
    with fakeredis.FakeRedis() as client:
        repo = SyncRepository(Root, client, settings=SETTINGS)
        with pytest.raises(InvalidParameterError):
            repo.item("\ud800")
