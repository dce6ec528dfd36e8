"""Griffe extension: render the reST bits of keyspace's docstrings as Markdown.

``:class:`~keyspace.Repository``` becomes ```Repository``` (``:role:`a.b.C``` keeps the
dotted name), and a paragraph ending in ``::`` (reST's "a literal block follows") ends in
``:``; a line holding only ``::`` is dropped. The literal block itself, indented by four
spaces, is already a Markdown code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|exc|data|obj):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(?m)^([ \t]*)::[ \t]*\n|(?<=\S)::[ \t]*$")


def _role(match: re.Match[str]) -> str:
    target = match[2].lstrip("!")
    return f"`{target.rsplit('.', 1)[-1] if match[1] else target}`"


def _literal(match: re.Match[str]) -> str:
    return "" if match[1] is not None else ":"


class RestToMarkdown(griffe.Extension):
    """Rewrite reST roles and literal-block markers in every docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _ROLE.sub(_role, obj.docstring.value)
            obj.docstring.value = _LITERAL.sub(_literal, text)
