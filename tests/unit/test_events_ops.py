"""Publish-on-write commands and event parsing, without Redis."""

from __future__ import annotations

import json

from keyspace import Cluster, Key
from keyspace._cluster import root_node
from keyspace._events import CHANNEL_PREFIX, key_specs, parse_event, publishing, spec_decoder
from keyspace._plan import Batch, Call


class Doc(Cluster, prefix="doc:{doc_id}"):
    title: Key[str] = ""
    page: Key[int] = Key("page:{n}", default=0)


class Top(Cluster, prefix="top"):
    doc: Doc


def test_a_write_call_becomes_a_batch_that_publishes_once_per_key() -> None:
    op = Call(("SET", "top:doc:1:title", b'"T"', "EX", 5), bool, "top:doc:1:title", "Key[str]")
    published = publishing(op, "w1")
    assert isinstance(published, Batch)
    assert published.atomic
    assert published.commands[0] == op.command
    (name, channel, payload) = published.commands[1]
    assert (name, channel) == ("PUBLISH", CHANNEL_PREFIX + "top:doc:1:title")
    assert json.loads(payload) == {"op": "set", "value": '"T"', "writer": "w1"}
    assert published.parse([b"OK", 1]) is True


def test_the_expiry_after_a_write_is_part_of_it() -> None:
    op = Batch((("RPUSH", "k", b"1"), ("PEXPIRE", "k", 500)), lambda r: r[0])
    published = publishing(op, "w")
    assert [c[0] for c in published.commands] == ["RPUSH", "PEXPIRE", "PUBLISH"]
    assert published.parse([3, 1, 0]) == 3


def test_reads_publish_nothing_and_deletes_publish_every_key() -> None:
    read = Call(("GET", "k"), bytes)
    assert publishing(read, "w") is read
    unlink = publishing(Call(("UNLINK", "a", "b"), int), "w")
    assert [c[1] for c in unlink.commands[1:]] == [CHANNEL_PREFIX + "a", CHANNEL_PREFIX + "b"]


def test_parse_event_decodes_values_of_declared_keys() -> None:
    specs = spec_decoder(key_specs(root_node(Top), "top", {}))
    payload = json.dumps({"op": "set", "value": "7", "writer": "w"})
    event = parse_event(CHANNEL_PREFIX + "top:doc:3:page:2", payload.encode(), "publish", specs)
    assert (event.key, event.operation, event.value, event.writer) == (
        "top:doc:3:page:2",
        "set",
        7,
        "w",
    )
    foreign = parse_event(CHANNEL_PREFIX + "top:other", payload, "publish", specs)
    assert foreign.value == "7"  # undeclared: the raw JSON text
    notified = parse_event("__keyspace@0__:top:doc:1:title", b"expired", "keyspace", specs)
    assert (notified.key, notified.operation, notified.value) == (
        "top:doc:1:title",
        "expired",
        None,
    )


def test_every_write_publishes_but_the_steps_of_another_write() -> None:
    batch = Batch(
        (
            ("SET", "a", b"1"),
            ("SET", "a", b"2"),
            ("DEL", "b"),
            ("RPUSH", "b", b"x"),
            ("PEXPIRE", "b", 500),
            ("GETDEL", "c"),
        ),
        list,
    )
    published = [json.loads(c[2]) | {"key": c[1]} for c in publishing(batch, "w").commands[6:]]
    assert [(p["key"], p["op"], p["value"]) for p in published] == [
        (CHANNEL_PREFIX + "a", "set", "1"),
        (CHANNEL_PREFIX + "a", "set", "2"),
        (CHANNEL_PREFIX + "b", "rpush", None),  # the DEL before a rewrite is part of it
        (CHANNEL_PREFIX + "c", "del", None),  # every deletion is "del"
    ]
