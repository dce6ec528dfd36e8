"""Docs that restate the code stay in step with it."""

from __future__ import annotations

from pathlib import Path

import keyspace
from keyspace import _errors

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_error_tree_in_the_docs_is_the_one_in_the_code() -> None:
    doc = _errors.__doc__ or ""
    start = doc.index("    KeyspaceError")
    tree = doc[start : doc.index("\n\n", start)]
    lines = [line[4:].replace("``[x]``", "[x]") for line in tree.splitlines()]
    assert "\n".join(lines) in (DOCS / "errors.md").read_text()


def test_every_exported_error_is_in_the_tree() -> None:
    errors = {
        name
        for name in keyspace.__all__
        if isinstance(getattr(keyspace, name), type)
        and issubclass(getattr(keyspace, name), keyspace.KeyspaceError)
    }
    assert errors
    for name in errors:
        assert f" {name} " in (_errors.__doc__ or "") or name == "KeyspaceError"
