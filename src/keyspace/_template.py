"""Key templates: parse ``"user:{user_id}"`` once, render it safely many times.

A template is a ``:``-separated list of segments; each segment is literal text
with at most one ``{placeholder}``. Parameter values are rendered with ``str()``
(or canonically, when the placeholder is typed) and must not contain the
separator, braces, glob characters or be empty, so that a value can never
escape its segment: the pattern ``root:user:1:*`` reaches the keys of
``user(1)`` and never those of ``user(10)`` or ``user("1:x")``.

Because a segment holds at most one placeholder and values never contain
``:``, a rendered key parses back to exactly one set of parameter values.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ._errors import BindingError, DeclarationError, InvalidParameterError

__all__ = [
    "SEPARATOR",
    "Param",
    "Template",
    "bind",
    "bind_item",
    "make_param",
    "overlaps",
    "parse_template",
]

SEPARATOR = ":"
# Characters a parameter value may not hold: the separator, braces (placeholders
# and Redis Cluster hash tags), and everything SCAN/KEYS patterns treat as glob syntax.
_FORBIDDEN_IN_VALUES = frozenset(":{}*?[]\\")
# Literal template text may not hold glob characters either, so patterns built
# from templates never need escaping.
_FORBIDDEN_IN_LITERALS = frozenset("*?[]\\")
VALUE_REGEX = r"[^:{}*?\[\]\\]+"
"""A regular expression for one valid parameter value."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed key or prefix template.

    ``parts`` alternates literal text and placeholder names, starting and
    ending with literal text: ``"user:{user_id}"`` gives
    ``("user:", "user_id", "")``.
    """

    text: str
    parts: tuple[str, ...]
    params: tuple[str, ...]

    @property
    def segments(self) -> tuple[str | None, ...]:
        """The ``:``-separated segments; ``None`` for a segment holding a placeholder."""
        return tuple(None if "{" in seg else seg for seg in self.text.split(SEPARATOR))

    def render(self, values: Mapping[str, str], missing: str | None = None) -> str:
        """Render with already-validated values; ``missing`` stands in for absent ones."""
        parts = self.parts
        if len(parts) == 3 and missing is None:  # one placeholder: the common case
            return parts[0] + values[parts[1]] + parts[2]
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            value = values.get(parts[i], missing)
            if value is None:
                raise KeyError(parts[i])
            out.append(value)
            out.append(parts[i + 1])
        return "".join(out)

    def regex(self, values: Mapping[str, str], capture: bool = False) -> str:
        """A regular expression source matching rendered names.

        Bound ``values`` match literally; other placeholders match any valid
        value, in a named group when ``capture`` is true.
        """
        out = [re.escape(self.parts[0])]
        for i in range(1, len(self.parts), 2):
            name = self.parts[i]
            value = values.get(name)
            if value is not None:
                out.append(re.escape(value))
            else:
                out.append(f"(?P<{name}>{VALUE_REGEX})" if capture else VALUE_REGEX)
            out.append(re.escape(self.parts[i + 1]))
        return "".join(out)


def parse_template(text: str, *, where: str) -> Template:
    """Parse ``text``; ``where`` names the declaration for error messages."""
    if not isinstance(text, str) or not text:
        raise DeclarationError(f"{where}: a template must be a non-empty string, got {text!r}")
    bad = _FORBIDDEN_IN_LITERALS.intersection(text)
    if bad:
        raise DeclarationError(
            f"{where}: template {text!r} holds glob characters {''.join(sorted(bad))!r}"
        )
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise DeclarationError(f"{where}: cannot parse template {text!r}: {exc}") from None
    parts: list[str] = []
    params: list[str] = []
    literal = ""
    for text_part, name, spec, conversion in parsed:
        literal += text_part
        if name is None:
            continue
        if "{" in text_part or "}" in text_part:
            raise DeclarationError(f"{where}: template {text!r} holds a literal brace")
        if spec or conversion:
            raise DeclarationError(
                f"{where}: placeholder {{{name}}} in {text!r} may not carry a format spec"
                " or conversion"
            )
        _check_placeholder_name(name, text, where)
        if name in params:
            raise DeclarationError(f"{where}: placeholder {{{name}}} appears twice in {text!r}")
        parts.extend((literal, name))
        params.append(name)
        literal = ""
    if "{" in literal or "}" in literal:
        raise DeclarationError(f"{where}: template {text!r} holds a literal brace")
    parts.append(literal)
    for segment in text.split(SEPARATOR):
        if not segment:
            raise DeclarationError(
                f"{where}: template {text!r} has an empty segment (leading, trailing or"
                " doubled ':')"
            )
        if segment.count("{") > 1:
            raise DeclarationError(
                f"{where}: segment {segment!r} of {text!r} holds several placeholders;"
                " separate them with ':' so that keys parse back unambiguously"
            )
    return Template(text, tuple(parts), tuple(params))


def _check_placeholder_name(name: str, text: str, where: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise DeclarationError(
            f"{where}: invalid placeholder name {{{name}}} in {text!r}: it must be a Python"
            " identifier, not a keyword, and not start with '_'"
        )


def overlaps(a: Template, a_is_prefix: bool, b: Template, b_is_prefix: bool) -> bool:
    """Whether two sibling templates could render names that collide.

    A prefix stands for every key below it (at least one more segment); a key
    template stands for exactly its own name. A placeholder segment matches
    any literal segment.
    """
    sa, sb = a.segments, b.segments
    if not a_is_prefix and not b_is_prefix:
        if len(sa) != len(sb):
            return False
    elif a_is_prefix and not b_is_prefix:
        if len(sb) <= len(sa):
            return False
    elif b_is_prefix and not a_is_prefix and len(sa) <= len(sb):
        return False
    return all(x is None or y is None or x == y for x, y in zip(sa, sb, strict=False))


@dataclass(frozen=True, slots=True)
class Param:
    """How one placeholder turns a Python value into a key segment and back."""

    name: str
    annotation: Any  # None when untyped
    render: Callable[[object], str]
    parse: Callable[[str], object]


def make_param(name: str, annotation: Any, where: str) -> Param:
    """Build the renderer and parser for placeholder ``name`` of ``where``."""
    if annotation is None:
        return Param(name, None, lambda v: _render_untyped(v, name, where), str)
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def render(value: object) -> str:
        # The common typed placeholders, without a round through pydantic.
        if annotation is int and type(value) is int:
            return str(value)
        if annotation is str and type(value) is str:
            return _checked(value, name, where, value)
        return validated(value)

    def validated(value: object) -> str:
        try:
            canonical = adapter.dump_python(adapter.validate_python(value), mode="json")
        except ValidationError as exc:
            raise InvalidParameterError(
                f"{where}: parameter {name!r} = {value!r} is not a valid"
                f" {_type_name(annotation)}: {exc.errors()[0]['msg']}"
            ) from None
        return _checked(
            canonical if isinstance(canonical, str) else _json_scalar(canonical), name, where, value
        )

    def parse(segment: str) -> object:
        return adapter.validate_strings(segment)

    return Param(name, annotation, render, parse)


def _render_untyped(value: object, name: str, where: str) -> str:
    if type(value) is str:
        return _checked(value, name, where, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise InvalidParameterError(
        f"{where}: parameter {name!r} must be a str or int, got {type(value).__name__}"
        f" {value!r}; annotate the placeholder on the cluster to accept other types"
    )


def _checked(text: str, name: str, where: str, original: object) -> str:
    if not text:
        raise InvalidParameterError(f"{where}: parameter {name!r} may not be empty")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidParameterError(
                f"{where}: parameter {name!r} holds a lone surrogate, which no key name can"
            ) from None
    if not _FORBIDDEN_IN_VALUES.isdisjoint(text):
        bad = "".join(sorted(_FORBIDDEN_IN_VALUES.intersection(text)))
        raise InvalidParameterError(
            f"{where}: parameter {name!r} = {_shorten(original)} holds {bad!r}; key segments"
            " may not contain ':', braces or glob characters (* ? [ ] \\)"
        )
    return text


def _json_scalar(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def _shorten(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def bind(
    params: tuple[Param, ...],
    values: Mapping[str, str],
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
    where: str,
    inherited: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Render ``args``/``kwargs`` for ``params`` on top of already-bound ``values``.

    Every parameter must be given exactly once; ``where`` names the cluster
    or key and its template in error messages.
    """
    if len(args) > len(params):
        raise BindingError(
            f"{where} takes {len(params)} parameter(s)"
            f" ({', '.join(p.name for p in params) or 'none'}), got {len(args)} positional"
        )
    bound = dict(values)
    for param, arg in zip(params, args, strict=False):
        bound[param.name] = param.render(arg)
    if kwargs:
        by_name = {p.name: p for p in params}
        for name, arg in kwargs.items():
            named = by_name.get(name)
            if named is None:
                hint = " (already bound by an enclosing cluster)" if name in inherited else ""
                raise BindingError(f"{where} has no parameter {name!r}{hint}")
            if name in bound:
                raise BindingError(f"{where} got parameter {name!r} twice")
            bound[name] = named.render(arg)
    for param in params:
        if param.name not in bound:
            raise BindingError(f"{where}: missing parameter {param.name!r}")
    return bound


def bind_item(
    params: tuple[Param, ...], values: Mapping[str, str], item: object, where: str
) -> dict[str, str]:
    """``handle[x]``: bind the single placeholder of a template."""
    if isinstance(item, tuple):
        raise BindingError(
            f"{where}: [] takes one value, got a tuple {item!r}; call it with several"
            " parameters instead"
        )
    if len(params) != 1:
        raise BindingError(
            f"{where}: [] needs exactly one parameter, but the template has {len(params)}"
            f" ({', '.join(p.name for p in params) or 'none'}); call it instead"
        )
    return bind(params, values, (item,), {}, where)
