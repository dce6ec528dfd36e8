"""redis-pydict's storage format: a one-byte type tag, then the payload.

========  ==============================================================
Tag       Payload
========  ==============================================================
``n``     nothing: ``None``
``i``     ``str()`` of an ``int``
``f``     ``str()`` of a ``float`` (``inf`` and ``nan`` included)
``s``     a ``str`` as UTF-8
``d``     a ``dict`` as JSON (``json.dumps``' default layout)
``l``     a ``list`` as JSON
``c``     anything else, pickled
========  ==============================================================

redis-pydict writes ``d`` and ``l`` for every dict and list, so a tuple inside a list came back
as a list and a dict's ``1`` key as ``"1"``; this codec writes them as ``d``/``l`` only when JSON
holds them faithfully, and otherwise as a pickle, which redis-pydict reads too.

Pickles are where the danger lies: loading one can run any code its writer chose. So pickles
are read by an unpickler that builds only a safe list of types (``None``, ``bool``, ``int``,
``float``, ``complex``, ``str``, ``bytes``, ``tuple``, ``list``, ``dict``, ``set``,
``frozenset``, ``datetime``, ``date``, ``time``, ``timedelta``, ``timezone``, ``Decimal``,
``UUID``, ``OrderedDict``) and refuses every other global; values of those types are the only
ones written as pickles. Other objects need ``unsafe_pickle=True``, which writes and loads any
picklable object with :mod:`pickle`: use it only when everyone who can write to the Redis
server is trusted.
"""

from __future__ import annotations

import io
import json
import pickle
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from .._codec import Codec
from .._errors import UnsupportedValueError

__all__ = ["PyDictCodec"]

PICKLE_PROTOCOL = 4  # what redis-pydict's Pythons (3.8 and later) write by default
_SAFE_SCALARS = frozenset(
    {type(None), bool, int, float, complex, str, bytes, date, timedelta, Decimal, UUID}
)
_SAFE_GLOBALS = frozenset(
    {
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
        ("uuid", "SafeUUID"),
        ("collections", "OrderedDict"),
    }
)


def _json_native(value: Any) -> bool:
    """Whether JSON gives ``value`` back exactly (with its types, at any depth)."""
    kind = type(value)
    if kind is list:
        return all(_json_native(item) for item in value)
    if kind is dict:
        return all(type(k) is str and _json_native(v) for k, v in value.items())
    return value is None or kind in (bool, int, float, str)


def _pickle_safe(value: Any) -> bool:
    """Whether ``value`` is built only of the types the safe unpickler reads."""
    kind = type(value)
    if kind in _SAFE_SCALARS:
        return True
    if kind is datetime or kind is time:
        return value.tzinfo is None or type(value.tzinfo) is timezone
    if kind in (list, tuple, set, frozenset):
        return all(_pickle_safe(item) for item in value)
    if kind is dict or kind is OrderedDict:
        return all(_pickle_safe(k) and _pickle_safe(v) for k, v in value.items())
    return False


class _SafeUnpickler(pickle.Unpickler):
    """Builds only the safe-listed types: every other global is refused, so a pickle cannot
    call anything else (Python's documented way of restricting globals)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"it holds a pickled {module}.{name}, which is not on the safe list; read it with"
            " unsafe_pickle=True only if everyone who can write to this server is trusted"
        )


class PyDictCodec(Codec[Any]):
    """Reads and writes redis-pydict's tagged values.

    ``unsafe_pickle=True`` stores any picklable object and loads any pickle; without it,
    objects outside the safe list raise :class:`~keyspace.UnsupportedValueError` and reading
    their pickles raises :class:`~keyspace.CorruptValueError`.
    """

    __slots__ = ("unsafe_pickle",)

    def __init__(self, unsafe_pickle: bool = False) -> None:
        super().__init__(Any, False)
        self._name = "redis-pydict value"
        self.unsafe_pickle = unsafe_pickle

    def validate(self, value: object) -> Any:
        """Check that ``value`` can be stored and read back; return it unchanged."""
        self.dump(value)
        return value

    def dump(self, value: object) -> bytes:
        """The tagged bytes stored for ``value``."""
        kind = type(value)
        if value is None:
            return b"n"
        if kind is int:
            return b"i" + str(value).encode()
        if kind is float:
            return b"f" + str(value).encode()
        if kind is str:
            return b"s" + cast(str, value).encode()
        if kind in (dict, list) and _json_native(value):
            return (b"d" if kind is dict else b"l") + json.dumps(value).encode()
        if self.unsafe_pickle or _pickle_safe(value):
            return b"c" + pickle.dumps(value, protocol=PICKLE_PROTOCOL)
        raise UnsupportedValueError(
            f"a redis-pydict value cannot hold a {kind.__qualname__} without unsafe_pickle=True"
            " (pickles of other types can run code when loaded); store None, bool, numbers,"
            " str, bytes, containers, dates, Decimal or UUID, or convert the object"
        )

    def _decode(self, data: bytes | str) -> Any:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        tag, payload = raw[:1], raw[1:]
        if tag == b"n":
            return None
        if tag == b"i":
            return int(payload)
        if tag == b"f":
            return float(payload)
        if tag == b"s":
            return payload.decode("utf-8")
        if tag in (b"d", b"l"):
            value = json.loads(payload)
            if type(value) is not (dict if tag == b"d" else list):
                raise ValueError(f"tag {tag.decode()!r} holds JSON of another type")
            return value
        if tag == b"c":
            if self.unsafe_pickle:
                return pickle.loads(payload)  # the caller opted in
            return _SafeUnpickler(io.BytesIO(payload)).load()
        raise ValueError(f"unknown type tag {tag!r}")
