"""The commands the mapping ops and flows emit, and how they read replies (no Redis)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar

import fakeredis
import pydantic
import pytest
from pydantic import BaseModel

from keyspace import InvalidParameterError, RedisSettings, TTLError
from keyspace._mapping import KeyspaceDict
from keyspace._mapping_async import AsyncKeyspaceDict
from keyspace._mapping_core import _UNSET, MappingCore, family_bounds, glob_escape
from keyspace._plan import Batch, Call, Emit, Flow, Scan, parse_reply
from keyspace._template import parse_template

T = TypeVar("T")


class Item(BaseModel):
    name: str
    qty: int = 0


SETTINGS = RedisSettings(url="memory://unit-mapping")


def make(cls: Any = KeyspaceDict[str, int], namespace: str = "ns", **options: Any) -> Any:
    return cls(namespace, fakeredis.FakeRedis(), settings=SETTINGS, **options)


def drive(flow: Flow[Any], pages: list[list[bytes]], reply: Callable[[Any], Any]) -> Any:
    """Run ``flow``: SCAN steps answer ``pages`` in turn, other messages ``reply(message)``.

    Returns ``(result, emitted, messages)``.
    """
    emitted: list[Any] = []
    messages: list[Any] = []
    answer: Any = None
    page = 0
    try:
        while True:
            message = flow.send(answer)
            messages.append(message)
            if isinstance(message, Emit):
                emitted.append(message.value)
                answer = None
            elif isinstance(message, Scan):
                page += 1
                answer = (None if page == len(pages) else page, pages[page - 1])
            else:
                answer = reply(message)
    except StopIteration as stop:
        return stop.value, emitted, messages


# -- types and names ------------------------------------------------------------------


def test_subscription_gives_a_cached_subclass_that_knows_its_types() -> None:
    cls = KeyspaceDict[int, Item]
    assert cls is KeyspaceDict[int, Item]
    assert issubclass(cls, KeyspaceDict)
    assert (cls._key_type, cls._value_type) == (int, Item)
    assert cls.__name__ == "KeyspaceDict[int, Item]"
    assert AsyncKeyspaceDict[int, Item] is not cls
    assert (KeyspaceDict._key_type, KeyspaceDict._value_type) == (str, Any)


def test_subscription_with_type_variables_stays_generic() -> None:
    class Named(KeyspaceDict[str, T], Generic[T]):
        pass

    assert Named[int]._value_type is int
    assert Named[int]("n", fakeredis.FakeRedis(), settings=SETTINGS)._codec.annotation is int
    with pytest.raises(TypeError):
        KeyspaceDict[int, int][str, str]  # type: ignore[misc]


def test_entries_are_one_segment_below_the_namespace() -> None:
    d = make(KeyspaceDict[str, int], "app:cache")
    assert d._name("a") == "app:cache:a"
    assert d._pattern == "app:cache:*"
    assert d._key_of("app:cache:a") == "a"
    for foreign in ("app:cache:a:b", "app:cache:", "app:cachex:a", "app:cache:a*", "app:other:a"):
        assert not d._accepts(foreign), foreign


@pytest.mark.parametrize("key", ["a:b", "", "a*", "a?", "[a]", "a\\b", "{a}", 5])
def test_keys_that_cannot_be_one_segment_are_rejected(key: Any) -> None:
    d = make(KeyspaceDict[str, int])
    with pytest.raises(InvalidParameterError, match="KeyspaceDict\\[str, int\\] 'ns'"):
        d._name(key)
    assert d._op_contains(key) is None  # `in` answers False without a round trip


def test_typed_keys_render_canonically_and_parse_back() -> None:
    d = make(KeyspaceDict[int, str])
    assert d._name(5) == d._name("5") == "ns:5"
    assert d._key_of("ns:5") == 5
    assert not d._accepts("ns:007")  # d[7] could never read it
    assert not d._accepts("ns:x")
    with pytest.raises(InvalidParameterError, match="not a valid int"):
        d._name("x")


@pytest.mark.parametrize(
    ("namespace", "pattern"),
    [("ns*", "ns\\*:*"), ("n[s]", "n\\[s\\]:*"), ("n?", "n\\?:*"), ("a\\b", "a\\\\b:*")],
)
def test_glob_characters_of_a_namespace_are_escaped(namespace: str, pattern: str) -> None:
    d = make(KeyspaceDict[str, int], namespace)
    assert d._pattern == pattern
    assert d._accepts(f"{namespace}:k")
    assert not d._accepts("nsX:k")
    assert glob_escape("a*b") == "a\\*b"


@pytest.mark.parametrize("namespace", ["", ":", "a:", ":a", "a::b"])
def test_a_namespace_needs_non_empty_segments(namespace: str) -> None:
    with pytest.raises(InvalidParameterError, match="namespace"):
        make(KeyspaceDict[str, int], namespace)


def test_family_bounds_split_a_template_at_its_unbound_placeholder() -> None:
    template = parse_template("msg:{a}:x{b}:tail", where="test")
    assert family_bounds("root:u:1", template, {"a": "7"}, "b") == ("root:u:1:msg:7:x", ":tail")
    assert family_bounds("", template, {"b": "2"}, "a") == ("msg:", ":x2:tail")
    with pytest.raises(KeyError):
        family_bounds("p", template, {}, "b")


# -- writes -----------------------------------------------------------------------------


def test_set_validates_then_sends_one_set() -> None:
    d = make(KeyspaceDict[str, Item])
    op = d._op_set("a", {"name": "x"})
    assert isinstance(op, Call)
    assert op.command == ("SET", "ns:a", b'{"name":"x","qty":0}')
    with pytest.raises(pydantic.ValidationError):
        d._op_set("a", {"qty": "many"})


def test_ttl_order_call_then_expiring_then_default() -> None:
    d = make(KeyspaceDict[str, int], ttl=60)
    assert d._op_set("a", 1).command == ("SET", "ns:a", b"1", "EX", 60)
    assert d._op_set("a", 1, ttl=1.5).command == ("SET", "ns:a", b"1", "PX", 1500)
    assert d._op_set("a", 1, ttl=None).command == ("SET", "ns:a", b"1")
    with d.expiring(timedelta(minutes=2)):
        assert d._op_set("a", 1).command == ("SET", "ns:a", b"1", "EX", 120)
        with d.expiring(None):
            assert d._op_set("a", 1).command == ("SET", "ns:a", b"1")
        assert d._op_set("a", 1, ttl=5).command == ("SET", "ns:a", b"1", "EX", 5)
    assert d._op_set("a", 1).command == ("SET", "ns:a", b"1", "EX", 60)
    with pytest.raises(TTLError):
        d._op_set("a", 1, ttl=0)
    with pytest.raises(TTLError):
        d.expiring(-1).__enter__()


def test_default_ttl_comes_from_the_settings_unless_given() -> None:
    settings = RedisSettings(url="memory://unit-mapping", default_ttl=30)
    inherited = KeyspaceDict[str, int]("ns", fakeredis.FakeRedis(), settings=settings)
    assert inherited._op_set("a", 1).command == ("SET", "ns:a", b"1", "EX", 30)
    never = KeyspaceDict[str, int]("ns", fakeredis.FakeRedis(), settings=settings, ttl=None)
    assert never._op_set("a", 1).command == ("SET", "ns:a", b"1")


def test_preserve_ttl_keeps_an_existing_ttl_and_gives_new_entries_the_default() -> None:
    d = make(KeyspaceDict[str, int], preserve_ttl=True, ttl=60)
    op = d._op_set("a", 1)
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (
        ("SET", "ns:a", b"1", "NX", "EX", 60),
        ("SET", "ns:a", b"1", "XX", "KEEPTTL"),
    )
    assert d._op_set("a", 1, ttl=5).command == ("SET", "ns:a", b"1", "EX", 5)  # explicit wins
    plain = make(KeyspaceDict[str, int], preserve_ttl=True, ttl=None)
    assert plain._op_set("a", 1).command == ("SET", "ns:a", b"1", "KEEPTTL")


def test_update_validates_everything_first_then_sends_one_transaction() -> None:
    d = make(KeyspaceDict[str, int], ttl=10)
    op = d._op_update(d._pairs({"a": 1}, {"b": "2"}))
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (("SET", "ns:a", b"1", "EX", 10), ("SET", "ns:b", b"2", "EX", 10))
    later_wins = d._op_update([("a", 1), ("a", 2)])
    assert isinstance(later_wins, Batch)
    assert later_wins.commands == (("SET", "ns:a", b"2", "EX", 10),)
    assert d._op_update([]) is None
    with pytest.raises(pydantic.ValidationError):
        d._op_update([("a", 1), ("b", "two")])
    with pytest.raises(InvalidParameterError):
        d._op_update([("a", 1), ("b:c", 2)])


def test_update_arguments_follow_dict_update() -> None:
    d = make(KeyspaceDict[str, int])

    class KeysOnly:
        def keys(self) -> list[str]:
            return ["k"]

        def __getitem__(self, key: str) -> int:
            return 7

    assert d._pairs(KeysOnly(), {}) == [("k", 7)]
    assert d._pairs([("a", 1), ["b", 2]], {"c": 3}) == [("a", 1), ("b", 2), ("c", 3)]
    with pytest.raises(ValueError, match="element #1 has length 3"):
        d._pairs([("a", 1), ("b", 2, 3)], {})
    with pytest.raises(TypeError):
        d._pairs([1], {})


def test_setdefault_is_set_nx_and_get_in_one_transaction() -> None:
    d = make(KeyspaceDict[str, int], ttl=9)
    op = d._op_setdefault("a", "3")
    assert isinstance(op, Batch)
    assert op.atomic
    assert op.commands == (("SET", "ns:a", b"3", "NX", "EX", 9), ("GET", "ns:a"))
    assert parse_reply(op, [True, b"3"]) == 3  # we wrote it
    assert parse_reply(op, [None, b"8"]) == 8  # someone else had
    with pytest.raises(pydantic.ValidationError):
        d._op_setdefault("a", "x")


def test_pop_is_getdel_and_reads_missing_as_default_or_key_error() -> None:
    d = make(KeyspaceDict[str, int])
    op = d._op_pop("a", None)
    assert op.command == ("GETDEL", "ns:a")  # type: ignore[union-attr]
    assert parse_reply(op, b"4") == 4
    assert parse_reply(op, None) is None
    with pytest.raises(KeyError):
        parse_reply(d._op_pop("a", _UNSET), None)


def test_delete_and_ttl_read_missing_entries_as_key_error() -> None:
    d = make(KeyspaceDict[str, int])
    delete = d._op_delete("a")
    assert delete.command == ("DEL", "ns:a")
    assert parse_reply(delete, 1) is None
    with pytest.raises(KeyError):
        parse_reply(delete, 0)
    ttl = d._op_ttl("a")
    assert ttl.command == ("PTTL", "ns:a")
    assert (parse_reply(ttl, 1500), parse_reply(ttl, -1)) == (1.5, None)
    with pytest.raises(KeyError):
        parse_reply(ttl, -2)


# -- flows ------------------------------------------------------------------------------


def test_len_scans_with_a_large_count_and_dedupes() -> None:
    d = make(KeyspaceDict[str, int])
    pages = [[b"ns:a", b"ns:b", b"ns:sub:c"], [b"ns:a", b"ns:c", b"nsx"]]
    result, _, messages = drive(d._flow_len(), pages, lambda m: pytest.fail(f"sent {m}"))
    assert result == 3
    assert messages[0] == Scan("ns:*", 1000, None)
    counted = RedisSettings(url="memory://unit-mapping", scan_count=50)
    small = KeyspaceDict[str, int]("ns", fakeredis.FakeRedis(), settings=counted)
    assert drive(small._flow_len(), [[]], lambda m: None)[2][0] == Scan("ns:*", 50, None)


def test_iteration_and_items_read_each_page_in_one_round_trip() -> None:
    d = make(KeyspaceDict[int, int])
    pages = [[b"ns:1", b"ns:2", b"ns:x"], [], [b"ns:3", b"ns:1"]]
    _, keys, _ = drive(d._flow_keys(), pages, lambda m: pytest.fail(f"sent {m}"))
    assert keys == [1, 2, 3]
    stored = {b"ns:1": b"10", b"ns:3": b"30"}  # ns:2 vanished between SCAN and MGET
    _, items, messages = drive(
        d._flow_items(), pages, lambda m: [stored.get(name) for name in m[1:]]
    )
    assert items == [(1, 10), (3, 30)]
    assert [m for m in messages if isinstance(m, tuple)] == [
        ("MGET", b"ns:1", b"ns:2"),
        ("MGET", b"ns:3"),
    ]
    result, _, _ = drive(d._flow_dict(), pages, lambda m: [stored.get(n) for n in m[1:]])
    assert result == {1: 10, 3: 30}


def test_popitem_skips_entries_that_vanish_and_raises_when_empty() -> None:
    d = make(KeyspaceDict[str, int])
    pages = [[b"other", b"ns:a"], [b"ns:b"]]
    replies = {b"ns:a": None, b"ns:b": b"2"}
    result, _, messages = drive(d._flow_popitem(), pages, lambda m: replies[m[1]])
    assert result == ("b", 2)
    assert [m for m in messages if isinstance(m, tuple)] == [
        ("GETDEL", b"ns:a"),
        ("GETDEL", b"ns:b"),
    ]
    with pytest.raises(KeyError, match="is empty"):
        drive(d._flow_popitem(), [[b"ns:a"]], lambda m: None)


def test_clear_unlinks_only_entries() -> None:
    d = make(KeyspaceDict[str, int])
    result, _, messages = drive(
        d._flow_clear(),
        [[b"ns:a", b"ns:sub:b", b"ns:c"]],
        lambda pipeline: [len(command) - 1 for command in pipeline],
    )
    assert result == 2
    assert messages[-1] == [("UNLINK", b"ns:a", b"ns:c")]  # one pipeline of UNLINKs


# -- batching state -----------------------------------------------------------------------


def test_batches_buffer_writes_until_the_outermost_block_ends() -> None:
    d = make(KeyspaceDict[str, int])
    outer, mark = d._batch_open()
    assert d._queued(d._op_set("a", 1)) is None
    inner, inner_mark = d._batch_open()
    assert (outer, inner) == (True, False)
    d._queued(d._op_set("b", 2))
    assert d._batch_close(inner, inner_mark, ok=True) is None  # nested: nothing sent yet
    inner, inner_mark = d._batch_open()
    d._queued(d._op_set("c", 3))
    assert d._batch_close(inner, inner_mark, ok=False) is None  # its own writes are dropped
    op = d._batch_close(outer, mark, ok=True)
    assert isinstance(op, Batch)
    assert op.commands == (("SET", "ns:a", b"1"), ("SET", "ns:b", b"2"))
    assert d._queued(d._op_set("d", 4)) is not None  # no batch any more


def test_a_failing_outermost_batch_sends_nothing() -> None:
    d = make(KeyspaceDict[str, int])
    token, mark = d._batch_open()
    d._queued(d._op_set("a", 1))
    assert d._batch_close(token, mark, ok=False) is None


def test_ops_with_results_send_the_buffer_first_in_the_same_round_trip() -> None:
    d = make(KeyspaceDict[str, int])
    token, mark = d._batch_open()
    d._queued(d._op_set("a", 1))
    op = d._op_pop("a", None)
    assert isinstance(op, Batch)
    assert op.commands == (("SET", "ns:a", b"1"), ("GETDEL", "ns:a"))
    assert parse_reply(op, [True, b"1"]) == 1
    assert d._batch_close(token, mark, ok=True) is None  # nothing left to send


def test_a_delete_inside_a_batch_does_not_raise_for_a_missing_key() -> None:
    d = make(KeyspaceDict[str, int])
    token, mark = d._batch_open()
    assert parse_reply(d._op_delete("a"), 0) is None
    d._batch_close(token, mark, ok=True)
    with pytest.raises(KeyError):
        parse_reply(d._op_delete("a"), 0)


def test_expiring_and_batch_are_local_to_a_thread() -> None:
    d = make(KeyspaceDict[str, int])
    seen: list[Any] = []

    def other_thread() -> None:
        seen.append(d._op_set("a", 1).command)  # type: ignore[union-attr]
        seen.append(d._queued(d._op_set("a", 1)) is not None)

    with d.expiring(7):
        token, mark = d._batch_open()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        d._batch_close(token, mark, ok=False)
    assert seen == [("SET", "ns:a", b"1"), True]


def test_the_core_is_shared_by_both_flavours() -> None:
    assert issubclass(KeyspaceDict, MappingCore)
    assert issubclass(AsyncKeyspaceDict, MappingCore)
    a = AsyncKeyspaceDict[str, int]("ns", fakeredis.FakeAsyncRedis(), settings=SETTINGS)
    assert a._op_set("a", 1).command == ("SET", "ns:a", b"1")  # type: ignore[union-attr]
    assert repr(a) == "<AsyncKeyspaceDict[str, int] ns:*>"


def test_views_of_the_same_keys_and_client_share_expiring_and_batch() -> None:
    client = fakeredis.FakeRedis()
    one = KeyspaceDict[str, int]("ns", client, settings=SETTINGS)
    two = KeyspaceDict[str, int]("ns", client, settings=SETTINGS)
    elsewhere = KeyspaceDict[str, int]("other", client, settings=SETTINGS)
    other_client = KeyspaceDict[str, int]("ns", fakeredis.FakeRedis(), settings=SETTINGS)
    with one.expiring(5):
        assert two._op_set("a", 1).command == ("SET", "ns:a", b"1", "EX", 5)  # type: ignore[union-attr]
        assert elsewhere._op_set("a", 1).command == ("SET", "other:a", b"1")  # type: ignore[union-attr]
        assert other_client._op_set("a", 1).command == ("SET", "ns:a", b"1")  # type: ignore[union-attr]
        with elsewhere.expiring(7), two.expiring(None):
            assert one._op_set("a", 1).command == ("SET", "ns:a", b"1")  # type: ignore[union-attr]
        assert one._op_set("a", 1).command == ("SET", "ns:a", b"1", "EX", 5)  # type: ignore[union-attr]
    outermost, mark = one._batch_open()
    assert two._queued(two._op_set("b", 2)) is None
    assert elsewhere._queued(elsewhere._op_set("b", 2)) is not None
    op = one._batch_close(outermost, mark, ok=True)
    assert isinstance(op, Batch)
    assert op.commands == (("SET", "ns:b", b"2"),)


def test_helpers_for_other_shapes() -> None:
    assert KeyspaceDict[str, list[int]].__name__ == "KeyspaceDict[str, list[int]]"
    d = make(KeyspaceDict[str, int])
    d._atomic = False  # as on Redis Cluster: a pipeline of GETs, split by node
    assert d._fetch([b"ns:a", b"ns:b"]) == [("GET", b"ns:a"), ("GET", b"ns:b")]
    with pytest.raises(KeyError):
        family_bounds("p", parse_template("a:{x}", where="test"), {}, "y")
    combined = d._combined([d._op_set("a", 1), d._op_set("b", 2)])
    with pytest.raises(RuntimeError, match="boom"):
        combined.parse([True, RuntimeError("boom")])
    assert d.__eq__(5) is NotImplemented
    assert d.__or__(5) is NotImplemented  # type: ignore[operator]
    assert d.__ror__(5) is NotImplemented  # type: ignore[operator]
