"""The clear flow: UNLINKs in chunks on one server and by slot on Redis Cluster, and its filter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.exceptions import ResponseError

from keyspace import Cluster, Key
from keyspace._cluster import root_node
from keyspace._plan import GATHER_CHUNKS, Scan, accepted, as_text, scan_unlink
from keyspace._slots import slot_of
from keyspace._whole import targets


def _drive(flow: Any, pages: list[list[str]]) -> tuple[list[Any], int]:
    """Answer the flow's SCANs with ``pages`` and its UNLINKs as if every name existed."""
    sent: list[Any] = []
    reply: Any = None
    page = iter(pages)
    try:
        while True:
            message = flow.send(reply)
            if isinstance(message, Scan):
                keys = next(page)
                reply = (None if keys is pages[-1] else "more", keys)
            else:
                sent.append(message)
                commands = message if isinstance(message, list) else [message]
                replies = [len(command) - 1 for command in commands]
                reply = replies if isinstance(message, list) else replies[0]
    except StopIteration as stop:
        return sent, stop.value


def _names(count: int, start: int = 0) -> list[str]:
    return [f"ks:user:{i}:age" for i in range(start, start + count)]


def test_one_server_gathers_names_and_sends_chunks_in_one_pipeline() -> None:
    chunk = 4
    names = _names(chunk * GATHER_CHUNKS + 6)
    pages = [names[i : i + 100] for i in range(0, len(names), 100)]

    sent, deleted = _drive(scan_unlink("ks:user:*", lambda _: True, 100, chunk), pages)

    gathered = names[: chunk * GATHER_CHUNKS]
    assert sent == [
        [("UNLINK", *gathered[i : i + chunk]) for i in range(0, len(gathered), chunk)],
        [("UNLINK", *names[-6:-2]), ("UNLINK", *names[-2:])],  # the rest, once the scan ends
    ]
    assert deleted == len(names)


def test_redis_cluster_gathers_names_and_sends_one_slot_unlinks() -> None:
    chunk = 3
    gather = chunk * GATHER_CHUNKS
    names = [*_names(gather + 50), "ks:{same}:a", "ks:{same}:b", "ks:{same}:c", "ks:{same}:d"]
    pages = [names[i : i + 100] for i in range(0, len(names), 100)]

    sent, deleted = _drive(scan_unlink("ks:*", lambda _: True, 100, chunk, slot_of), pages)

    assert deleted == len(names)
    assert all(isinstance(batch, list) for batch in sent)  # pipelines of UNLINKs
    assert len(sent) == 2  # the first gather's worth, then the rest once the scan ends
    assert sum(len(command) - 1 for command in sent[0]) == gather
    commands = [command for batch in sent for command in batch]
    for command in commands:
        assert command[0] == "UNLINK"
        assert 1 <= len(command) - 1 <= chunk
        assert len({slot_of(name) for name in command[1:]}) == 1  # one slot each
    unlinked = [name for command in commands for name in command[1:]]
    assert sorted(unlinked) == sorted(names)  # each exactly once
    same_slot = [command for command in commands if "ks:{same}:a" in command]
    assert same_slot == [("UNLINK", "ks:{same}:a", "ks:{same}:b", "ks:{same}:c")]


def test_names_the_declaration_refuses_are_left_alone() -> None:
    pages = [["ks:user:1:age", "ks:user:1:other"]]

    sent, deleted = _drive(scan_unlink("ks:*", lambda n: n.endswith(":age"), 10, 5, slot_of), pages)

    assert sent == [[("UNLINK", "ks:user:1:age")]]
    assert deleted == 1


def test_an_error_reply_in_the_pipeline_is_raised() -> None:
    flow = scan_unlink("ks:*", lambda _: True, 10, 5, slot_of)
    assert isinstance(next(flow), Scan)
    batch = flow.send((None, ["ks:a", "ks:b"]))

    replies: list[Any] = [1] * len(batch)
    replies[-1] = ResponseError("READONLY You can't write against a read only replica")

    with pytest.raises(ResponseError, match="READONLY"):
        flow.send(replies)


class Box(Cluster, prefix="box:{box_id}"):
    label: Key[str] = ""


class Member(Cluster, prefix="{member_id}"):
    age: Key[int] = 0
    box: Box


class Shelf(Cluster, prefix="ks"):
    member: Member


# Bound at "ks", and at the empty prefix: names with no literal head at all.
FAMILIES = targets(root_node(Shelf), "ks", {})[1] + targets(root_node(Shelf), "", {})[1]
HOSTILE = st.sampled_from(
    ["ks:", "1", "x", ":", "*", "\n", "age", "box:", "label", "\\", "{", "}", "é", "\udcff"]
)
NAMES = st.one_of(
    st.lists(HOSTILE, max_size=8).map("".join),
    st.builds(lambda i: f"ks:{i}:age", st.text(max_size=3)),
    st.builds(lambda i, b: f"ks:{i}:box:{b}:label", st.text(max_size=2), st.text(max_size=2)),
)


def _as_key(name: str, raw: bool) -> Any:
    return name.encode("utf-8", "surrogateescape") if raw else name


@pytest.mark.parametrize(
    "keys",
    [
        [b"ks:user:1:age", b"ks:user:\xff:age", "ks:user:\u00e9:age".encode(), b"ks:user:2:name"],
        [b"ks:user:1:age", b"ks:user:1:age*ks:user:2:age", b"ks:user:3:age"],  # the separator
        [b"ks:user:\xe9*:age", b"ks:user:4:age"],  # a broken UTF-8 sequence before it
        ["ks:user:1:age", "ks:user:x:y:age"],  # a decoding client's str names
        [],
    ],
)
def test_accepted_judges_every_name_as_its_own_text(keys: list[Any]) -> None:
    seen: list[str] = []

    def accept(text: str) -> bool:
        seen.append(text)
        return text.endswith(":age") and "*" not in text

    assert accepted(keys, accept) == [key for key in keys if accept(as_text(key))]
    assert seen[: len(keys)] == [as_text(key) for key in keys]  # the same texts, in order
    assert accepted(keys, accept, lambda joined: False) == accepted(keys, accept)


@given(names=st.lists(NAMES, max_size=12), raw=st.booleans())
def test_a_whole_reply_is_accepted_only_when_each_of_its_names_is(
    names: list[str], raw: bool
) -> None:
    keys = [_as_key(name, raw) for name in names]
    for family in FAMILIES:
        one_by_one = [key for key in keys if family.regex.fullmatch(as_text(key))]
        assert accepted(keys, family.regex.fullmatch, family.every.fullmatch) == one_by_one


def test_the_families_of_a_declaration_and_their_globs() -> None:
    assert [(f.glob, f.regex.pattern) for f in FAMILIES] == [
        ("ks:*", "ks:[^:{}*?\\[\\]\\\\]+:(?:age|box:[^:{}*?\\[\\]\\\\]+:(?:label))"),
        ("*", "[^:{}*?\\[\\]\\\\]+:(?:age|box:[^:{}*?\\[\\]\\\\]+:(?:label))"),
    ]
    shelf = FAMILIES[0]
    every_name = ["ks:1:age", "ks:2:box:a:label"]
    assert shelf.every.fullmatch("*".join(every_name))
    assert not shelf.every.fullmatch("*".join([*every_name, "ks:1:2:age"]))
