"""``keyspace tree``: the declared keyspace as text, JSON, Markdown and Mermaid (no Redis)."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel

from keyspace import Cluster, Counter, HashKey, Key, ListKey
from keyspace._cli_tree import render, tree_data
from keyspace.cli import main


class Card(BaseModel):
    owner: str = ""


class Empty(Cluster, prefix="empty"):
    pass


class Cart(Cluster, prefix="cart:{cart_id}", hash_tag=True, ttl=3600):
    items: ListKey[str]
    card: HashKey[Card]
    mode: Key[Literal['a"b', "<c>"]] = 'a"b'
    note: Key[str | None] = Key(default="x" * 50, ttl=0.5)


class Root(Cluster, prefix="store"):
    visits: Counter
    cart: Cart
    empty: Empty


class Bare(Cluster):
    name: Key[str] = Key(ttl=None)


TARGET = f"{__name__}:Root"


def test_tree_data_is_describe_with_kinds_and_real_key_names() -> None:
    data = tree_data(Root)
    described = Root.describe()
    assert data["cluster"] == described["cluster"] == "Root"
    assert data["keys"]["visits"] == {
        **described["keys"]["visits"],
        "kind": "Counter",
        "redis_type": "string",
    }
    cart = data["clusters"]["cart"]
    assert cart["prefix"] == "store:{cart:{cart_id}}"  # the hash tag, as keys are named
    assert cart["params"] == ["cart_id"]
    assert cart["keys"]["items"]["key"] == "store:{cart:{cart_id}}:items"
    assert (cart["keys"]["items"]["kind"], cart["keys"]["items"]["redis_type"]) == (
        "ListKey[str]",
        "list",
    )
    assert cart["keys"]["card"]["redis_type"] == "hash"
    assert cart["keys"]["note"]["ttl"] == 0.5
    assert data["clusters"]["empty"]["keys"] == {}


def test_text() -> None:
    assert render(tree_data(Root), "text") == "\n".join(
        [
            "Root                                                                      store"
            "                         default TTL",
            "├── visits: Counter = 0                                                   store:visits"
            "                  default TTL",
            "├── cart: Cart                                                            "
            "store:{cart:{cart_id}}        ttl 3600s",
            "│   ├── items: ListKey[str] = []                                          "
            "store:{cart:{cart_id}}:items  ttl 3600s",
            "│   ├── card: HashKey[Card]                                               "
            "store:{cart:{cart_id}}:card   ttl 3600s",
            "│   ├── mode: Key[Literal['a\"b', '<c>']] = 'a\"b'                          "
            "store:{cart:{cart_id}}:mode   ttl 3600s",
            "│   └── note: Key[str | None] = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…  "
            "store:{cart:{cart_id}}:note   ttl 0.5s",
            "└── empty: Empty                                                          "
            "store:empty                   default TTL",
        ]
    )


def test_a_root_without_prefix() -> None:
    data = tree_data(Bare)
    assert data["prefix"] == ""
    assert data["keys"]["name"]["key"] == "name"
    assert render(data, "text").splitlines() == [
        "Bare                (no prefix)  default TTL",
        "└── name: Key[str]  name         no expiry",
    ]
    assert "No prefix; default TTL." in render(data, "markdown")
    assert 'c0["Bare<br/>(no prefix)<br/>default TTL"]' in render(data, "mermaid")


def test_markdown() -> None:
    assert render(tree_data(Root), "markdown") == (
        "# Keyspace of `Root`\n"
        "\n"
        "## `Root`\n"
        "\n"
        "Prefix `store`; default TTL.\n"
        "\n"
        "| Key | Template | Kind | Returns | TTL | Default |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| `visits` | `store:visits` | `Counter` | `int` | default TTL | `0` |\n"
        "\n"
        "## `Root.cart` (Cart)\n"
        "\n"
        "Prefix `store:{cart:{cart_id}}`; parameters `cart_id`; ttl 3600s.\n"
        "\n"
        "| Key | Template | Kind | Returns | TTL | Default |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| `items` | `store:{cart:{cart_id}}:items` | `ListKey[str]` | `list[str]` | ttl 3600s"
        " | `[]` |\n"
        "| `card` | `store:{cart:{cart_id}}:card` | `HashKey[Card]` | `Card` | ttl 3600s |  |\n"
        "| `mode` | `store:{cart:{cart_id}}:mode` | `Key[Literal['a\"b', '<c>']]`"
        " | `Literal['a\"b', '<c>']` | ttl 3600s | `'a\"b'` |\n"
        # A pipe would split the cell on GitHub even inside backticks: HTML code, no pipe.
        "| `note` | `store:{cart:{cart_id}}:note` | <code>Key[str &#124; None]</code>"
        " | <code>str &#124; None</code> | ttl 0.5s"
        " | `'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…` |\n"
        "\n"
        "## `Root.empty` (Empty)\n"
        "\n"
        "Prefix `store:empty`; default TTL."
    )


def test_mermaid() -> None:
    assert render(tree_data(Root), "mermaid").splitlines() == [
        "flowchart LR",
        '    c0["Root<br/>store<br/>default TTL"]',
        '    k1["visits: Counter<br/>store:visits<br/>default TTL"]',
        "    c0 --> k1",
        '    c2["cart: Cart<br/>store:{cart:{cart_id}}<br/>ttl 3600s"]',
        '    k3["items: ListKey[str]<br/>store:{cart:{cart_id}}:items<br/>ttl 3600s"]',
        "    c2 --> k3",
        '    k4["card: HashKey[Card]<br/>store:{cart:{cart_id}}:card<br/>ttl 3600s"]',
        "    c2 --> k4",
        # Quotes and angle brackets would end the label or open HTML: Mermaid entities.
        "    k5[\"mode: Key[Literal['a#quot;b', '#lt;c#gt;']]<br/>store:{cart:{cart_id}}:mode"
        '<br/>ttl 3600s"]',
        "    c2 --> k5",
        '    k6["note: Key[str | None]<br/>store:{cart:{cart_id}}:note<br/>ttl 0.5s"]',
        "    c2 --> k6",
        "    c0 --> c2",
        '    c7["empty: Empty<br/>store:empty<br/>default TTL"]',
        "    c0 --> c7",
        "    classDef cluster fill:#e8eaf6,stroke:#3949ab,font-weight:bold",
        "    class c0,c2,c7 cluster",
    ]


@pytest.mark.parametrize("argv", [["--json"], ["--format", "json"]])
def test_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tree", TARGET, *argv]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(json.dumps(tree_data(Root)))
    assert out["clusters"]["cart"]["keys"]["items"]["default"] == []


@pytest.mark.parametrize("fmt", ["text", "markdown", "mermaid"])
def test_main_prints_each_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tree", TARGET, "--format", fmt]) == 0
    assert capsys.readouterr().out == render(tree_data(Root), fmt) + "\n"


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tree", TARGET, "--format", "yaml"]) == 2
    assert "invalid choice: 'yaml'" in capsys.readouterr().err
