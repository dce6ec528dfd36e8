"""``Key[T]``: the declaration of one Redis key, and the TTL options it carries."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, Final, Generic, TypeVar, final

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ._errors import TTLError

__all__ = ["INHERIT", "MISSING", "Inherit", "Key", "TTLArg", "ttl_ms"]

T = TypeVar("T")


@final
class Inherit:
    """The type of :data:`INHERIT`: "use the TTL of the enclosing cluster"."""

    _instance: Inherit | None = None

    def __new__(cls) -> Inherit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "INHERIT"

    def __reduce__(self) -> str:
        return "INHERIT"


INHERIT: Final = Inherit()
"""TTL sentinel, distinct from ``None``: inherit the TTL (``None`` means no expiry)."""


@final
class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
"""No default declared: reading a missing key raises ``KeyNotFoundError``."""

TTLArg = int | float | timedelta | None | Inherit
"""What a ``ttl=`` accepts: seconds, a ``timedelta``, ``None`` (no expiry) or ``INHERIT``."""


def ttl_ms(ttl: TTLArg, where: str) -> int | Inherit | None:
    """Normalise a TTL to whole milliseconds, keeping ``None`` and ``INHERIT``.

    Raises ``TTLError`` for zero, negative, non-finite or non-numeric values
    and for positive values that round to less than one millisecond.
    """
    if ttl is None or ttl is INHERIT:
        return ttl
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        seconds = float(ttl)
    else:
        raise TTLError(
            f"{where}: ttl must be seconds (int or float), a timedelta, None or INHERIT;"
            f" got {type(ttl).__name__} {ttl!r}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise TTLError(f"{where}: ttl must be positive, got {ttl!r}; use None for no expiry")
    ms = round(seconds * 1000)
    if ms < 1:
        raise TTLError(f"{where}: ttl {ttl!r} is shorter than one millisecond")
    return ms


class Key(Generic[T]):
    """Declares a Redis string key holding a value of type ``T``.

    Use it as the annotation of a cluster field; the field's default is
    either the key's default value or a ``Key(...)`` carrying options::

        class User(Cluster, prefix="user:{user_id}", ttl=120):
            age: Key[int] = 0
            short: Key[str] = Key(ttl=5)
            message: Key[str] = Key("message:{message_id}", default="?")

    Args:
        template: the key's name below its cluster; defaults to the field
            name. May hold its own ``{placeholders}``.
        default: returned (as a fresh copy) by ``get()`` when the key is
            missing; never written to Redis.
        ttl: seconds or ``timedelta``; ``None`` for no expiry; ``INHERIT``
            (the default) for the enclosing cluster's TTL.
        strict: validate values in pydantic's strict mode.
    """

    __slots__ = ("default", "strict", "template", "ttl")

    def __init__(
        self,
        template: str | None = None,
        *,
        default: T = MISSING,
        ttl: TTLArg = INHERIT,
        strict: bool = False,
    ) -> None:
        self.template = template
        self.default = default
        self.ttl = ttl
        self.strict = strict

    def __repr__(self) -> str:
        options = [f"{name}={getattr(self, name)!r}" for name in ("template", "default", "ttl")]
        return f"Key({', '.join(options)})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A cluster model is a declaration, never instantiated with data; the
        # schema of the value type keeps pydantic's introspection meaningful.
        args = getattr(source, "__args__", None)
        return handler.generate_schema(args[0]) if args else core_schema.any_schema()
