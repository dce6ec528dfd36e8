"""``keyspace.compat.redisimnest``, used as a redisimnest user uses redisimnest.

Every case runs on the in-memory backend and on a real redis-server. Data "written by
redisimnest" is written here directly with redis-py, as redisimnest writes it:
``json.dumps({"__type__": tag, "value": ...})``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from enum import Enum, IntEnum
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from keyspace import (
    BindingError,
    CorruptValueError,
    DeclarationError,
    InvalidParameterError,
    OptionsError,
    Repository,
)
from keyspace import Cluster as TypedCluster
from keyspace import Key as TypedKey
from keyspace.compat.redisimnest import (
    SERIALIZED_TYPE_MAP,
    BaseCluster,
    InvalidPrefixTemplateError,
    Key,
    Legacy,
    MissingParameterError,
    ParameterValidationError,
    RedisManager,
    deserialize,
    serialize,
)

# The quickstart of redisimnest's README (its PyPI page), unchanged but for the import lines.
QUICKSTART = """
from asyncio import run
from keyspace.compat.redisimnest import BaseCluster, Key
from keyspace.compat.redisimnest import RedisManager

# Define structured key clusters with dynamic TTL and parameterized keys
class App:
    __prefix__ = 'app'
    __ttl__ = 80  # TTL for keys within this cluster
    tokens = Key('tokens', default=[])
    pending_users = Key('pending_users')

class User:
    __prefix__ = 'user:{user_id}'  # Parameterized prefix for user-specific keys
    __ttl__ = 120  # TTL for user keys
    age = Key('age', 0)
    name = Key('name', "Unknown")

class RootCluster(BaseCluster):
    __prefix__ = 'root'
    app = App
    user = User
    project_name = Key('project_name')

# Initialize the Redis client and root cluster
redis = RedisManager.get_client()
root = RootCluster(redis_client=redis)

# Async operation: Setting and getting keys
async def main():
    await root.project_name.set("RedisimNest")
    await root.user(1).age.set(30)
    print(await root.user(1).age.get())  # ➜ 30
    await root.app.tokens.set(["token1", "token2"])
    await root.app.tokens.expire(60)
    await root.app.clear()  # Clear all keys under the 'app' prefix

    the_type = await root.project_name.the_type # we don't have to call since it's property, but don't forget `await` expression
    assert the_type is str # the type of value was `string` (every value is serialized with metadata `__type__` under the hood)

    await root.project_name.delete()
    the_type = await root.project_name.the_type
    assert the_type is None # deleted keys have no type

run(main())
"""  # noqa: E501


class Messages:
    __prefix__ = "messages"
    message = Key("message:{message_id}", default="Unknown Message")


class Settings:
    __prefix__ = "settings"
    theme = Key("theme", "light", ttl=5)


class User:
    __prefix__ = "user:{user_id}"
    __ttl__ = 120
    age = Key("age", 0)
    name = Key("name", "Unknown")
    session = Key("session:{session_id}", ttl=30)
    messages = Messages
    settings = Settings

    async def birthday(self) -> int:
        """A method of the cluster class, as redisimnest users write them."""
        age: int = await self.age.get() + 1  # type: ignore[attr-defined]
        await self.age.set(age)  # type: ignore[attr-defined]
        return age


class App:
    __prefix__ = "app"
    __ttl__ = 80
    tokens = Key("tokens", default=[])
    pending_users = Key("pending_users")
    recent = Key("recent", ttl_auto_renew=True)


class Team:
    __prefix__ = "team:{org}:{team_id}"
    lead = Key("lead")


class Store(BaseCluster):
    __prefix__ = "store"
    item = Key("item:{name}")


class RootCluster(BaseCluster):
    __prefix__ = "root"
    app = App
    user = User
    team = Team
    store = Store
    project_name = Key("project_name")


@pytest_asyncio.fixture(autouse=True)
async def fresh_manager() -> AsyncIterator[None]:
    """Each test starts without a shared client and closes the one it made."""
    RedisManager._client = None
    yield
    await RedisManager.close_client()


@pytest.fixture
def client(backend: Any) -> Any:
    """A client like redisimnest's own: responses decoded to ``str``."""
    return backend.async_client(decode_responses=True)


@pytest.fixture
def root(client: Any) -> Any:
    return RootCluster(redis_client=client)


def envelope(tag: str, value: Any) -> str:
    """What redisimnest stores."""
    return json.dumps({"__type__": tag, "value": value})


# -- the README ----------------------------------------------------------------------


async def test_readme_quickstart_runs_unchanged(
    backend: Any, raw: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", backend.url)  # RedisManager builds its client from this
    real_run = asyncio.run

    def run_then_close(main: Any) -> Any:
        # Close the shared client in the script's own event loop (the script never does).
        async def script() -> Any:
            try:
                return await main
            finally:
                await RedisManager.close_client()

        return real_run(script())

    monkeypatch.setattr(asyncio, "run", run_then_close)
    code = compile(QUICKSTART, "README quickstart", "exec")
    await asyncio.to_thread(exec, code, {"__name__": "readme_quickstart"})

    assert capsys.readouterr().out == "30\n"
    assert await raw.keys("*") == [b"root:user:1:age"]
    assert json.loads(await raw.get("root:user:1:age")) == {"__type__": "int", "value": 30}
    assert 0 < await raw.ttl("root:user:1:age") <= 120


# -- storage format ------------------------------------------------------------------

MOMENT = datetime(2024, 1, 1, 12, 30, 45)
ID = UUID("12345678-1234-5678-1234-567812345678")

# (stored by redisimnest, what get() returns)
STORED_BY_REDISIMNEST = [
    (envelope("str", "hello"), "hello"),
    (envelope("int", 30), 30),
    (envelope("float", 1.5), 1.5),
    (envelope("bool", True), True),
    (envelope("none", "None"), None),
    (envelope("datetime", "2024-01-01T12:30:45"), MOMENT),
    (envelope("datetime", "2024-01-01T12:30:45+00:00"), MOMENT.replace(tzinfo=timezone.utc)),
    (envelope("uuid", str(ID)), ID),
    (envelope("list", ["a", 1, 2.5, False]), ["a", 1, 2.5, False]),
    (envelope("tuple", [1, "x"]), (1, "x")),
    (envelope("dict", {"a": [1, {"b": None}]}), {"a": [1, {"b": None}]}),  # older format
    (
        envelope(
            "list",
            [
                {"__type__": "datetime", "value": "2024-01-01T12:30:45"},
                {"__type__": "uuid", "value": str(ID)},
                {"__type__": "none", "value": None},
            ],
        ),
        [MOMENT, ID, None],
    ),
    (
        envelope(
            "dict",
            {"when": {"__type__": "datetime", "value": "2024-01-01T12:30:45"}, "tags": [[1]]},
        ),
        {"when": MOMENT, "tags": [[1]]},
    ),
    (envelope("tuple", [{"__type__": "uuid", "value": str(ID)}, [1, 2]]), (ID, [1, 2])),
]


@pytest.mark.parametrize("decode", [True, False], ids=["str-client", "bytes-client"])
async def test_reads_values_redisimnest_stored(backend: Any, raw: Any, decode: bool) -> None:
    root = RootCluster(redis_client=backend.async_client(decode_responses=decode))
    for i, (stored, expected) in enumerate(STORED_BY_REDISIMNEST):
        await raw.set(f"root:store:item:{i}", stored)
        item = root.store.item(i)
        value = await item.get()
        assert value == expected
        assert type(value) is type(expected)
        tag = json.loads(stored)["__type__"]
        assert await item.the_type is SERIALIZED_TYPE_MAP[tag]


async def test_writes_values_redisimnest_reads(root: Any, raw: Any) -> None:
    cases = [
        ("hello", {"__type__": "str", "value": "hello"}),
        (30, {"__type__": "int", "value": 30}),
        (1.5, {"__type__": "float", "value": 1.5}),
        (True, {"__type__": "bool", "value": True}),
        (None, {"__type__": "none", "value": "None"}),
        (MOMENT, {"__type__": "datetime", "value": "2024-01-01T12:30:45"}),
        (ID, {"__type__": "uuid", "value": str(ID)}),
        ((1, "x", (2, 3)), {"__type__": "tuple", "value": [1, "x", [2, 3]]}),
        (
            [MOMENT, None, ID, {"n": 1}],
            {
                "__type__": "list",
                "value": [
                    {"__type__": "datetime", "value": "2024-01-01T12:30:45"},
                    {"__type__": "none", "value": None},
                    {"__type__": "uuid", "value": str(ID)},
                    {"n": 1},
                ],
            },
        ),
        ({1: "one", None: [True]}, {"__type__": "dict", "value": {"1": "one", "null": [True]}}),
    ]
    for i, (value, expected) in enumerate(cases):
        item = root.store.item(i)
        assert await item.set(value) is True
        stored = await raw.get(f"root:store:item:{i}")
        assert json.loads(stored) == expected
        assert json.loads(stored) == json.loads(serialize(value))  # type: ignore[arg-type]
        assert deserialize(stored) == await item.get()


async def test_values_round_trip_with_their_types(root: Any) -> None:
    class Color(str, Enum):
        RED = "red"

    class Level(IntEnum):
        HIGH = 3

    values: list[Any] = [
        "", 0, -7, 2**70, 0.1, float("inf"), False, None, MOMENT, ID, [], {}, (), ["x"],
        {"k": [1, 2]}, ("a", 1),
    ]  # fmt: skip
    for value in values:
        await root.project_name.set(value)
        back = await root.project_name.get()
        assert back == value
        assert type(back) is type(value)
        assert await root.project_name.the_type is (None if value is None else type(value))
    await root.project_name.set([Color.RED, Level.HIGH])  # enums as their values
    assert await root.project_name.get() == ["red", 3]
    await root.project_name.set(Level.HIGH)
    assert await root.project_name.get() == 3
    assert await root.project_name.the_type is int


async def test_unsupported_values_raise_before_writing(root: Any, raw: Any) -> None:
    for value in ({1, 2}, b"bytes", object(), MOMENT.date(), [object()], {(1, 2): "x"}):
        with pytest.raises(TypeError):
            await root.project_name.set(value)
    assert await raw.exists("root:project_name") == 0


async def test_data_that_is_not_an_envelope(root: Any, raw: Any) -> None:
    for stored in (b"plain text", b"30", b'{"value": 1}', envelope("set", [1]).encode()):
        await raw.set("root:project_name", stored)
        with pytest.raises(CorruptValueError):
            await root.project_name.get()
        assert await root.project_name.the_type is None
        assert await root.project_name.raw() == stored.decode()


def test_serialize_and_deserialize_as_documented() -> None:
    value = datetime.now()
    raw = serialize(value)
    value_type, restored_value = deserialize(raw, with_type=True)
    assert value_type is datetime
    assert restored_value == value

    original = UUID("12345678-1234-5678-1234-567812345678")
    _, raw = serialize(original, with_type=True, with_type_str=True)
    type_str, restored = deserialize(raw, with_type=True, with_type_str=True)
    assert type_str == "uuid"
    assert restored == original

    assert serialize(30) == b'{"__type__": "int", "value": 30}'  # bytes, as json.dumps writes
    assert serialize((1, 2), with_type=True) == (tuple, b'{"__type__": "tuple", "value": [1, 2]}')
    assert serialize(None, with_type=True, with_type_str=True)[0] == "none"
    assert deserialize('{"__type__": "str", "value": "x"}') == "x"
    assert deserialize(b'{"__type__": "none", "value": "None"}', with_type=True) == (None, None)
    with pytest.raises(ValueError, match="__type__"):
        deserialize(b'{"value": 1}')
    with pytest.raises(ValueError, match="value"):
        deserialize(b'{"__type__": "int"}')
    with pytest.raises(TypeError, match="Unsupported"):
        deserialize(envelope("complex", "1j"))
    with pytest.raises(TypeError, match="Unsupported"):
        deserialize(envelope("list", [{"__type__": "complex", "value": "1j"}]))
    with pytest.raises(TypeError, match="Unsupported"):
        serialize({1, 2})


# -- binding -------------------------------------------------------------------------


async def test_binding_by_call_keyword_and_brackets(root: Any) -> None:
    await root.user(123).name.set("John")
    assert await root.user[123].name.get() == "John"
    assert await root.user(user_id=123).name.get() == "John"
    assert await root.user("123").name.get() == "John"
    assert root.user[123].name.key == "root:user:123:name"
    message = root.user(1).messages.message
    await message(5).set("hi")
    assert await message[5].get() == "hi"
    assert await message(message_id=5).get() == "hi"
    assert message(5).key == "root:user:1:messages:message:5"
    assert await message(6).get() == "Unknown Message"
    assert root.user(ID).age.key == f"root:user:{ID}:age"  # any value, rendered as str.format
    assert root.team("acme", 2).lead.key == "root:team:acme:2:lead"
    assert root.team(org="acme", team_id=2).lead.key == "root:team:acme:2:lead"
    assert root.app().tokens.key == root.app.tokens.key == "root:app:tokens"
    assert root.project_name() is root.project_name


async def test_binding_mistakes_raise(root: Any, raw: Any) -> None:
    with pytest.raises(MissingParameterError, match="user_id"):
        await root.user.age.set(30)
    with pytest.raises(MissingParameterError, match="user_id"):
        await root.user.name.set("John")
    with pytest.raises(MissingParameterError):  # documented: [] takes a single parameter
        await root.user[123, "extra_param"].name.set("John")
    with pytest.raises(MissingParameterError):
        root.team["acme"]
    with pytest.raises(MissingParameterError, match="message_id"):
        await root.user(1).messages.message.get()
    with pytest.raises(MissingParameterError):
        root.user(1, 2)
    with pytest.raises(ParameterValidationError, match="user_id"):
        root.user("1:*")  # a value can never reach into another key
    assert issubclass(MissingParameterError, BindingError)
    assert issubclass(ParameterValidationError, InvalidParameterError)
    assert await raw.keys("*") == []


async def test_cluster_prefixes_and_description(root: Any) -> None:
    assert root.get_full_prefix() == "root"
    assert root.user(1).get_full_prefix() == "root:user:1"
    assert root.user(1).messages.get_full_prefix() == "root:user:1:messages"
    with pytest.raises(MissingParameterError):
        root.user.get_full_prefix()
    assert root.describe() == {
        "prefix": "root",
        "params": [],
        "missing_params": [],
        "subclusters": ["app", "user", "team", "store"],
        "keys": ["project_name"],
    }
    assert root.user.describe() == {
        "prefix": "user:{user_id}",
        "params": ["user_id"],
        "missing_params": ["user_id"],
        "subclusters": ["messages", "settings"],
        "keys": ["age", "name", "session"],
    }
    assert root.user(1).describe()["missing_params"] == []
    assert root.user(1).age.describe() == {
        "name": "age",
        "prefix": "age",
        "params": [],
        "key": "root:user:1:age",
        "ttl": 120,
    }
    assert repr(root.user(1)) == "<User 'root:user:1'>"
    assert repr(root.user(1).age) == "<Key(name='age' key='root:user:1:age')>"
    assert isinstance(root.user(1), User)
    assert isinstance(root, RootCluster)
    assert RootCluster.project_name.prefix_template == "project_name"  # the declaration
    assert RootCluster.user is User


# -- TTL -----------------------------------------------------------------------------


async def test_ttl_drilling_from_the_nearest_cluster(root: Any) -> None:
    await root.project_name.set("x")
    assert await root.project_name.ttl() == -1  # no cluster above has a TTL
    await root.app.tokens.set(["a"])
    assert 0 < await root.app.tokens.ttl() <= 80
    user = root.user(1)
    await user.age.set(30)
    assert 0 < await user.age.ttl() <= 120
    await user.messages.message(1).set("hi")  # Messages has no __ttl__: User's
    assert 0 < await user.messages.message(1).ttl() <= 120
    await user.settings.theme.set("dark")  # the key's own TTL beats its clusters'
    assert 0 < await user.settings.theme.ttl() <= 5
    await user.session("s").set("token")
    assert 0 < await user.session("s").ttl() <= 30
    assert user.session("s").the_ttl == 30
    assert root.project_name.the_ttl is None


async def test_set_options(root: Any) -> None:
    age = root.user(1).age
    assert await age.set(1, ex=1000) is True  # ex= beats the cluster's TTL
    assert 120 < await age.ttl() <= 1000
    await age.set(2, keepttl=True)
    assert 120 < await age.ttl() <= 1000
    assert await age.get() == 2
    await age.set(3, px=1500)
    assert 0 < await age.pttl() <= 1500
    await age.set(4, ex=timedelta(minutes=10))
    assert 120 < await age.ttl() <= 600
    assert await age.set(5, nx=True) is None
    assert await age.get() == 4
    assert await root.user(2).age.set(5, xx=True) is None
    assert await root.user(2).age.exists() == 0
    assert await root.user(2).age.set(5, nx=True) is True
    with pytest.raises(OptionsError):
        await age.set(6, nx=True, xx=True)


async def test_ttl_auto_renew_renews_on_read(root: Any) -> None:
    recent = root.app.recent
    await recent.set([1])
    await recent.expire(10)
    assert await recent.get() == [1]
    assert 10 < await recent.ttl() <= 80


# -- key methods ---------------------------------------------------------------------


async def test_key_methods(root: Any, raw: Any) -> None:
    name = root.user(1).name
    assert await name.get() == "Unknown"  # the default, never written
    assert await name.exists() == 0
    assert await name.ttl() == -2
    assert await name.pttl() == -2
    assert await name.type() == "none"
    assert await name.raw() is None
    assert await name.the_type is None
    assert await name.delete() == 0
    await name.set("Ann")
    assert await name.exists() == 1
    assert await name.type() == "string"
    assert json.loads(await name.raw()) == {"__type__": "str", "value": "Ann"}
    assert await name.touch() == 1
    assert await name.persist() is True
    assert await name.ttl() == -1
    assert await name.persist() is False
    assert await name.expire(100) is True
    assert 0 < await name.ttl() <= 100
    assert await name.expire(50, gt=True) is False
    assert await name.pexpire(timedelta(seconds=20)) is True
    assert 0 < await name.pttl() <= 20_000
    now = int(time.time())
    assert await name.expireat(now + 300) is True
    assert 200 < await name.ttl() <= 300
    assert abs(await name.expiretime() - (now + 300)) <= 1
    assert await name.pexpireat(datetime.fromtimestamp(now + 400)) is True
    assert 300 < await name.ttl() <= 400
    assert await name.expireat(datetime.fromtimestamp(now + 500)) is True
    assert await name.pexpire(30_000) is True
    assert await name.unlink() == 1
    assert await name.exists() == 0
    await name.set("Bob")
    assert await name.delete() == 1
    assert await name.expire(10) is False
    assert await raw.keys("*") == []


async def test_defaults_are_fresh_copies(root: Any) -> None:
    tokens = await root.app.tokens.get()
    assert tokens == []
    tokens.append("changed")
    assert await root.app.tokens.get() == []
    assert await root.app.pending_users.get() is None


async def test_methods_of_cluster_classes_work(root: Any) -> None:
    assert await root.user(7).birthday() == 1
    assert await root.user(7).birthday() == 2
    assert await root.user(7).age.get() == 2


# -- clear and subkeys ---------------------------------------------------------------


async def test_clear_and_subkeys_stay_inside_their_cluster(root: Any, raw: Any) -> None:
    for user_id in (1, 10, 11):
        await root.user(user_id).age.set(user_id)
    await root.user(1).messages.message(1).set("hi")
    await raw.set("root:user:1:undeclared", "x")  # under the prefix: part of the cluster
    lookalikes = ["root:user:1", "root:user:1x:age", "rootbeer:user:1:age", "root"]
    for key in lookalikes:
        await raw.set(key, "planted")

    assert sorted(await root.user(1).subkeys()) == [
        "root:user:1:age",
        "root:user:1:messages:message:1",
        "root:user:1:undeclared",
    ]
    assert await root.user(1).messages.subkeys() == ["root:user:1:messages:message:1"]
    assert await root.user(1).clear() == 3
    assert await root.user(1).subkeys() == []
    assert await root.user(10).age.get() == 10  # documented: user(10) is left alone
    assert await root.user(11).age.get() == 11
    for key in lookalikes:
        assert await raw.get(key) == b"planted"
    assert await root.clear() == 4  # user(10), user(11), and the two planted under "root:"
    assert sorted(await raw.keys("*")) == [b"root", b"rootbeer:user:1:age"]
    with pytest.raises(MissingParameterError):
        await root.user.clear()


async def test_clear_needs_a_prefix(client: Any) -> None:
    class Everything(BaseCluster):
        __prefix__ = ""
        value = Key("value")

    everything = Everything(redis_client=client)
    await everything.value.set(1)
    assert everything.value.key == "value"
    with pytest.raises(OptionsError):
        await everything.clear()
    assert await everything.subkeys() == ["value"]


# -- pipelines and the shared client -------------------------------------------------


async def test_pipeline(root: Any) -> None:
    pipe = root.get_pipeline()
    age = root.user(1).age
    written = pipe.add(age.set, 30)
    pipe.add(age.get)
    pipe.add(root.user(2).age.get)
    pipe.add(age.ttl)
    pipe.add(root.app.tokens.set, ["a"], ex=10)
    pipe.add(root.app.tokens.exists)
    assert len(pipe) == 6
    results = await pipe.execute()
    assert results[:3] == [True, 30, 0]
    assert 0 < results[3] <= 120
    assert results[4:] == [True, 1]
    assert written.result is True
    with pytest.raises(TypeError):
        pipe.add(print, 1)
    with pytest.raises(TypeError):
        pipe.add(age.describe)


async def test_manager_builds_the_client_from_settings(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", backend.url)
    client = RedisManager.get_client()
    assert RedisManager.get_client() is client
    root = RootCluster()  # without a client: the manager's
    assert root.redis is client
    await root.project_name.set("x")
    assert await root.project_name.raw() == '{"__type__":"str","value":"x"}'  # decoded
    await RedisManager.close_client()
    assert RedisManager.get_client() is not client


async def test_root_prefix_with_placeholders(client: Any) -> None:
    class Tenant(BaseCluster):
        __prefix__ = "tenant:{tenant_id}"
        plan = Key("plan", "free")

    tenant = Tenant(redis_client=client, inherited_params={"tenant_id": 7})
    await tenant.plan.set("pro")
    assert tenant.plan.key == "tenant:7:plan"
    unbound = Tenant(redis_client=client)
    with pytest.raises(MissingParameterError):
        unbound.plan  # noqa: B018
    assert await unbound(7).plan.get() == "pro"
    assert await unbound[8].plan.get() == "free"


# -- declarations --------------------------------------------------------------------


async def test_declarations_are_checked_when_the_class_is_created() -> None:
    class NoPrefix:
        value = Key("value")

    with pytest.raises(DeclarationError, match="__prefix__"):

        class Missing(BaseCluster):
            child = NoPrefix

    class Empty:
        __prefix__ = ""

    with pytest.raises(DeclarationError, match="non-empty"):

        class Nested(BaseCluster):
            child = Empty

    with pytest.raises(InvalidPrefixTemplateError):

        class Glob(BaseCluster):
            __prefix__ = "a*"

    with pytest.raises(DeclarationError):

        class Twice(BaseCluster):
            a = Key("same")
            b = Key("same")

    class Loop:
        __prefix__ = "loop"

    Loop.again = Loop  # type: ignore[attr-defined]
    with pytest.raises(DeclarationError, match="contains itself"):

        class Looping(BaseCluster):
            loop = Loop

    with pytest.raises(DeclarationError, match="is_secret"):
        Key("password", is_password=True)

    with pytest.raises(DeclarationError, match="string"):

        class NotText(BaseCluster):
            __prefix__ = 5  # type: ignore[assignment]

    with pytest.raises(DeclarationError, match="taken"):

        class Internal(BaseCluster):
            _node = Key("node")

    assert repr(Key("age", 0)) == "<Key(name='None' template='age')>"


async def test_any_attribute_name_works(client: Any) -> None:
    class Base:
        __prefix__ = "base"
        inherited = Key("inherited", 1)

    class Odd(Base):
        __prefix__ = "odd:{schema}"
        schema = Key("schema", "s")  # also a placeholder's name
        load = Key("load", "l")
        _private = Key("private", "p")

    class Names(BaseCluster):
        __prefix__ = "names"
        clear = Key("clear", "c")  # shadows clear(), as in redisimnest
        odd = Odd

    names = Names(redis_client=client)
    odd = names.odd("x")
    assert [await odd.schema.get(), await odd.load.get(), await odd._private.get()] == [
        "s",
        "l",
        "p",
    ]
    assert await odd.inherited.get() == 1
    await odd.load.set("L")
    assert odd.load.key == "names:odd:x:load"
    assert await odd.load.get() == "L"
    assert await names.clear.get() == "c"
    assert odd.describe()["keys"] == ["inherited", "schema", "load", "_private"]
    assert type(odd).load is Odd.load  # the declaration, on the class
    assert odd.load.redis is client


async def test_classes_that_cannot_be_mixed_in(client: Any) -> None:
    class Slotted:
        __slots__ = ("extra",)
        __prefix__ = "slotted"
        value = Key("value", 1)

    class Holder(BaseCluster):
        __prefix__ = "holder"
        slotted = Slotted

    holder = Holder(redis_client=client)
    assert await holder.slotted.value.get() == 1  # navigation works; its methods are not there


# -- moving to the typed API -----------------------------------------------------------


class TypedUser(TypedCluster, prefix="user:{user_id}", ttl=120):
    age: TypedKey[Legacy[int]] = 0
    joined: TypedKey[Legacy[datetime | None]] = None


class TypedRoot(TypedCluster, prefix="root"):
    user: TypedUser


async def test_typed_keys_read_redisimnest_values(root: Any, client: Any, raw: Any) -> None:
    await root.user(1).age.set(30)
    await raw.set("root:user:1:joined", envelope("datetime", "2024-01-01T12:30:45"))
    repo = Repository(TypedRoot, client)
    assert await repo.user(1).age.get() == 30
    assert await repo.user(1).joined.get() == MOMENT
    await repo.user(1).age.set(31)
    assert await raw.get("root:user:1:age") == b"31"  # plain JSON from now on
    assert await repo.user(1).age.get() == 31
