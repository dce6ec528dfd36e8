"""Declaring clusters: compile-time checks, TTL options and describe()."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keyspace import INHERIT, Cluster, DeclarationError, Key, TTLError
from keyspace._cluster import RESERVED_NAMES, root_node
from keyspace._keys import ttl_ms


class Messages(Cluster, prefix="messages", ttl=50):
    message: Key[str] = Key("message:{message_id}", default="Unknown Message")


class User(Cluster, prefix="user:{user_id}", ttl=120):
    user_id: int
    age: Key[int] = 0
    tags: Key[list[str]] = []
    short: Key[str] = Key(ttl=5)
    forever: Key[str] = Key(ttl=None)
    messages: Messages


class Root(Cluster, prefix="root"):
    user: User
    project_name: Key[str]


def test_describe_gives_templates_types_params_and_resolved_ttls() -> None:
    info = Root.describe()
    assert info["prefix"] == "root"
    assert info["ttl"] == "default"
    assert info["keys"]["project_name"] == {
        "key": "root:project_name",
        "type": "str",
        "params": [],
        "default": None,
        "has_default": False,
        "ttl": "default",
    }
    user = info["clusters"]["user"]
    assert user["prefix"] == "root:user:{user_id}"
    assert user["params"] == ["user_id"]
    assert user["ttl"] == 120
    assert user["keys"]["age"]["ttl"] == 120
    assert user["keys"]["age"]["default"] == 0
    assert user["keys"]["tags"]["type"] == "list[str]"
    assert user["keys"]["short"]["ttl"] == 5
    assert user["keys"]["forever"]["ttl"] is None
    message = user["clusters"]["messages"]["keys"]["message"]
    assert message == {
        "key": "root:user:{user_id}:messages:message:{message_id}",
        "type": "str",
        "params": ["message_id"],
        "default": "Unknown Message",
        "has_default": True,
        "ttl": 50,
    }


def test_ttls_inherit_through_clusters_without_their_own() -> None:
    class Inner(Cluster, prefix="inner"):
        k: Key[int] = 0

    class Outer(Cluster, prefix="outer", ttl=timedelta(minutes=2)):
        inner: Inner

    node = root_node(Outer)
    assert node.children["inner"].keys["k"].ttl == 120_000


def test_placeholder_shared_with_an_ancestor_is_inherited() -> None:
    class Settings(Cluster, prefix="settings:{user_id}"):
        theme: Key[str] = "dark"
        owner: Key[str] = Key("owner:{user_id}", default="")

    class U(Cluster, prefix="u:{user_id}"):
        settings: Settings

    class R(Cluster, prefix="r"):
        u: U

    node = root_node(R).children["u"]
    assert [p.name for p in node.own_params] == ["user_id"]
    assert node.children["settings"].own_params == ()
    assert node.children["settings"].keys["owner"].own_params == ()


def declare(body: dict[str, Any], annotations: dict[str, Any], **options: Any) -> type[Cluster]:
    namespace = {"__annotations__": annotations, "__module__": __name__, **body}
    return type("Bad", (Cluster,), namespace, **options)


@pytest.mark.parametrize(
    ("body", "annotations", "options", "message"),
    [
        ({"age": Key()}, {}, {"prefix": "p"}, "Bad.age: a key needs a type"),
        ({}, {"age": Key}, {"prefix": "p"}, "Bad.age: a key needs a type"),
        ({}, {"age": Key[int]}, {"prefix": "p:{"}, "Bad prefix: cannot parse"),
        ({"m": Key("m:{1x}")}, {"m": Key[int]}, {"prefix": "p"}, "invalid placeholder"),
        ({}, {"age": Key[int]}, {"prefix": "p:{_id}"}, "invalid placeholder"),
        (
            {"a": Key("x"), "b": Key("x")},
            {"a": Key[int], "b": Key[int]},
            {"prefix": "p"},
            "same key names",
        ),
        ({}, {"clear": Key[int]}, {"prefix": "p"}, "shadows"),
        ({}, {"user_id": int}, {"prefix": "p"}, "Bad.user_id: not a Key"),
        ({"age": "x"}, {"age": Key[int]}, {"prefix": "p"}, "Bad.age: default 'x'"),
        ({}, {"age": Key[int]}, {"prefix": "p", "ttl": 0}, "ttl must be positive"),
        ({"age": Key(ttl=-1)}, {"age": Key[int]}, {"prefix": "p"}, "ttl must be positive"),
    ],
)
def test_declaration_errors_name_the_class_and_field(
    body: dict[str, Any], annotations: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises((DeclarationError, TTLError), match=message.replace("(", r"\(")):
        declare(body, annotations, **options)


def test_nested_cluster_without_prefix_is_an_error() -> None:
    class NoPrefix(Cluster):
        k: Key[int] = 0

    with pytest.raises(
        DeclarationError, match=r"Bad\.child: nested cluster NoPrefix has no prefix"
    ):
        declare({}, {"child": NoPrefix}, prefix="p")


def test_sibling_cluster_and_key_overlap_is_an_error() -> None:
    class Users(Cluster, prefix="user:{user_id}"):
        k: Key[int] = 0

    with pytest.raises(DeclarationError, match=r"'count'.*'users'"):
        declare({"count": Key("user:count:total")}, {"users": Users, "count": Key[int]}, prefix="p")
    # A key at the same depth as the prefix cannot collide with the cluster's keys.
    declare({"count": Key("user:count")}, {"users": Users, "count": Key[int]}, prefix="p")


def test_a_cluster_containing_itself_is_an_error() -> None:
    with pytest.raises(DeclarationError, match=r"Node\.child: cluster Node contains itself"):

        class Node(Cluster, prefix="node:{n}"):
            child: Node


def test_reserved_names_cover_every_public_handle_attribute() -> None:
    from keyspace import AsyncBoundCluster, Repository, SyncBoundCluster, SyncRepository

    public = set()
    for cls in (AsyncBoundCluster, SyncBoundCluster, Repository, SyncRepository):
        public |= {name for name in dir(cls) if not name.startswith("_")}
    assert public <= RESERVED_NAMES


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [(5, 5000), (0.25, 250), (timedelta(days=2), 172_800_000), (None, None), (INHERIT, INHERIT)],
)
def test_ttl_normalisation(ttl: Any, expected: Any) -> None:
    assert ttl_ms(ttl, "K") == expected


@pytest.mark.parametrize(
    "ttl",
    [0, -1, 0.0001, float("inf"), float("nan"), "5", True, timedelta(0), timedelta(seconds=-3)],
)
def test_bad_ttls(ttl: Any) -> None:
    with pytest.raises(TTLError, match="K"):
        ttl_ms(ttl, "K")


def test_defaults_are_kept_as_validated() -> None:
    class Lax(Cluster, prefix="lax"):
        v: Key[int] = "3"  # type: ignore[assignment]

    assert Lax.describe()["keys"]["v"]["default"] == 3


def test_an_inherited_placeholder_cannot_be_retyped_by_a_nested_cluster() -> None:
    class Inner(Cluster, prefix="inner:{user_id}"):
        user_id: int
        k: Key[int] = 0

    class Outer(Cluster, prefix="outer:{user_id}"):
        inner: Inner

    class Top(Cluster, prefix="top"):
        outer: Outer

    with pytest.raises(DeclarationError, match=r"Inner\.user_id: placeholder \{user_id\}"):
        root_node(Top)
