"""redisimnest's storage format: every value is a JSON envelope ``{"__type__": TAG, "value": ...}``.

Written as redisimnest writes it (its newest format; containers without datetimes, UUIDs or
``None`` inside are also what its older versions write):

- ``str``, ``int``, ``float``, ``bool``: the value (``Infinity`` and ``NaN`` as Python's
  ``json`` writes them);
- ``none``: ``"None"`` (ignored when read);
- ``datetime``: its ``isoformat()``; ``uuid``: its ``str()``;
- ``list``, ``tuple``: an array, ``dict``: an object, of the items. Inside them strings,
  numbers and booleans stay plain JSON, ``datetime``, ``UUID`` and ``None`` are nested
  envelopes, and nested tuples become arrays (they read back as lists).

Reading accepts the older format too, whose containers hold plain JSON without
nested envelopes. :class:`RedisimnestValue` is the pydantic type whose codec
stores these envelopes, so that compat keys are ordinary keyspace keys;
:data:`Legacy` lets a typed key read them while it writes plain JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import BeforeValidator, GetCoreSchemaHandler, ValidationInfo
from pydantic_core import core_schema

__all__ = [
    "SERIALIZED_TYPE_MAP",
    "Legacy",
    "RedisimnestValue",
    "deserialize",
    "envelope",
    "open_envelope",
    "serialize",
    "stored_type",
]

T = TypeVar("T")

TYPE_KEY = "__type__"
VALUE_KEY = "value"

SERIALIZED_TYPE_MAP: dict[str, type | None] = {
    "datetime": datetime,
    "uuid": UUID,
    "tuple": tuple,
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "list": list,
    "dict": dict,
    "none": None,
}
"""The envelope tags and the Python types they stand for (``"none"`` stands for ``None``)."""


def _unsupported(value: object) -> TypeError:
    return TypeError(f"Unsupported value type: {type(value)}")


def _json_key(key: object) -> str:
    """A dict key as ``json.dumps`` writes it (it accepts str, int, float, bool and None)."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, (bool, float)):
        return json.dumps(key)
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _nested(value: Any) -> Any:
    """A value inside a container: plain JSON, with envelopes for datetime, UUID and None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # str subclasses (enums) as the text JSON writes
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime):
        return {TYPE_KEY: "datetime", VALUE_KEY: value.isoformat()}
    if isinstance(value, UUID):
        return {TYPE_KEY: "uuid", VALUE_KEY: str(value)}
    if value is None:
        return {TYPE_KEY: "none", VALUE_KEY: None}
    if isinstance(value, dict):
        return {_json_key(k): _nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nested(item) for item in value]
    raise _unsupported(value)


def envelope(value: Any) -> dict[str, Any]:
    """The envelope redisimnest stores for ``value``; ``TypeError`` for unsupported types.

    Supported: ``str``, ``int``, ``float``, ``bool``, ``None``, ``datetime``, ``UUID``, and
    ``list``, ``tuple`` and ``dict`` of those (dict keys as JSON allows them).
    """
    if isinstance(value, datetime):
        return {TYPE_KEY: "datetime", VALUE_KEY: value.isoformat()}
    if isinstance(value, UUID):
        return {TYPE_KEY: "uuid", VALUE_KEY: str(value)}
    if isinstance(value, tuple):
        return {TYPE_KEY: "tuple", VALUE_KEY: _nested(value)}
    if isinstance(value, bool):
        return {TYPE_KEY: "bool", VALUE_KEY: value}
    # Subclasses (enums, for example) are tagged by their base type, which redisimnest reads.
    for base in (int, float, str, dict, list):
        if isinstance(value, base):
            return {TYPE_KEY: base.__name__, VALUE_KEY: _nested(value)}
    if value is None:
        return {TYPE_KEY: "none", VALUE_KEY: "None"}
    raise _unsupported(value)


def _open_nested(value: Any) -> Any:
    if isinstance(value, dict):
        if TYPE_KEY in value:
            tag = value[TYPE_KEY]
            inner: Any = value.get(VALUE_KEY)
            if tag == "datetime":
                return datetime.fromisoformat(inner)
            if tag == "uuid":
                return UUID(inner)
            if tag == "none":
                return None
            raise TypeError(f"Unsupported __type__: {tag}")
        return {k: _open_nested(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_open_nested(item) for item in value]
    return value


def open_envelope(data: Any) -> Any:
    """The value of a parsed envelope (old and new formats).

    Raises ``ValueError`` when ``data`` is not an envelope and ``TypeError`` for an unknown tag,
    as redisimnest does.
    """
    if not isinstance(data, dict) or TYPE_KEY not in data:
        raise ValueError("Missing __type__ metadata in serialized data")
    if VALUE_KEY not in data:
        raise ValueError("Missing value in serialized data")
    tag = data[TYPE_KEY]
    value = data[VALUE_KEY]
    if tag == "none":
        return None
    if tag == "datetime":
        return datetime.fromisoformat(value)
    if tag == "uuid":
        return UUID(value)
    if tag == "bool":
        return bool(value)
    if tag == "int":
        return int(value)
    if tag == "float":
        return float(value)
    if tag == "str":
        return str(value)
    if tag in ("list", "tuple", "dict"):
        container: type = SERIALIZED_TYPE_MAP[tag]  # type: ignore[assignment]
        return container(_open_nested(value))
    raise TypeError(f"Unsupported deserialization type: {tag}")


def serialize(
    value: Any, with_type: bool = False, with_type_str: bool = False
) -> bytes | tuple[Any, bytes]:
    """Serialize ``value`` to redisimnest's JSON envelope, as bytes.

    With ``with_type`` the result is ``(type, data)``, and with ``with_type_str`` too the type is
    the envelope's tag (``"uuid"``) rather than the Python type. Raises ``TypeError`` for a value
    of an unsupported type.
    """
    data = envelope(value)
    raw = json.dumps(data).encode()
    if not with_type:
        return raw
    tag = data[TYPE_KEY]
    return (tag if with_type_str else SERIALIZED_TYPE_MAP[tag]), raw


def deserialize(
    raw: bytes | str, with_type: bool = False, with_type_str: bool = False
) -> Any | tuple[Any, Any]:
    """Deserialize a redisimnest envelope (bytes or str) back to the Python value.

    With ``with_type`` the result is ``(type, value)``; with ``with_type_str`` too the type is the
    envelope's tag. Raises ``ValueError`` for data without ``__type__`` (and for invalid JSON)
    and ``TypeError`` for an unknown tag.
    """
    text = raw.decode() if isinstance(raw, bytes) else raw
    data = json.loads(text)
    value = open_envelope(data)
    if not with_type:
        return value
    tag = data[TYPE_KEY]
    return (tag if with_type_str else SERIALIZED_TYPE_MAP[tag]), value


def stored_type(reply: Any) -> type | None:
    """The type an envelope's tag names, as redisimnest's ``the_type``: ``None`` when missing,
    for ``"none"``, and for data that is not an envelope."""
    if reply is None:
        return None
    try:
        data = json.loads(reply.decode() if isinstance(reply, bytes) else reply)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and isinstance(data.get(TYPE_KEY), str):
        return SERIALIZED_TYPE_MAP.get(data[TYPE_KEY])
    return None


class RedisimnestValue:
    """The value type of compat keys: any supported value, stored as a redisimnest envelope.

    Used as ``keyspace.Key[RedisimnestValue]``: keyspace's codec then validates Python values
    as they are, writes the envelope as JSON and reads envelopes back (a stored value that is not
    an envelope raises :class:`~keyspace.CorruptValueError`).
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(
                open_envelope, core_schema.any_schema()
            ),
            python_schema=core_schema.any_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(envelope),
        )


def _read_legacy(value: Any, info: ValidationInfo) -> Any:
    if (
        info.mode == "json"
        and isinstance(value, dict)
        and value.keys() == {TYPE_KEY, VALUE_KEY}
        and value[TYPE_KEY] in SERIALIZED_TYPE_MAP
    ):
        return open_envelope(value)
    return value


Legacy = Annotated[T, BeforeValidator(_read_legacy)]
"""``Legacy[T]``: a typed value that also reads redisimnest envelopes.

Declare ``age: Key[Legacy[int]] = 0`` in a keyspace cluster to read the values redisimnest (or
this compat layer) stored at the same keys; every write stores plain JSON (``30``). Drop
``Legacy`` once the old values have been rewritten or have expired.
"""
