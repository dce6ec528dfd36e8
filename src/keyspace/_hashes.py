"""Hash keys (``HashKey[M]``): a pydantic model stored as a Redis hash.

Storage: one hash field per model field, named by the field's Python name
(not its alias), holding the JSON of that field's own type (the codec built
from the field's annotation and constraints). ``None`` is stored as
``null``, which differs from a field that is not stored at all: a missing
field reads as the model field's default.

Reading the whole hash decodes each stored field with its codec, then
validates the model (its validators run), so a stored hash that is not a
valid model raises ``CorruptValueError`` naming the key. Hash fields the
model does not declare follow the model's ``extra`` setting, as pydantic
does for input: ignored by default (so a field removed from the model does
not break stored hashes), kept (as untyped JSON) with ``extra="allow"``,
``CorruptValueError`` with ``extra="forbid"``.

Field-level writes (``set_field``, ``set_fields``, ``incr_field``,
``delete_fields``) validate against the field's type and constraints, not
against model-level validators, and cannot check the hash as a whole: they
may leave a hash that ``get()`` rejects (a required field never written, a
constraint an increment crossed). Write the whole model with ``set()`` to
start a hash.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import _plan as plan
from ._codec import Codec, _describe, codec_for
from ._errors import CorruptValueError, KeyNotFoundError, OptionsError
from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle
from ._keys import INHERIT, TTLArg
from ._plan import Batch, Call, Command, Op

__all__ = ["AsyncHashKey", "HashOps", "SyncHashKey"]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

_UNTYPED: Codec[Any] = codec_for(Any)  # undeclared fields of extra="allow" models
# Stored fields are keyed by field name; pydantic < 2.11 validates by alias only.
_BY_NAME: dict[str, Any] = (
    {"by_name": True} if "by_name" in inspect.signature(BaseModel.model_validate).parameters else {}
)


def _text(value: Any) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


def _items(reply: Any) -> list[tuple[str, Any]]:
    """HGETALL as (field, value) pairs: a dict after redis-py's callback, else a flat list."""
    if isinstance(reply, Mapping):
        return [(_text(field), value) for field, value in reply.items()]
    flat = list(reply or ())
    return [(_text(field), value) for field, value in zip(flat[::2], flat[1::2], strict=True)]


def _none(replies: list[Any]) -> None:
    return None


class HashOps(KeyHandle[M]):
    """The operations of a HashKey, as ops (no I/O)."""

    __slots__ = ()

    # -- helpers ----------------------------------------------------------------------

    @property
    def _model(self) -> type[M]:
        model: type[M] = self._node.spec.member
        return model

    def _codec_of(self, field: str) -> Codec[Any]:
        """The codec of one field; ``OptionsError`` for a name the model does not declare."""
        codec = self._node.spec.fields.get(field)
        if codec is not None:
            return codec
        model = self._model
        if model.model_config.get("extra") == "allow" and isinstance(field, str):
            return _UNTYPED
        raise OptionsError(
            f"{self._kind} {self.key!r}: model {model.__name__} has no field {field!r}"
            f" (fields: {', '.join(self._node.spec.fields) or 'none'})"
        )

    def _load_field(self, name: str, field: str, codec: Codec[Any], data: Any) -> Any:
        try:
            return codec.load(data, key=name)
        except CorruptValueError as exc:
            raise CorruptValueError(f"{exc} (hash field {field!r})") from exc.__cause__

    def _default_model(self) -> M | None:
        """A fresh, validated copy of the key's declared default; ``None`` without one."""
        spec = self._node.spec
        if spec.default_factory is None:
            return None
        model: M = spec.codec.validate(spec.fresh_default())
        return model

    def _missing_field(self, name: str, field: str, exists: bool) -> Any:
        """What an unstored field reads as: from the key's default when the key is missing,
        else the model field's default."""
        if not exists:  # asked only when the key declares a default
            default = self._default_model()
            assert default is not None
            return getattr(default, field)
        info = self._model.model_fields.get(field)
        if info is None or info.is_required():
            raise KeyNotFoundError(f"field {field!r} of hash {name!r} is not stored (no default)")
        if getattr(info, "default_factory_takes_validated_data", False):
            raise KeyNotFoundError(
                f"field {field!r} of hash {name!r} is not stored, and its default_factory needs"
                " the other fields: read it with get()"
            )
        return info.get_default(call_default_factory=True)

    def _read(self, commands: tuple[Command, ...], parse: Callable[[list[Any]], R]) -> Op[R]:
        """A read; a sliding key renews its TTL in the same round trip."""
        name = self.key
        if self._node.spec.sliding:
            ms = self._ttl(INHERIT)
            if ms is not None:
                commands = (*commands, plan.expire(name, ms).command)
        if len(commands) == 1:
            return Call(commands[0], lambda reply: parse([reply]), name, self._kind)
        return Batch(commands, parse, name, self._kind)

    def _check_key_default(self) -> bool:
        """Whether a field read must also ask if the key exists (to use the key's default)."""
        return self._node.spec.default_factory is not None

    # -- whole hash -------------------------------------------------------------------

    def _op_get(self) -> Op[M]:
        spec = self._node.spec
        name = self.key
        model = self._model
        extra = model.model_config.get("extra")

        def parse(replies: list[Any]) -> M:
            items = _items(replies[0])
            if not items:
                default = self._default_model()
                if default is None:
                    raise KeyNotFoundError(f"key {name!r} does not exist and declares no default")
                return default
            data: dict[str, Any] = {}
            unknown: list[str] = []
            for field, raw in items:
                codec = spec.fields.get(field)
                if codec is None:
                    if extra == "allow":
                        data[field] = self._load_field(name, field, _UNTYPED, raw)
                    elif extra == "forbid":
                        unknown.append(field)
                    continue
                data[field] = self._load_field(name, field, codec, raw)
            if unknown:
                raise CorruptValueError(
                    f"stored hash of key {name!r} has fields {model.__name__} does not declare"
                    f" and forbids (extra='forbid'): {', '.join(map(repr, sorted(unknown)))}"
                )
            try:
                result = model.model_validate(data, strict=spec.codec.strict or None, **_BY_NAME)
            except ValidationError as exc:
                raise CorruptValueError(
                    f"stored hash of key {name!r} is not a valid {model.__name__}: "
                    + _describe(exc)
                ) from exc
            return result

        return self._read((("HGETALL", name),), parse)

    def _op_set(self, value: M | Mapping[str, Any], ttl: TTLArg = INHERIT) -> Batch[None]:
        spec = self._node.spec
        name = self.key
        model = self._model.model_validate(value, strict=spec.codec.strict or None, **_BY_NAME)
        flat: list[Any] = []
        for field, codec in spec.fields.items():
            flat += (field, codec.dump(getattr(model, field)))
        for field, extra_value in (model.__pydantic_extra__ or {}).items():
            flat += (field, _UNTYPED.dump(extra_value))
        commands: tuple[Command, ...] = (("DEL", name),)
        if flat:  # Redis holds no empty hash: a model without fields is a deleted key
            commands = self._with_ttl(name, (*commands, ("HSET", name, *flat)), ttl)
        else:
            self._ttl(ttl)  # a bad ttl= is an error all the same
        return Batch(commands, _none, name, self._kind)

    # -- fields -----------------------------------------------------------------------

    def _op_get_field(self, field: str) -> Op[Any]:
        name = self.key
        codec = self._codec_of(field)
        commands: tuple[Command, ...] = (("HGET", name, field),)
        if self._check_key_default():
            commands += (("EXISTS", name),)

        def parse(replies: list[Any]) -> Any:
            if replies[0] is None:
                exists = not self._check_key_default() or plan.truthy(replies[1])
                return self._missing_field(name, field, exists)
            return self._load_field(name, field, codec, replies[0])

        return self._read(commands, parse)

    def _op_get_fields(self, *fields: str) -> Op[dict[str, Any]]:
        name = self.key
        codecs = {field: self._codec_of(field) for field in fields}
        if not codecs:
            return Batch((), lambda replies: {}, name, self._kind)
        commands: tuple[Command, ...] = (("HMGET", name, *codecs),)
        if self._check_key_default():
            commands += (("EXISTS", name),)

        def parse(replies: list[Any]) -> dict[str, Any]:
            exists = not self._check_key_default() or plan.truthy(replies[1])
            return {
                field: self._missing_field(name, field, exists)
                if raw is None
                else self._load_field(name, field, codec, raw)
                for (field, codec), raw in zip(codecs.items(), replies[0], strict=True)
            }

        return self._read(commands, parse)

    def _op_set_field(self, field: str, value: Any) -> Batch[None]:
        data = self._codec_of(field).dump(value)
        return self._write((("HSET", self.key, field, data),), _none)

    def _op_set_fields(
        self, values: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Batch[None]:
        name = self.key
        merged = {**(values or {}), **fields}
        flat: list[Any] = []
        for field, value in merged.items():
            flat += (field, self._codec_of(field).dump(value))
        if not flat:
            return Batch((), _none, name, self._kind)
        return self._write((("HSET", name, *flat),), _none)

    def _op_incr_field(self, field: str, by: int | float = 1) -> Batch[int | float]:
        name = self.key
        info = self._model.model_fields.get(field)
        if info is None:
            self._codec_of(field)  # raises for an unknown field
        kind = None if info is None else info.annotation
        if kind not in (int, float):
            raise OptionsError(
                f"incr_field {name!r}: field {field!r} is {kind!r}; only int and float fields"
                " can be incremented"
            )
        if isinstance(by, bool) or not isinstance(by, (int, float)):
            raise OptionsError(f"incr_field {name!r}: by must be an int or a float, got {by!r}")
        if kind is int:
            if not isinstance(by, int):
                raise OptionsError(f"incr_field {name!r}: {field!r} is an int field; got by={by!r}")
            return self._write((("HINCRBY", name, field, by),), lambda r: int(r[0]))
        if not math.isfinite(by):
            raise OptionsError(f"incr_field {name!r}: by must be finite, got {by!r}")
        return self._write((("HINCRBYFLOAT", name, field, by),), lambda r: float(r[0]))

    def _op_delete_fields(self, *fields: str) -> Batch[int]:
        name = self.key
        for field in fields:
            self._codec_of(field)
        if not fields:
            return Batch((), lambda replies: 0, name, self._kind)
        return self._write((("HDEL", name, *fields),), lambda replies: int(replies[0]))

    def _op_has_field(self, field: str) -> Op[bool]:
        self._codec_of(field)
        return self._read((("HEXISTS", self.key, field),), lambda r: plan.truthy(r[0]))

    def _op_fields(self) -> Op[list[str]]:
        return self._read((("HKEYS", self.key),), lambda r: [_text(f) for f in r[0]])


class AsyncHashKey(AsyncKey[M], HashOps[M]):
    """A HashKey of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()

    async def get(self) -> M:
        """The stored model, validated; a fresh copy of the declared default when missing.

        Raises ``KeyNotFoundError`` when the key is missing and declares no
        default, ``CorruptValueError`` when the stored hash is not a valid model.
        """
        return await self._rt.executor.call(self._op_get())

    async def set(self, value: M | Mapping[str, Any], ttl: TTLArg = INHERIT) -> None:
        """Validate the whole model, then replace the hash (every field) and its TTL atomically.

        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return await self._rt.executor.call(self._op_set(value, ttl))

    async def get_field(self, field: str) -> Any:
        """One field, decoded; when it is not stored, the field's default (the key's default
        model's when the key is missing), else ``KeyNotFoundError``."""
        return await self._rt.executor.call(self._op_get_field(field))

    async def get_fields(self, *fields: str) -> dict[str, Any]:
        """Several fields in one command, as ``{field: value}``; defaults as in ``get_field``."""
        return await self._rt.executor.call(self._op_get_fields(*fields))

    async def set_field(self, field: str, value: Any) -> None:
        """Validate ``value`` against the field's type, then write it and the key's TTL."""
        return await self._rt.executor.call(self._op_set_field(field, value))

    async def set_fields(self, values: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Validate, then write several fields in one ``HSET`` with the key's TTL; the
        other stored fields are kept."""
        return await self._rt.executor.call(self._op_set_fields(values, **fields))

    async def incr_field(self, field: str, by: int | float = 1) -> int | float:
        """Atomically add ``by`` to an ``int`` or ``float`` field (a missing field counts
        as 0) and renew the TTL; the new value. Field constraints are not checked."""
        return await self._rt.executor.call(self._op_incr_field(field, by))

    async def delete_fields(self, *fields: str) -> int:
        """Remove fields from the hash (they then read as their defaults); how many were stored."""
        return await self._rt.executor.call(self._op_delete_fields(*fields))

    async def has_field(self, field: str) -> bool:
        """Whether the field is stored."""
        return await self._rt.executor.call(self._op_has_field(field))

    async def fields(self) -> list[str]:
        """The names of the stored fields."""
        return await self._rt.executor.call(self._op_fields())


class SyncHashKey(SyncKey[M], HashOps[M]):
    """A HashKey of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> M:
        """The stored model, validated; a fresh copy of the declared default when missing.

        Raises ``KeyNotFoundError`` when the key is missing and declares no
        default, ``CorruptValueError`` when the stored hash is not a valid model.
        """
        return self._rt.executor.call(self._op_get())

    def set(self, value: M | Mapping[str, Any], ttl: TTLArg = INHERIT) -> None:
        """Validate the whole model, then replace the hash (every field) and its TTL atomically.

        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return self._rt.executor.call(self._op_set(value, ttl))

    def get_field(self, field: str) -> Any:
        """One field, decoded; when it is not stored, the field's default (the key's default
        model's when the key is missing), else ``KeyNotFoundError``."""
        return self._rt.executor.call(self._op_get_field(field))

    def get_fields(self, *fields: str) -> dict[str, Any]:
        """Several fields in one command, as ``{field: value}``; defaults as in ``get_field``."""
        return self._rt.executor.call(self._op_get_fields(*fields))

    def set_field(self, field: str, value: Any) -> None:
        """Validate ``value`` against the field's type, then write it and the key's TTL."""
        return self._rt.executor.call(self._op_set_field(field, value))

    def set_fields(self, values: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Validate, then write several fields in one ``HSET`` with the key's TTL; the
        other stored fields are kept."""
        return self._rt.executor.call(self._op_set_fields(values, **fields))

    def incr_field(self, field: str, by: int | float = 1) -> int | float:
        """Atomically add ``by`` to an ``int`` or ``float`` field (a missing field counts
        as 0) and renew the TTL; the new value. Field constraints are not checked."""
        return self._rt.executor.call(self._op_incr_field(field, by))

    def delete_fields(self, *fields: str) -> int:
        """Remove fields from the hash (they then read as their defaults); how many were stored."""
        return self._rt.executor.call(self._op_delete_fields(*fields))

    def has_field(self, field: str) -> bool:
        """Whether the field is stored."""
        return self._rt.executor.call(self._op_has_field(field))

    def fields(self) -> list[str]:
        """The names of the stored fields."""
        return self._rt.executor.call(self._op_fields())
