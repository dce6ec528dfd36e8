"""``keyspace tree``: the declared keyspace as a text tree, JSON, Markdown or a Mermaid diagram.

Everything here works on the plain data of ``Cluster.describe()`` (templates,
value types, parameters, defaults and resolved TTLs), with each key's kind
added: no Redis is involved.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterator
from typing import Any

from ._cli_common import short
from ._cluster import Cluster, ClusterNode, root_node

__all__ = ["FORMATS", "render", "tree_data"]

FORMATS = ("text", "json", "markdown", "mermaid")
_DEFAULT_WIDTH = 40  # longer default reprs are cut


def tree_data(root: type[Cluster]) -> dict[str, Any]:
    """``root.describe()``, plus each key's ``kind`` (``ListKey[int]``) and ``redis_type``.

    Prefixes and key templates are shown as the keys are named, hash tags
    included: ``store:{cart:{cart_id}}:items`` for a ``hash_tag=True`` cart.
    """
    data = root.describe()
    node = root_node(root)
    _annotate(data, node, _own(node) if node.spec.prefix is not None else "")
    return data


def _own(node: ClusterNode) -> str:
    assert node.spec.prefix is not None
    text = node.spec.prefix.text
    return f"{{{text}}}" if node.spec.hash_tag else text


def _annotate(data: dict[str, Any], node: ClusterNode, path: str) -> None:
    data["prefix"] = path
    for name, key in node.keys.items():
        entry = data["keys"][name]
        entry["key"] = f"{path}:{key.spec.template.text}" if path else key.spec.template.text
        entry["kind"] = key.spec.kind_name
        entry["redis_type"] = key.spec.kind.redis_type
    for name, child in node.children.items():
        _annotate(data["clusters"][name], child, f"{path}:{_own(child)}" if path else _own(child))


def render(data: dict[str, Any], fmt: str) -> str:
    """The tree in one of :data:`FORMATS` other than JSON (which the caller prints),
    without a final newline."""
    if fmt == "markdown":
        return _markdown(data)
    if fmt == "mermaid":
        return _mermaid(data)
    return _text(data)


def _ttl(ttl: float | str | None) -> str:
    if ttl is None:
        return "no expiry"
    if ttl == "default":
        return "default TTL"  # inherited all the way up: REDIS_DEFAULT_TTL decides
    return f"ttl {ttl}s"


def _default(entry: dict[str, Any]) -> str:
    if not entry["has_default"]:
        return ""
    shown = repr(entry["default"])
    return shown if len(shown) <= _DEFAULT_WIDTH else shown[: _DEFAULT_WIDTH - 1] + "…"


# -- text ---------------------------------------------------------------------------


def _text(data: dict[str, Any]) -> str:
    rows = [(data["cluster"], data["prefix"] or "(no prefix)", _ttl(data["ttl"]))]
    rows.extend(_text_rows(data, ""))
    left = max(len(row[0]) for row in rows)
    middle = max(len(row[1]) for row in rows)
    return "\n".join(f"{a:<{left}}  {b:<{middle}}  {c}".rstrip() for a, b, c in rows)


def _text_rows(data: dict[str, Any], indent: str) -> Iterator[tuple[str, str, str]]:
    entries: list[tuple[str, dict[str, Any], bool]] = [
        *((name, key, False) for name, key in data["keys"].items()),
        *((name, child, True) for name, child in data["clusters"].items()),
    ]
    for i, (name, entry, is_cluster) in enumerate(entries):
        last = i == len(entries) - 1
        branch = indent + ("└── " if last else "├── ")
        if is_cluster:
            yield f"{branch}{name}: {entry['cluster']}", entry["prefix"], _ttl(entry["ttl"])
            yield from _text_rows(entry, indent + ("    " if last else "│   "))
        else:
            default = _default(entry)
            label = f"{name}: {short(entry['kind'])}" + (f" = {default}" if default else "")
            yield f"{branch}{label}", entry["key"], _ttl(entry["ttl"])


# -- markdown -----------------------------------------------------------------------


def _code(text: str) -> str:
    """Inline code that survives a table cell in GitHub and Python-Markdown alike."""
    if "|" in text or "`" in text:
        # GitHub splits cells at a pipe even inside backticks; an entity is no pipe.
        return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"
    return f"`{text}`"


def _markdown(data: dict[str, Any]) -> str:
    lines = [f"# Keyspace of {_code(data['cluster'])}", ""]
    for path, cluster in _clusters(data, data["cluster"]):
        title = (
            _code(path) if path == cluster["cluster"] else f"{_code(path)} ({cluster['cluster']})"
        )
        lines += [f"## {title}", ""]
        facts = [f"Prefix {_code(cluster['prefix'])}" if cluster["prefix"] else "No prefix"]
        if cluster["params"]:
            facts.append("parameters " + ", ".join(_code(p) for p in cluster["params"]))
        facts.append(_ttl(cluster["ttl"]))
        lines += ["; ".join(facts) + ".", ""]
        if not cluster["keys"]:
            continue
        lines += [
            "| Key | Template | Kind | Returns | TTL | Default |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, key in cluster["keys"].items():
            default = _default(key)
            cells = [
                _code(name),
                _code(key["key"]),
                _code(short(key["kind"])),
                _code(short(key["type"])),
                _ttl(key["ttl"]),
                _code(default) if default else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


def _clusters(data: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, data
    for name, child in data["clusters"].items():
        yield from _clusters(child, f"{path}.{name}")


# -- mermaid ------------------------------------------------------------------------


def _label(*lines: str) -> str:
    # Mermaid reads #quot; #lt; #gt; as entities; <br/> breaks a line.
    escaped = (
        line.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") for line in lines
    )
    return '"' + "<br/>".join(escaped) + '"'


def _mermaid(data: dict[str, Any]) -> str:
    lines = ["flowchart LR"]
    clusters: list[str] = []
    counter = itertools.count()

    def add(cluster: dict[str, Any], name: str) -> str:
        node_id = f"c{next(counter)}"
        clusters.append(node_id)
        title = (
            cluster["cluster"] if name == cluster["cluster"] else f"{name}: {cluster['cluster']}"
        )
        label = _label(title, cluster["prefix"] or "(no prefix)", _ttl(cluster["ttl"]))
        lines.append(f"    {node_id}[{label}]")
        for key_name, key in cluster["keys"].items():
            key_id = f"k{next(counter)}"
            label = _label(f"{key_name}: {short(key['kind'])}", key["key"], _ttl(key["ttl"]))
            lines.append(f"    {key_id}[{label}]")
            lines.append(f"    {node_id} --> {key_id}")
        for child_name, child in cluster["clusters"].items():
            lines.append(f"    {node_id} --> {add(child, child_name)}")
        return node_id

    add(data, data["cluster"])
    lines.append("    classDef cluster fill:#e8eaf6,stroke:#3949ab,font-weight:bold")
    lines.append(f"    class {','.join(clusters)} cluster")
    return "\n".join(lines)
