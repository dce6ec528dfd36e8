"""``Key[T]``: the declaration of one Redis key, and the TTL options it carries."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, ClassVar, Final, Generic, TypeVar, final, get_args

from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import core_schema

from ._crypto import PasswordHash
from ._errors import TTLError

__all__ = [
    "INHERIT",
    "MISSING",
    "Counter",
    "FloatCounter",
    "HashKey",
    "Inherit",
    "Key",
    "ListKey",
    "PasswordKey",
    "SecretKey",
    "SetKey",
    "SortedSetKey",
    "TTLArg",
    "ttl_ms",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


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
        raise TTLError(f"{where}: ttl must be positive, got {ttl!r}")
    ms = round(seconds * 1000)
    if ms < 1:
        raise TTLError(f"{where}: ttl {ttl!r} is shorter than one millisecond")
    return ms


class Key(Generic[T]):
    """Declares a Redis string key holding a value of type ``T`` as JSON.

    Use it as the annotation of a cluster field; the field's default is
    either the key's default value or a ``Key(...)`` carrying options::

        class User(Cluster, prefix="user:{user_id}", ttl=120):
            age: Key[int] = 0
            short: Key[str] = Key(ttl=5)
            message: Key[str] = Key("message:{message_id}", default="?")

    The native structures are declared the same way with :class:`HashKey`,
    :class:`ListKey`, :class:`SetKey`, :class:`SortedSetKey`,
    :class:`Counter` and :class:`FloatCounter`.

    Args:
        template: the key's name below its cluster; defaults to the field
            name. May hold its own ``{placeholders}``.
        default: returned (as a fresh copy) by ``get()`` when the key is
            missing; never written to Redis.
        ttl: seconds or ``timedelta``; ``None`` for no expiry; ``INHERIT``
            (the default) for the enclosing cluster's TTL.
        strict: validate values in pydantic's strict mode.
        sliding: renew the TTL on every read, in the same round trip
            (``GETEX`` for string keys).
    """

    __slots__ = ("default", "sliding", "strict", "template", "ttl")

    redis_type: ClassVar[str] = "string"
    """The Redis type that ``TYPE`` reports for keys of this kind."""
    fixed_type: ClassVar[Any] = None
    """The value type of kinds declared without a type argument (counters)."""
    secret: ClassVar[bool] = False
    """Whether values (and the default) must stay out of logs, reprs and messages."""

    def __init__(
        self,
        template: str | None = None,
        *,
        default: T = MISSING,
        ttl: TTLArg = INHERIT,
        strict: bool = False,
        sliding: bool = False,
    ) -> None:
        self.template = template
        self.default = default
        self.ttl = ttl
        self.strict = strict
        self.sliding = sliding

    def __repr__(self) -> str:
        options = {name: repr(getattr(self, name)) for name in ("template", "default", "ttl")}
        if self.secret and self.default is not MISSING:
            options["default"] = "<redacted>"
        shown = ", ".join(f"{name}={value}" for name, value in options.items())
        return f"{type(self).__name__}({shown})"

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        """The type ``get()`` returns for a declaration ``Kind[arg]``."""
        return arg

    @classmethod
    def implicit_default(cls) -> Any:
        """What a missing key reads as when the declaration gives no default."""
        return MISSING

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A cluster model is a declaration, never instantiated with data; the
        # schema of the value type keeps pydantic's introspection meaningful.
        args = get_args(source)
        return handler.generate_schema(cls.value_type(args[0])) if args else cls._bare_schema()

    @classmethod
    def _bare_schema(cls) -> core_schema.CoreSchema:
        return core_schema.any_schema()


class HashKey(Key[M]):
    """A pydantic model stored as a Redis hash: one field per model field,
    each encoded as JSON of its own type."""

    __slots__ = ()
    redis_type = "hash"


class ListKey(Key[list[T]], Generic[T]):
    """A Redis list of ``T`` members (JSON each); a missing list reads as ``[]``."""

    __slots__ = ()
    redis_type = "list"

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        return list[arg]

    @classmethod
    def implicit_default(cls) -> Any:
        return []


class SetKey(Key[set[T]], Generic[T]):
    """A Redis set of ``T`` members (JSON each); a missing set reads as ``set()``."""

    __slots__ = ()
    redis_type = "set"

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        return set[arg]

    @classmethod
    def implicit_default(cls) -> Any:
        return set()


class SortedSetKey(Key[dict[T, float]], Generic[T]):
    """A Redis sorted set of ``T`` members with float scores; reads as ``{member: score}``."""

    __slots__ = ()
    redis_type = "zset"

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        return dict[arg, float]

    @classmethod
    def implicit_default(cls) -> Any:
        return {}


class Counter(Key[int]):
    """An integer counter with atomic increments; a missing counter reads as ``0``.

    Declare it without a type argument: ``visits: Counter``.
    """

    __slots__ = ()
    fixed_type = int

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        return int

    @classmethod
    def implicit_default(cls) -> Any:
        return 0

    @classmethod
    def _bare_schema(cls) -> core_schema.CoreSchema:
        return core_schema.int_schema()


class FloatCounter(Key[float]):
    """A float counter with atomic increments; a missing counter reads as ``0.0``."""

    __slots__ = ()
    fixed_type = float

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        return float

    @classmethod
    def implicit_default(cls) -> Any:
        return 0.0

    @classmethod
    def _bare_schema(cls) -> core_schema.CoreSchema:
        return core_schema.float_schema()


class SecretKey(Key[T]):
    """A value of type ``T`` encrypted at rest (AES-256-GCM); ``get()`` decrypts it.

    Writes encrypt with ``REDIS_ENCRYPTION_KEY``; reads also accept the keys
    in ``REDIS_ENCRYPTION_OLD_KEYS``. A declared default is returned for a
    missing key like any default: it lives in your source, unencrypted. Needs
    the ``secrets`` extra (``cryptography``).
    """

    __slots__ = ()
    secret = True


class PasswordKey(Key[Any]):
    """A password stored as a salted argon2id hash: ``set(password)``, ``verify(candidate)``.

    Declare it without a type argument: ``password: PasswordKey``. ``get()``
    returns a :class:`~keyspace.PasswordHash`, never the password; a declared
    default is hashed when the class is created. Needs the ``secrets`` extra
    (``argon2-cffi``).
    """

    __slots__ = ()
    secret = True
    fixed_type = PasswordHash

    @classmethod
    def value_type(cls, arg: Any) -> Any:
        return PasswordHash
