"""Value codecs: pydantic ``TypeAdapter`` validation plus the bytes stored in Redis.

Typed keys
    A key of a declared type stores the plain JSON pydantic writes for that type, readable by any
    program: ``Key[int]`` holds ``30``, ``Key[str]`` holds ``"Ann"``, ``Key[list[str]]`` holds
    ``["a","b"]``, a model its JSON object, a ``datetime`` its ISO 8601 string. Two pydantic
    defaults that lose data are changed: ``bytes`` are written as URL-safe base64 (UTF-8 fails on
    binary data), and ``inf``, ``-inf`` and ``nan`` as the constants ``Infinity``, ``-Infinity``
    and ``NaN`` (not ``null``). Those constants are not strict JSON, but Python's ``json``,
    pydantic and JSON5 read them, and unlike quoted strings they keep a float a JSON number, so a
    ``float | str`` key still tells its members apart. Models, dataclasses and TypedDicts carry
    their own pydantic config, which pydantic applies instead of ours (give them
    ``ser_json_bytes="base64", val_json_bytes="base64"`` to store binary ``bytes`` fields).

``Key[Any]`` (or ``object``)
    JSON-native values (``None``, ``bool``, ``int``, ``str``, finite ``float``, ``list``, ``dict``
    with ``str`` keys) are stored as plain JSON. Any other value JSON cannot tell apart is wrapped,
    at any depth, in a type envelope ``{"$type": TAG, "value": PAYLOAD}``:

    ===========================  ============================================================
    TAG                          PAYLOAD
    ===========================  ============================================================
    ``tuple``, ``set``,          array of the (recursively encoded) items
    ``frozenset``
    ``dict``                     array of ``[key, value]`` pairs, both encoded; used for dicts
                                 with a non-``str`` key, and for dicts with a ``"$type"`` key
                                 so that user data is never read as an envelope
    ``bytes``                    URL-safe base64 string
    ``datetime``, ``date``,      ``isoformat()`` string (UTC offset kept)
    ``time``
    ``timedelta``                ISO 8601 duration string, as pydantic writes it
    ``decimal``, ``uuid``        ``str()`` of the value (every digit kept)
    ``float``                    ``"inf"``, ``"-inf"`` or ``"nan"``
    ===========================  ============================================================

    For example ``(1, b"\\xff")`` is stored as
    ``{"$type":"tuple","value":[1,{"$type":"bytes","value":"_w=="}]}``. Types match exactly:
    anything else, subclasses included (models, enums, dataclasses, ``OrderedDict``, arbitrary
    objects), raises :class:`UnsupportedValueError`, asking for a declared type.

Ambiguous unions
    Each member of a union is classified by the JSON shape pydantic writes for it (null, boolean,
    integer, number, string, array, object, read from its serialization JSON schema; a member
    whose schema says nothing counts as every shape). If two members share a shape, as in
    ``datetime | str`` or ``MyStrEnum | str``, the stored JSON alone cannot say which member was
    written, so the value is stored as ``{"$type": INDEX, "value": MEMBER_JSON}`` with the
    member's position in the union. The member chosen on write is the first one whose exact class
    is the value's type, else the first that validates strictly, else (lax codecs) the first that
    validates in lax mode. Other unions, ``X | None`` included, are plain JSON. A union with an
    ``Any`` member is treated as ``Any``.

Limits: envelopes exist only at the top of a key's type, so ``list[Any]`` or
``list[datetime | str]`` are plain pydantic JSON and may read back, for example, a ``datetime`` as
``str``; pydantic cannot read back dicts whose keys are tuples.
"""

from __future__ import annotations

import base64
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin
from uuid import UUID

from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, JsonSchemaWarningKind
from pydantic_core import from_json, to_json

from ._errors import CorruptValueError, UnsupportedValueError

__all__ = ["Codec", "codec_for"]

T = TypeVar("T")

_CONFIG = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64", ser_json_inf_nan="constants")
_TAG = "$type"
_VALUE = "value"
_UNION_ENVELOPE = b'{"$type":%d,"value":%s}'
_UNION_ORIGINS: tuple[object, ...] = (Union, UnionType)
# The JSON type of a JSON-native value (as found in a schema's enum or const).
_VALUE_SHAPES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
}
_ALL_SHAPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
# Module paths in a type's repr ("typing.", "datetime."), skipping quoted Literal values.
_MODULE_PATH = re.compile(r"""('[^']*'|"[^"]*")|\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])""")
_TIMEDELTA: TypeAdapter[timedelta] = TypeAdapter(timedelta)


class Codec(ABC, Generic[T]):
    """Encodes values of one declared type to bytes for Redis and back.

    Get one with :func:`codec_for`; codecs are immutable and shared.
    """

    __slots__ = ("_name", "annotation", "strict")

    annotation: Any
    """The declared type, for example ``int``, ``list[str]``, ``Any`` or ``Profile | None``."""
    strict: bool
    """Whether values are validated in pydantic's strict mode."""

    def __init__(self, annotation: Any, strict: bool) -> None:
        self.annotation = annotation
        self.strict = strict
        self._name = _display(annotation)

    @abstractmethod
    def validate(self, value: object) -> T:
        """Validate ``value`` against the declared type and return the value to store.

        Raises pydantic's ``ValidationError`` for an invalid value, or
        :class:`UnsupportedValueError` for a value an untyped key cannot store faithfully.
        """

    @abstractmethod
    def dump(self, value: object) -> bytes:
        """Validate ``value``, then encode it to the bytes stored in Redis."""

    def load(self, data: bytes | str, *, key: str) -> T:
        """Decode and validate the stored value ``data`` of the Redis key ``key``.

        Returns a value of the exact type that was stored. Any failure (invalid JSON, a value of
        the wrong type, a malformed envelope) raises :class:`CorruptValueError` naming ``key``.
        """
        try:
            return self._decode(data)
        except Exception as exc:  # whatever the cause, the caller sees one error for bad data
            raise CorruptValueError(
                f"stored value of key {key!r} is not a valid {self._name}: {_describe(exc)}"
            ) from exc

    @abstractmethod
    def _decode(self, data: bytes | str) -> T:
        """Decode stored data; any exception means the data is corrupt."""


class _PlainCodec(Codec[T]):
    """A declared type stored as the plain JSON pydantic writes for it."""

    __slots__ = ("_adapter", "_strict")

    def __init__(self, annotation: Any, strict: bool) -> None:
        super().__init__(annotation, strict)
        # None (not False) keeps the strictness a model's own config asks for.
        self._strict: bool | None = True if strict else None
        try:
            self._adapter: TypeAdapter[T] = TypeAdapter(annotation, config=_CONFIG)
        except PydanticUserError as exc:
            if exc.code != "type-adapter-config-unused":
                raise
            self._adapter = TypeAdapter(annotation)  # a model, dataclass or TypedDict

    # The adapter's validator and serializer are called directly: the adapter's own methods
    # add a Python call with a dozen keyword defaults to every value, on the hot path.

    def validate(self, value: object) -> T:
        """Validate ``value`` against the declared type."""
        validated: T = self._adapter.validator.validate_python(value, strict=self._strict)
        return validated

    def dump(self, value: object) -> bytes:
        """Validate ``value`` and return its JSON."""
        adapter = self._adapter
        return adapter.serializer.to_json(
            adapter.validator.validate_python(value, strict=self._strict)
        )

    def _decode(self, data: bytes | str) -> T:
        decoded: T = self._adapter.validator.validate_json(data, strict=self._strict)
        return decoded


class _UnionCodec(Codec[Any]):
    """A union whose members JSON cannot tell apart: the member used is stored with the value."""

    __slots__ = ("_by_type", "_members", "_union")

    def __init__(self, annotation: Any, strict: bool, members: tuple[_PlainCodec[Any], ...]):
        super().__init__(annotation, strict)
        self._members = members
        self._union: _PlainCodec[Any] = _PlainCodec(annotation, strict)
        self._by_type: dict[type, int] = {}
        for index, member in enumerate(members):
            if isinstance(member.annotation, type):
                self._by_type.setdefault(member.annotation, index)

    def validate(self, value: object) -> Any:
        """Validate ``value`` against the member chosen for it."""
        return self._select(value)[1]

    def dump(self, value: object) -> bytes:
        """Validate ``value`` and return the envelope recording its member."""
        index, validated = self._select(value)
        return _UNION_ENVELOPE % (index, self._members[index]._adapter.dump_json(validated))

    def _select(self, value: object) -> tuple[int, Any]:
        # An exact class match first: str accepts a StrEnum member in strict mode, converting it.
        exact = self._by_type.get(type(value))
        if exact is not None:
            with suppress(ValidationError):
                return exact, self._members[exact].validate(value)
        for strict in (True,) if self.strict else (True, None):
            for index, member in enumerate(self._members):
                with suppress(ValidationError):
                    return index, member._adapter.validate_python(value, strict=strict)
        self._union.validate(value)  # raises the union's own error: no member accepted the value
        raise AssertionError(
            f"{self._name} accepted what none of its members do"
        )  # pragma: no cover

    def _decode(self, data: bytes | str) -> Any:
        index, value = _open_envelope(_parse(data))
        if type(index) is not int or not 0 <= index < len(self._members):
            raise ValueError(f"{_TAG} {index!r} is not a member index of the union")
        return self._members[index]._decode(to_json(value))


class _AnyCodec(Codec[Any]):
    """An untyped key: JSON-native values as plain JSON, other supported values in envelopes."""

    __slots__ = ()

    def validate(self, value: object) -> Any:
        """Check that ``value`` can be stored faithfully and return it unchanged."""
        _wrap(value)
        return value

    def dump(self, value: object) -> bytes:
        """Return the JSON of ``value``, with envelopes where JSON would lose its type."""
        return to_json(_wrap(value))

    def _decode(self, data: bytes | str) -> Any:
        return _unwrap(_parse(data))


# Exact type -> (tag, encode to str, decode from str); float is here for non-finite values only.
_SCALARS: dict[type, tuple[str, Callable[[Any], str], Callable[[str], object]]] = {
    bytes: (
        "bytes",
        lambda raw: base64.urlsafe_b64encode(raw).decode("ascii"),
        lambda text: base64.b64decode(text, altchars=b"-_", validate=True),
    ),
    datetime: ("datetime", datetime.isoformat, datetime.fromisoformat),
    date: ("date", date.isoformat, date.fromisoformat),
    time: ("time", time.isoformat, time.fromisoformat),
    timedelta: (
        "timedelta",
        lambda delta: _TIMEDELTA.dump_python(delta, mode="json"),
        _TIMEDELTA.validate_python,
    ),
    Decimal: ("decimal", str, Decimal),
    UUID: ("uuid", str, UUID),
    float: ("float", repr, float),
}
_SCALAR_DECODERS = {tag: decode for tag, _, decode in _SCALARS.values()}
# Tag -> decode from a JSON array.
_COLLECTIONS: dict[str, Callable[[list[Any]], object]] = {
    "tuple": lambda items: tuple(map(_unwrap, items)),
    "set": lambda items: set(map(_unwrap, items)),
    "frozenset": lambda items: frozenset(map(_unwrap, items)),
    "dict": lambda pairs: dict(map(_unwrap_pair, pairs)),
}


def _wrap(value: Any) -> object:
    """Return the JSON-native form of an untyped value, with envelopes where needed."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float and math.isfinite(value):
        return value
    if kind is list:
        return [_wrap(item) for item in value]
    if kind is dict:
        if _TAG not in value and all(type(k) is str for k in value):
            return {k: _wrap(v) for k, v in value.items()}
        return {_TAG: "dict", _VALUE: [[_wrap(k), _wrap(v)] for k, v in value.items()]}
    if kind is tuple or kind is set or kind is frozenset:
        return {_TAG: kind.__name__, _VALUE: [_wrap(item) for item in value]}
    scalar = _SCALARS.get(kind)
    if scalar is None:
        raise UnsupportedValueError(
            f"an untyped key (Key[Any]) cannot store a {kind.__qualname__} without losing its "
            f"type; declare the key's type instead, for example Key[{kind.__qualname__}]. "
            "Untyped keys store None, bool, int, float, str, bytes, list, tuple, set, frozenset, "
            "dict, datetime, date, time, timedelta, Decimal and UUID."
        )
    tag, encode, _ = scalar
    return {_TAG: tag, _VALUE: encode(value)}


def _unwrap(data: object) -> object:
    """Rebuild an untyped value from parsed JSON, opening envelopes."""
    if type(data) is list:
        return [_unwrap(item) for item in data]
    if type(data) is not dict:
        return data
    if _TAG not in data:
        return {k: _unwrap(v) for k, v in data.items()}
    tag, value = _open_envelope(data)
    if type(tag) is str and tag in _SCALAR_DECODERS and type(value) is str:
        return _SCALAR_DECODERS[tag](value)
    if type(tag) is str and tag in _COLLECTIONS and type(value) is list:
        return _COLLECTIONS[tag](value)
    raise ValueError(
        f"invalid type envelope: {_TAG} {tag!r} with a value of type {type(value).__name__}"
    )


def _unwrap_pair(pair: object) -> tuple[object, object]:
    if type(pair) is not list or len(pair) != 2:
        raise ValueError("a 'dict' envelope must hold [key, value] pairs")
    return _unwrap(pair[0]), _unwrap(pair[1])


def _parse(data: bytes | str) -> Any:
    try:
        return from_json(data)
    except ValueError as exc:
        raise ValueError(f"Invalid JSON: {exc}") from exc


def _open_envelope(data: object) -> tuple[object, object]:
    """Return the tag and value of an envelope, or raise ``ValueError`` for anything else."""
    if type(data) is not dict or data.keys() != {_TAG, _VALUE}:
        raise ValueError(f'expected a type envelope {{"{_TAG}": ..., "{_VALUE}": ...}}')
    return data[_TAG], data[_VALUE]


def _display(annotation: Any) -> str:
    """A short name of a type for messages: ``int``, ``list[str]``, ``Profile | None``."""
    if isinstance(annotation, type) and not get_args(annotation):  # list[int] is a type on 3.10
        return annotation.__qualname__
    return _MODULE_PATH.sub(lambda match: match.group(1) or "", repr(annotation))


def _describe(exc: Exception) -> str:
    """A one-line account of a decoding error, without the (possibly secret) input."""
    if not isinstance(exc, ValidationError):
        return str(exc) or type(exc).__name__
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return "; ".join(
        (".".join(map(str, error["loc"])) + ": " if error["loc"] else "") + error["msg"]
        for error in errors
    )


class _ShapeSchema(GenerateJsonSchema):
    """A JSON schema generator used only to read JSON shapes: it never warns or fails."""

    def emit_warning(self, kind: JsonSchemaWarningKind, detail: str) -> None:
        """Ignore warnings: they concern details (such as defaults) that have no shape."""

    def handle_invalid_for_json_schema(self, schema: object, error_info: str) -> JsonSchemaValue:
        """Describe a type without a JSON schema as ``{}``: it may take any shape."""
        return {}


def _shapes(schema: JsonSchemaValue, defs: dict[str, JsonSchemaValue]) -> frozenset[str]:
    """The JSON types (``"string"``, ``"array"``, ...) a value matching ``schema`` may have."""
    if "$ref" in schema:
        return _shapes(defs[schema["$ref"].rpartition("/")[2]], defs)
    if "type" in schema:
        kinds = schema["type"]
        return frozenset(kinds if isinstance(kinds, list) else [kinds])
    if "enum" in schema or "const" in schema:
        values = schema["enum"] if "enum" in schema else [schema["const"]]
        return frozenset(_VALUE_SHAPES.get(type(value), "object") for value in values)
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if not branches:
        return _ALL_SHAPES
    return frozenset().union(*(_shapes(branch, defs) for branch in branches))


def _is_ambiguous(members: tuple[_PlainCodec[Any], ...]) -> bool:
    """Whether two members may be written as JSON of the same shape."""
    seen: set[str] = set()
    for member in members:
        schema = member._adapter.json_schema(mode="serialization", schema_generator=_ShapeSchema)
        shapes = _shapes(schema, schema.get("$defs", {}))
        if seen & shapes:
            return True
        seen |= shapes
    return False


def _build(annotation: Any, strict: bool) -> Codec[Any]:
    if annotation is Any or annotation is object:
        return _AnyCodec(annotation, strict)
    if get_origin(annotation) in _UNION_ORIGINS:
        members = get_args(annotation)
        if any(member is Any or member is object for member in members):
            return _AnyCodec(annotation, strict)
        codecs: tuple[_PlainCodec[Any], ...] = tuple(_PlainCodec(m, strict) for m in members)
        if _is_ambiguous(codecs):
            return _UnionCodec(annotation, strict, codecs)
    return _PlainCodec(annotation, strict)


_CACHE: dict[tuple[Any, str, bool], Codec[Any]] = {}


def codec_for(annotation: Any, *, strict: bool = False) -> Codec[Any]:
    """Return the codec of values of type ``annotation``, built once and cached.

    ``strict=True`` validates values in pydantic's strict mode (``Key[int]`` then refuses
    ``"30"``). Unhashable annotations (such as ``Annotated`` with unhashable metadata) work but
    are not cached.
    """
    # repr() is part of the key because typing compares unions regardless of member order, and
    # the order decides the member indices of an ambiguous union.
    key = (annotation, repr(annotation), strict)
    try:
        return _CACHE[key]
    except KeyError:
        codec = _CACHE[key] = _build(annotation, strict)
        return codec
    except TypeError:
        return _build(annotation, strict)
