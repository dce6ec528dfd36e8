"""redis-dict's storage format: every value is the text ``"<TypeName>:<payload>"``.

Written as redis-dict 3 writes it, byte for byte where redis-dict can store the value:

- ``str``, ``int``, ``float``, ``bool``, ``None``: ``str:hello``, ``int:42``, ``float:0.5``,
  ``bool:True``, ``NoneType:None``;
- ``datetime``, ``date``, ``time``: ``isoformat()``; ``timedelta``: its ``total_seconds()``;
  ``Decimal``, ``UUID``: ``str()``; ``complex``: ``real,imag``; ``bytes``: standard base64;
- ``list``, ``dict``: JSON (``json.dumps``' default layout); values JSON cannot hold are
  nested envelopes ``{"__type__": "<TypeName>", "value": "<payload>"}``, whose payload is the
  one above (for containers, their JSON as a string);
- ``tuple``, ``set``, ``frozenset``: a JSON array; ``OrderedDict``: a JSON array of
  ``[key, value]`` pairs; ``defaultdict``: a JSON object (it reads back with a factory that
  returns ``None``, as in redis-dict).

Where redis-dict would lose a type, this codec nests an envelope that redis-dict reads back
correctly (a tuple inside a list) or refuses the value: a dict with a key that is not a
``str`` (JSON would turn ``1`` into ``"1"``), a dict with both ``"__type__"`` and ``"value"``
keys (it would read back as an envelope), a type that is not registered (redis-dict would
store ``str(value)``). Reading accepts everything redis-dict writes.

Each :class:`RedisDictCodec` has its own registries, so ``extends_type()`` on one mapping never
changes another (redis-dict's registries are global).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from .._codec import Codec
from .._errors import UnsupportedValueError

__all__ = ["DecodeFunc", "EncodeFunc", "RedisDictCodec"]

EncodeFunc = Callable[[Any], str]
"""Turns a value into its payload text."""
DecodeFunc = Callable[[str], Any]
"""Turns a payload text back into the value."""

TYPE_KEY = "__type__"
VALUE_KEY = "value"
_NATIVE = (str, int, float, bool, type(None))  # stay plain JSON inside lists and dicts


def _decode_bool(text: str) -> bool:
    return text == "True"


def _decode_none(_text: str) -> None:
    return None


def _decode_complex(text: str) -> complex:
    real, imag = text.split(",")
    return complex(float(real), float(imag))


def _encode_complex(value: complex) -> str:
    return f"{value.real},{value.imag}"


def _encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _decode_bytes(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _encode_timedelta(value: timedelta) -> str:
    return str(value.total_seconds())


def _decode_timedelta(text: str) -> timedelta:
    return timedelta(seconds=float(text))


def _unsupported(value: object, why: str) -> UnsupportedValueError:
    return UnsupportedValueError(
        f"a redis-dict value cannot hold a {type(value).__qualname__}: {why}"
    )


class RedisDictCodec(Codec[Any]):
    """Reads and writes redis-dict's ``"<TypeName>:<payload>"`` values.

    ``encoders`` and ``decoders`` map a type's ``__name__`` to the functions that turn a value
    into its payload and back; ``register()`` adds one (``extends_type()`` calls it). A value
    whose type is not registered raises :class:`~keyspace.UnsupportedValueError`; stored data
    of an unregistered type raises :class:`~keyspace.CorruptValueError` when read.
    """

    __slots__ = ("decoders", "encoders")

    def __init__(self) -> None:
        super().__init__(Any, False)
        self._name = "redis-dict value"
        self.encoders: dict[str, EncodeFunc] = {
            "str": str,
            "int": str,
            "float": repr,
            "bool": str,
            "NoneType": str,
            "list": self._dump_json,
            "dict": self._dump_json,
            "tuple": self._dump_items,
            "set": self._dump_items,
            "frozenset": self._dump_items,
            "OrderedDict": self._dump_pairs,
            "defaultdict": self._dump_plain_dict,
            "datetime": datetime.isoformat,
            "date": date.isoformat,
            "time": time.isoformat,
            "timedelta": _encode_timedelta,
            "Decimal": str,
            "UUID": str,
            "complex": _encode_complex,
            "bytes": _encode_bytes,
        }
        self.decoders: dict[str, DecodeFunc] = {
            "str": str,
            "int": int,
            "float": float,
            "bool": _decode_bool,
            "NoneType": _decode_none,
            "list": self.loads,
            "dict": self.loads,
            "tuple": lambda text: tuple(self.loads(text)),
            "set": lambda text: set(self.loads(text)),
            "frozenset": lambda text: frozenset(self.loads(text)),
            "OrderedDict": lambda text: OrderedDict(self.loads(text)),
            "defaultdict": lambda text: defaultdict(type(None), self.loads(text)),
            "datetime": datetime.fromisoformat,
            "date": date.fromisoformat,
            "time": time.fromisoformat,
            "timedelta": _decode_timedelta,
            "Decimal": Decimal,
            "UUID": UUID,
            "complex": _decode_complex,
            "bytes": _decode_bytes,
        }

    def register(self, type_name: str, encode: EncodeFunc, decode: DecodeFunc) -> None:
        """Store values whose type is named ``type_name`` with ``encode``, read them with
        ``decode`` (replacing the built-in functions for that name, if any)."""
        self.encoders[type_name] = encode
        self.decoders[type_name] = decode

    # -- Codec ------------------------------------------------------------------

    def validate(self, value: object) -> Any:
        """Check that ``value`` can be stored and read back; return it unchanged."""
        self.encode(value)
        return value

    def dump(self, value: object) -> bytes:
        """The stored text of ``value``, as UTF-8."""
        return self.encode(value).encode("utf-8")

    def _decode(self, data: bytes | str) -> Any:
        return self.decode(data.decode("utf-8") if isinstance(data, bytes) else data)

    # -- the format -------------------------------------------------------------

    def encode(self, value: object) -> str:
        """``"<TypeName>:<payload>"`` for ``value``."""
        name = type(value).__name__
        return f"{name}:{self._payload(value, name)}"

    def decode(self, text: str) -> Any:
        """The value of a stored ``"<TypeName>:<payload>"`` text."""
        name, colon, payload = text.partition(":")
        if not colon:
            raise ValueError("not a redis-dict value: no '<TypeName>:' prefix")
        decode = self.decoders.get(name)
        if decode is None:
            raise ValueError(
                f"type {name!r} is not registered; register it with extends_type() to read it"
            )
        return decode(payload)

    def loads(self, text: str) -> Any:
        """Parse JSON, opening the envelopes of registered types (as redis-dict does)."""
        return json.loads(text, object_hook=self._open)

    def _payload(self, value: object, name: str) -> str:
        if name not in self.decoders:
            raise _unsupported(
                value, "its type is not registered (register it with extends_type())"
            )
        return self.encoders.get(name, str)(value)

    def _open(self, data: dict[str, Any]) -> Any:
        if TYPE_KEY in data and VALUE_KEY in data:
            decode = self.decoders.get(data[TYPE_KEY])
            if decode is not None:
                return decode(data[VALUE_KEY])
        return data

    def _nested(self, value: Any) -> Any:
        """A value inside a JSON container: native JSON, else an envelope."""
        kind = type(value)
        if kind in _NATIVE:
            return value
        if kind is list:
            return [self._nested(item) for item in value]
        if kind is dict:
            return self._object(value)
        name = kind.__name__
        return {TYPE_KEY: name, VALUE_KEY: self._payload(value, name)}

    def _object(self, value: dict[Any, Any]) -> dict[str, Any]:
        for key in value:
            if type(key) is not str:
                raise _unsupported(
                    value, f"its key {key!r} is not a str (JSON would turn it into a string)"
                )
        if TYPE_KEY in value and VALUE_KEY in value:
            raise _unsupported(
                value,
                f"with both {TYPE_KEY!r} and {VALUE_KEY!r} keys it would read back as"
                " a typed value",
            )
        return {key: self._nested(item) for key, item in value.items()}

    def _dump_json(self, value: Any) -> str:
        return json.dumps(self._nested(value))

    def _dump_items(self, value: Any) -> str:
        return json.dumps([self._nested(item) for item in value])

    def _dump_pairs(self, value: Any) -> str:
        return json.dumps([[self._nested(k), self._nested(v)] for k, v in value.items()])

    def _dump_plain_dict(self, value: Any) -> str:
        return json.dumps(self._object(dict(value)))
