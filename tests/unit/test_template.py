"""Templates: parsing, rendering, overlap detection and parameter binding."""

from __future__ import annotations

import re
import uuid
from enum import Enum

import pytest

from keyspace import BindingError, DeclarationError, InvalidParameterError
from keyspace._template import bind, bind_item, make_param, overlaps, parse_template


def test_parse_splits_literals_and_placeholders() -> None:
    template = parse_template("user:{user_id}", where="User")
    assert template.parts == ("user:", "user_id", "")
    assert template.params == ("user_id",)
    assert template.segments == ("user", None)
    assert template.render({"user_id": "7"}) == "user:7"


def test_render_with_placeholder_inside_a_segment() -> None:
    template = parse_template("msg-{id}-x:tail", where="K")
    assert template.render({"id": "5"}) == "msg-5-x:tail"
    assert template.segments == (None, "tail")


def test_regex_parses_rendered_keys_back() -> None:
    template = parse_template("user:{user_id}:m-{mid}", where="K")
    match = re.fullmatch(template.regex({}, capture=True), "user:42:m-7")
    assert match is not None
    assert match.groupdict() == {"user_id": "42", "mid": "7"}
    assert re.fullmatch(template.regex({}), "user:4:2:m-7") is None
    assert re.fullmatch(template.regex({}), "user:4*:m-7") is None
    bound = template.regex({"user_id": "4.2"})
    assert re.fullmatch(bound, "user:4.2:m-7") is not None
    assert re.fullmatch(bound, "user:412:m-7") is None  # bound values match literally


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "non-empty"),
        ("user:{", "cannot parse"),
        ("user:}", "cannot parse"),
        ("user:{0}", "invalid placeholder name"),
        ("user:{}", "invalid placeholder name"),
        ("user:{a b}", "invalid placeholder name"),
        ("user:{class}", "invalid placeholder name"),
        ("user:{_x}", "invalid placeholder name"),
        ("user:{a.b}", "invalid placeholder name"),
        ("user:{a!r}", "format spec"),
        ("user:{a:>3}", "format spec"),
        ("{a}:{a}", "appears twice"),
        ("{a}{b}", "several placeholders"),
        ("x{a}-{b}", "several placeholders"),
        ("user::x", "empty segment"),
        (":user", "empty segment"),
        ("user:", "empty segment"),
        ("user*", "glob characters"),
        ("us[e]r", "glob characters"),
        ("user{{x}}", "literal brace"),
    ],
)
def test_bad_templates_are_declaration_errors(text: str, message: str) -> None:
    with pytest.raises(DeclarationError, match=re.escape(message)) as info:
        parse_template(text, where="Where.field")
    assert "Where.field" in str(info.value)


@pytest.mark.parametrize(
    ("a", "a_prefix", "b", "b_prefix", "expected"),
    [
        ("age", False, "name", False, False),
        ("age", False, "age", False, True),
        ("message:{id}", False, "message:{other}", False, True),
        ("message:{id}", False, "message:last", False, True),
        ("message:{id}", False, "message", False, False),
        ("user:{id}", True, "user:count", False, False),  # a prefix needs one more segment
        ("user:{id}", True, "user:count:x", False, True),
        ("user:{id}", True, "user:{id}:extra", True, True),
        ("user:{id}", True, "users:{id}", True, False),
        ("app", True, "app", False, False),
        ("app", True, "app:x", False, True),
    ],
)
def test_overlaps(a: str, a_prefix: bool, b: str, b_prefix: bool, expected: bool) -> None:
    ta, tb = parse_template(a, where="A"), parse_template(b, where="B")
    assert overlaps(ta, a_prefix, tb, b_prefix) is expected
    assert overlaps(tb, b_prefix, ta, a_prefix) is expected


def test_untyped_parameters_accept_str_and_int_alike() -> None:
    param = make_param("user_id", None, "cluster User")
    assert param.render(1) == param.render("1") == "1"
    assert param.render(-3) == "-3"
    with pytest.raises(InvalidParameterError, match="str or int"):
        param.render(True)
    with pytest.raises(InvalidParameterError, match="str or int"):
        param.render(1.5)


@pytest.mark.parametrize("value", ["", "1:x", "a*", "?", "[a]", "x\\y", "{a}", "}"])
def test_hostile_values_are_rejected_naming_the_parameter(value: str) -> None:
    param = make_param("user_id", None, "cluster User (template 'user:{user_id}')")
    with pytest.raises(InvalidParameterError) as info:
        param.render(value)
    assert "user_id" in str(info.value)
    assert "cluster User" in str(info.value)


def test_huge_values_are_shortened_in_messages() -> None:
    param = make_param("p", None, "K")
    with pytest.raises(InvalidParameterError) as info:
        param.render("x" * 10_000 + ":")
    assert len(str(info.value)) < 400


class Color(Enum):
    RED = "red"


def test_typed_parameters_are_validated_and_canonical() -> None:
    as_int = make_param("user_id", int, "cluster User")
    assert as_int.render("007") == "7"
    assert as_int.parse("7") == 7
    with pytest.raises(InvalidParameterError, match="not a valid int"):
        as_int.render("seven")
    as_uuid = make_param("id", uuid.UUID, "K")
    value = uuid.uuid4()
    assert as_uuid.render(str(value).upper()) == str(value)
    assert as_uuid.parse(str(value)) == value
    as_enum = make_param("c", Color, "K")
    assert as_enum.render(Color.RED) == as_enum.render("red") == "red"
    as_bool = make_param("flag", bool, "K")
    assert as_bool.render(True) == "true"
    as_str = make_param("s", str, "K")
    with pytest.raises(InvalidParameterError, match="holds ':'"):
        as_str.render("a:b")


def test_bind_positional_keyword_and_errors() -> None:
    params = (make_param("a", None, "K"), make_param("b", None, "K"))
    assert bind(params, {}, (1, 2), {}, "K") == {"a": "1", "b": "2"}
    assert bind(params, {"z": "0"}, (1,), {"b": "x"}, "K") == {"z": "0", "a": "1", "b": "x"}
    with pytest.raises(BindingError, match="takes 2 parameter"):
        bind(params, {}, (1, 2, 3), {}, "K")
    with pytest.raises(BindingError, match="no parameter 'c'"):
        bind(params, {}, (1, 2), {"c": 3}, "K")
    with pytest.raises(BindingError, match="already bound by an enclosing"):
        bind(params, {}, (1, 2), {"user_id": 3}, "K", frozenset({"user_id"}))
    with pytest.raises(BindingError, match="'a' twice"):
        bind(params, {}, (1,), {"a": 2, "b": 3}, "K")
    with pytest.raises(BindingError, match="missing parameter 'b'"):
        bind(params, {}, (1,), {}, "K")


def test_bind_item_needs_exactly_one_placeholder() -> None:
    one = (make_param("a", None, "K"),)
    assert bind_item(one, {}, 5, "K") == {"a": "5"}
    with pytest.raises(BindingError, match="tuple"):
        bind_item(one, {}, (1, 2), "K")
    with pytest.raises(BindingError, match="exactly one parameter"):
        bind_item((), {}, 1, "K")
    with pytest.raises(BindingError, match="exactly one parameter"):
        bind_item((*one, make_param("b", None, "K")), {}, 1, "K")
