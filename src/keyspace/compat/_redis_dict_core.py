"""``RedisDict``: redis-dict's API on :class:`keyspace.KeyspaceDict`.

Keys, SCAN, batching (``pipeline()``), expiry contexts (``expire_at()``), atomic ``pop()`` and
``setdefault()`` are the core mapping's; this module adds redis-dict's constructor, method
names and extras, and stores values with :class:`RedisDictCodec` in redis-dict's format.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, cast

from redis import Redis
from typing_extensions import TypeVar

from .. import _plan as plan
from .._errors import InvalidParameterError, OptionsError
from .._execute import SyncClient
from .._keys import INHERIT, ttl_ms
from .._mapping import KeyspaceDict
from .._mapping_core import glob_escape
from .._plan import Batch, Call, Flow, Op, Scan
from .._settings import RedisSettings
from ._redis_dict_values import DecodeFunc, EncodeFunc, RedisDictCodec

__all__ = ["RedisDict"]

K = TypeVar("K", default=str)
V = TypeVar("V", default=Any)

Expire = int | timedelta | None


def _none(_reply: Any) -> None:
    return None


def _seconds(reply: Any) -> int | None:
    seconds = int(reply)
    return None if seconds < 0 else seconds


class RedisDict(KeyspaceDict[K, V]):
    """A dict in Redis, as redis-dict's ``RedisDict``: each entry is one string at
    ``<namespace>:<key>`` holding ``"<TypeName>:<payload>"``.

    Args:
        namespace: the key prefix.
        expire: the TTL of writes (seconds or ``timedelta``); ``None``: no expiry.
        preserve_expiration: overwriting an entry keeps its TTL.
        redis: a ``redis.Redis`` client, used as it is (its pool is never changed).
        raise_key_error_delete: ``del d[k]`` raises ``KeyError`` for a missing key (by
            default it does not, as in redis-dict).
        settings: keyspace settings for the client and the SCAN and delete chunk sizes.
        **redis_kwargs: build a ``redis.Redis(**redis_kwargs)`` (``decode_responses=True``
            unless given), closed by :meth:`close`.

    Without ``redis`` and keywords the client comes from ``settings`` (by default the
    environment: ``REDIS_URL``, ``REDIS_HOST``, ... or ``localhost:6379`` as in redis-dict).
    A client the mapping builds decodes responses to ``str``, as redis-dict's did.
    ``RedisDict[str, Any]`` names the key and value types for type checkers; values are
    stored in redis-dict's format whatever the value type says (a typed
    :class:`~keyspace.KeyspaceDict` validates them).

    Every ``dict`` method works, plus redis-dict's ``expire_at()``, ``pipeline()``,
    ``get_ttl()``, ``to_dict()``, ``get_redis_info()``, ``multi_get()``, ``multi_dict()``,
    ``multi_del()``, ``multi_chain_get()``, ``chain_set()``, ``chain_get()``, ``chain_del()`` and
    ``extends_type()``, and keyspace's additions (``set(k, v, ttl=)``, ``ttl()``, ...).
    ``expire_at()`` and ``pipeline()`` are local to the current thread. Keys may not hold
    ``:``, braces or glob characters (``InvalidParameterError``): a chain of keys is what
    ``chain_set()`` is for.
    """

    custom_encode_method: str
    """The method ``extends_type()`` encodes with when it is given no function."""
    custom_decode_method: str
    """The class method ``extends_type()`` decodes with when it is given no function."""
    _codec: RedisDictCodec

    def __init__(
        self,
        namespace: str = "main",
        expire: Expire = None,
        preserve_expiration: bool | None = False,
        redis: SyncClient | None = None,
        raise_key_error_delete: bool = False,
        *,
        settings: RedisSettings | None = None,
        **redis_kwargs: Any,
    ) -> None:
        if redis is not None and redis_kwargs:
            raise OptionsError(
                f"RedisDict {namespace!r}: connection keywords {sorted(redis_kwargs)} have no"
                " effect with a redis= client"
            )
        settings = settings if settings is not None else RedisSettings()
        client = redis
        if client is None:  # a client of its own decodes responses, as redis-dict's did
            client = (
                Redis(**{"decode_responses": True, **redis_kwargs})
                if redis_kwargs
                else settings.model_copy(update={"decode_responses": True}).sync_client()
            )
        try:
            super().__init__(
                namespace,
                client,
                settings=settings,
                ttl=expire,
                preserve_ttl=bool(preserve_expiration),
            )
        except BaseException:
            if redis is None:
                client.close()
            raise
        self._owns_client = redis is None
        self._expire = expire
        self._codec = RedisDictCodec()
        self.namespace = namespace
        self.raise_key_error_delete = raise_key_error_delete
        self.custom_encode_method = "encode"
        self.custom_decode_method = "decode"

    # -- redis-dict's attributes --------------------------------------------------

    @property
    def expire(self) -> Expire:
        """The TTL of writes outside ``expire_at()`` blocks; assign to change it."""
        return self._expire

    @expire.setter
    def expire(self, value: Expire) -> None:
        self._ttl_ms = cast("int | None", ttl_ms(value, f"{self._where} expire"))
        self._expire = value

    @property
    def preserve_expiration(self) -> bool:
        """Whether overwriting an entry keeps its TTL; assign to change it."""
        return self._preserve

    @preserve_expiration.setter
    def preserve_expiration(self, value: bool) -> None:
        self._preserve = bool(value)

    @property
    def redis(self) -> SyncClient:
        """The ``redis.Redis`` client (redis-dict's attribute)."""
        return self.client

    @property
    def get_redis(self) -> SyncClient:
        """The ``redis.Redis`` client (redis-dict's other name for it)."""
        return self.client

    @property
    def encoding_registry(self) -> dict[str, EncodeFunc]:
        """This mapping's encoders by type name (``extends_type()`` adds to them)."""
        return self._codec.encoders

    @property
    def decoding_registry(self) -> dict[str, DecodeFunc]:
        """This mapping's decoders by type name."""
        return self._codec.decoders

    # -- dict behaviour that differs from KeyspaceDict ----------------------------

    def __delitem__(self, key: K) -> None:
        if self.raise_key_error_delete:
            super().__delitem__(key)
        else:  # redis-dict's default: deleting a missing key is not an error
            self._write(Call(("DEL", self._name(key)), _none))

    def __str__(self) -> str:
        return str(self.to_dict())

    def __reversed__(self) -> Iterator[K]:
        return reversed(list(self))

    def fromkeys(self, iterable: Iterable[K], value: V | None = None) -> RedisDict[K, V]:
        """Set every key of ``iterable`` to ``value`` (one round trip) and return this mapping.

        As in redis-dict, this fills the mapping itself; it is not a class method.
        """
        self.update((key, value) for key in iterable)
        return self

    # -- expiry and batching ------------------------------------------------------

    def expire_at(self, sec_epoch: Expire) -> AbstractContextManager[None]:
        """Give the writes inside the block this TTL (seconds or ``timedelta``).

        Local to the current thread; ``expiring()`` under keyspace's name.
        """
        return self.expiring(sec_epoch)

    def pipeline(self) -> AbstractContextManager[None]:
        """Buffer the writes inside the block and send them in one round trip (MULTI/EXEC)
        when the outermost block exits; nothing is sent if it raises.

        Local to the current thread; ``batch()`` under keyspace's name. Reads inside the
        block see Redis, not the buffered writes.
        """
        return self.batch()

    def get_ttl(self, key: K) -> int | None:
        """Seconds until ``key`` expires; ``None`` if it is missing or never expires."""
        return self._executor.call(Call(("TTL", self._name(key)), _seconds))

    def get_redis_info(self) -> dict[str, Any]:
        """The server's ``INFO`` as a dict (the in-memory backend has no ``INFO``)."""
        return dict(self.client.info())

    # -- key chains and prefixes --------------------------------------------------

    def _chain_name(self, keys: Iterable[str]) -> str:
        parts = [self._param.render(part) for part in keys]
        if not parts:
            raise InvalidParameterError(f"{self._where}: a key chain needs at least one key")
        return self._head + ":".join(parts)

    def chain_set(self, iterable: Iterable[str], v: Any) -> None:
        """Store ``v`` at ``<namespace>:<k1>:<k2>...`` (an entry of the namespace
        ``<namespace>:<k1>...``, not of this one)."""
        name = self._chain_name(iterable)
        commands = self._set_commands(name, self._codec.dump(v), INHERIT)
        op: Op[None] = Call(commands[0], _none) if len(commands) == 1 else Batch(commands, _none)
        self._write(op)

    def chain_get(self, iterable: Iterable[str]) -> Any:
        """The value at ``<namespace>:<k1>:<k2>...``; ``KeyError`` when missing."""
        keys = builtins.list(iterable)
        name = self._chain_name(keys)
        load = self._load

        def parse(reply: Any) -> Any:
            if reply is None:
                raise KeyError(":".join(keys))
            return load(reply, name)

        return self._executor.call(Call(("GET", name), parse))

    def chain_del(self, iterable: Iterable[str]) -> None:
        """Delete the value at ``<namespace>:<k1>:<k2>...`` (``KeyError`` when missing only
        with ``raise_key_error_delete``)."""
        keys = builtins.list(iterable)
        name = self._chain_name(keys)

        def parse(reply: Any) -> None:
            if self.raise_key_error_delete and not int(reply):
                raise KeyError(":".join(keys))

        self._write(Call(("DEL", name), parse))

    def _prefix(self, prefix: str) -> str:
        if not isinstance(prefix, str):
            raise InvalidParameterError(
                f"{self._where}: a key prefix must be a str, got {type(prefix).__name__}"
            )
        return glob_escape(self._head + prefix) + "*"

    def _flow_prefixed(self, prefix: str) -> Flow[builtins.list[tuple[str, Any]]]:
        """Every ``(Redis key, value)`` whose key starts with ``<namespace>:<prefix>``."""
        pattern = self._prefix(prefix)
        found: builtins.list[tuple[str, Any]] = []
        seen: builtins.set[bytes] = builtins.set()
        cursor: Any = None
        while True:
            cursor, names = yield Scan(pattern, self._count, cursor)
            page = []
            for name in names:
                raw = plan.as_bytes(name)
                if raw not in seen:
                    seen.add(raw)
                    page.append(raw)
            if page:
                replies = yield self._fetch(page)
                for raw, data in zip(page, replies, strict=True):
                    if data is not None and not isinstance(data, Exception):  # gone meanwhile
                        text = raw.decode("utf-8", "backslashreplace")
                        found.append((text, self._load(data, text)))
            if cursor is None:
                return found

    def multi_get(self, key: str) -> builtins.list[Any]:
        """The values of every Redis key starting with ``<namespace>:<key>``, chains
        included (``multi_get("user")`` finds ``user1`` and ``user:1:name``)."""
        return [value for _, value in self._executor.run(self._flow_prefixed(key))]

    def multi_chain_get(self, keys: builtins.list[str]) -> builtins.list[Any]:
        """``multi_get()`` of the chain ``keys`` joined with ``:``."""
        return self.multi_get(":".join(keys))

    def multi_dict(self, key: str) -> dict[str, Any]:
        """``multi_get()`` as a dict keyed by the last ``:`` segment of each Redis key."""
        found = self._executor.run(self._flow_prefixed(key))
        return {name.rpartition(":")[2]: value for name, value in found}

    def multi_del(self, key: str) -> int:
        """Delete every Redis key starting with ``<namespace>:<key>``; how many."""
        pattern = self._prefix(key)
        flow = plan.scan_unlink(pattern, lambda _: True, self._count, self._chunk)
        return self._executor.run(self._flow_after_buffer(flow))

    # -- custom types ---------------------------------------------------------------

    def new_type_compliance(
        self,
        class_type: type,
        encode_method_name: str | None = None,
        decode_method_name: str | None = None,
    ) -> None:
        """Raise ``NotImplementedError`` unless ``class_type`` has the named methods."""
        for method in (encode_method_name, decode_method_name):
            if method is not None and not callable(getattr(class_type, method, None)):
                raise NotImplementedError(
                    f"Class {class_type.__name__} does not implement the required {method} method."
                )

    def extends_type(
        self,
        class_type: type,
        encode: EncodeFunc | None = None,
        decode: DecodeFunc | None = None,
        encoding_method_name: str | None = None,
        decoding_method_name: str | None = None,
    ) -> None:
        """Store values of ``class_type`` as ``"<ClassName>:<encode(value)>"`` in this mapping.

        Without ``encode`` the instance method ``encoding_method_name`` (default
        ``custom_encode_method``, ``"encode"``) is used; without ``decode`` the class method
        ``decoding_method_name`` (default ``"decode"``). Unlike redis-dict's, the
        registration belongs to this mapping only.
        """
        if encode is None:
            encoder = encoding_method_name or self.custom_encode_method
            self.new_type_compliance(class_type, encode_method_name=encoder)
            encode = _method_encoder(encoder)
        if decode is None:
            decoder = decoding_method_name or self.custom_decode_method
            self.new_type_compliance(class_type, decode_method_name=decoder)
            decode = getattr(class_type, decoder)
        self._codec.register(class_type.__name__, encode, cast(DecodeFunc, decode))


def _method_encoder(name: str) -> Callable[[Any], str]:
    def encode(value: Any) -> str:
        return cast(str, getattr(value, name)())

    return encode
