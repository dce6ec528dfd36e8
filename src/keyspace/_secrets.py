"""Secret keys (``SecretKey[T]``) and password keys (``PasswordKey``).

Both are Redis strings whose stored bytes are not the value's JSON: a secret
key stores the JSON encrypted (see ``_crypto``), a password key an argon2id
hash. They share the string keys' operations and differ only in how a value
is sealed for Redis and unsealed from it, so ``update()``, ``load()``,
``save()``, pipelines and ``repo.update()`` work on them unchanged.

Their values never reach a log, a repr or an error message: the executor
logs command names and keys only, invalid values raise a ``ValidationError``
without its input, and decoding errors name the key, not the data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import PlainSerializer, SecretBytes, SecretStr, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from . import _plan as plan
from ._codec import Codec, codec_for
from ._crypto import PasswordHash, PasswordInput, dummy_verify, hash_password
from ._errors import ConflictError, CorruptValueError
from ._facade import AsyncKey, SyncKey
from ._keys import INHERIT, MISSING, TTLArg
from ._plan import RETRY, Call, Exec, Flow, Sleep, Watch
from ._strings import DEFAULT_ATTEMPTS, StringOps, _check_attempts, backoff

__all__ = [
    "AsyncPasswordKey",
    "AsyncSecretKey",
    "PasswordOps",
    "SecretOps",
    "SyncPasswordKey",
    "SyncSecretKey",
]

T = TypeVar("T")

# pydantic writes SecretStr and SecretBytes as "**********" in JSON; a secret key
# holding one must store what it hides.
_REVEALED: dict[Any, Any] = {
    SecretStr: Annotated[
        SecretStr,
        PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json"),
    ],
    SecretBytes: Annotated[
        SecretBytes,
        PlainSerializer(lambda s: s.get_secret_value(), return_type=bytes, when_used="json"),
    ],
}


def _without_input(error: ValidationError) -> ValidationError:
    """The same errors, without the input values pydantic shows by default."""
    details: list[InitErrorDetails] = [
        {"type": PydanticCustomError(e["type"], e["msg"]), "loc": e["loc"], "input": None}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    return ValidationError.from_exception_data(error.title, details, hide_input=True)


def _reasons(error: BaseException | None) -> str:
    if isinstance(error, ValidationError):
        messages = error.errors(include_url=False, include_context=False, include_input=False)
        return "; ".join(e["msg"] for e in messages)
    return type(error).__name__


class _SealedOps(StringOps[T]):
    """A string key whose writes seal the value and whose reads unseal it: the string
    key's ops, with ``_seal``/``_unseal`` of its own."""

    __slots__ = ()


class SecretOps(_SealedOps[T]):
    """The operations of a ``SecretKey[T]``: JSON encrypted with the repository's keyring."""

    __slots__ = ()

    @property
    def _codec(self) -> Codec[T]:
        spec = self._node.spec
        revealed = _REVEALED.get(spec.member)
        return spec.codec if revealed is None else codec_for(revealed, strict=spec.codec.strict)

    def _seal(self, value: Any, name: str) -> bytes:
        try:
            data = self._codec.dump(value)  # validates before anything is encrypted or sent
        except ValidationError as exc:
            error = _without_input(exc)
        else:
            return self._rt.keyring.encrypt(data, name)
        raise error  # outside the except block: no context holding the input

    def _unseal(self, reply: Any, name: str) -> T:
        codec = self._codec
        plaintext = self._rt.keyring.decrypt(plan.as_bytes(reply), name)
        try:
            return codec.load(plaintext, key=name)
        except CorruptValueError as exc:
            reasons = _reasons(exc.__cause__)
        raise CorruptValueError(
            f"the decrypted value of key {name!r} is not a valid {self._node.spec.kind_name}"
            f" ({reasons}); was the key's declared type changed?"
        )

    def _flow_rotate(self, attempts: int) -> Flow[bool]:
        """Re-encrypt with the current key what an old key wrote; keep the TTL."""
        name = self.key
        _check_attempts(attempts)
        keyring = self._rt.keyring
        for attempt in range(attempts):
            yield Watch((name,))
            token = yield self._op_raw()
            if token is RETRY:  # the watching connection dropped: start over
                yield Sleep(backoff(attempt))
                continue
            if token is None or keyring.key_id(token, name) == keyring.current_id:
                return False
            write = self._op_set(self._unseal(token, name), keepttl=True)
            if (yield Exec((write.command,))) is not None:
                return True
            yield Sleep(backoff(attempt))
        raise ConflictError(
            f"rotate of {name!r} lost to concurrent writers {attempts} times; retry later"
            " or raise attempts="
        )


class PasswordOps(_SealedOps[PasswordHash]):
    """The operations of a ``PasswordKey``: argon2id hashes in, :class:`PasswordHash` out."""

    __slots__ = ()

    def _seal(self, value: Any, name: str) -> bytes:
        # Only a PasswordHash (read from a PasswordKey) is stored as it is: a str that
        # merely looks like a hash is a password like any other.
        hashed = value if isinstance(value, PasswordHash) else hash_password(value, f"key {name!r}")
        return hashed.encoded.encode("ascii")

    def _unseal(self, reply: Any, name: str) -> PasswordHash:
        try:
            return PasswordHash(plan.as_text(reply))
        except ValueError:
            pass
        raise CorruptValueError(f"stored value of key {name!r} is not an argon2 password hash")

    def _op_verify(self, candidate: PasswordInput) -> Call[bool]:
        read = self._op_hash()
        return Call(
            read.command, lambda reply: _verify(read.parse(reply), candidate), read.key, read.kind
        )

    def _op_hash(self) -> Call[PasswordHash | None]:
        """GET the hash to verify against: the declared default's when missing, else ``None``."""
        read = self._op_read()
        default = self._node.spec.default

        def parse(reply: Any) -> PasswordHash | None:
            return None if reply is None and default is MISSING else read.parse(reply)

        return Call(read.command, parse, read.key, read.kind)


def _verify(stored: PasswordHash | None, candidate: PasswordInput) -> bool:
    """Whether ``candidate`` matches; as slow for a missing password as for a wrong one."""
    if stored is None:
        dummy_verify(candidate)
        return False
    return stored.verify(candidate)


class AsyncSecretKey(AsyncKey[T], SecretOps[T]):
    """A ``SecretKey`` of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()

    async def get(self) -> T:
        """The decrypted value, validated; a fresh copy of the declared default when missing.

        Raises ``KeyNotFoundError`` when the key is missing and declares no default,
        ``DecryptionError`` when no configured encryption key decrypts it.
        """
        return await self._rt.executor.call(self._op_get())

    async def set(
        self,
        value: T,
        ttl: TTLArg = INHERIT,
        *,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Validate ``value``, encrypt it with the current key, write it and its TTL.

        Returns whether it was written (``nx``/``xx`` may prevent it). Raises a
        ``ValidationError`` without the input before anything is sent, and
        ``SettingsError`` when no encryption key is configured.
        """
        return await self._rt.executor.call(self._op_set(value, ttl, nx, xx, keepttl))

    async def raw(self) -> bytes | None:
        """The stored token (``ks1:<key id>:<data>``), undecrypted; ``None`` when missing."""
        return await self._rt.executor.call(self._op_raw())

    async def update(self, fn: Callable[[T], T], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
        """Atomically replace the value with ``fn(current)``; return the new value.

        Optimistic, as for string keys: WATCH, read and decrypt, compute,
        encrypt and write in MULTI/EXEC, retried on conflict at most
        ``attempts`` times (then ``ConflictError``).
        """
        return await self._rt.executor.run(self._flow_update(fn, attempts))

    async def rotate(self, *, attempts: int = DEFAULT_ATTEMPTS) -> bool:
        """Re-encrypt the value with the current key if an old key wrote it; keep its TTL.

        Returns whether it re-encrypted (``False`` for a missing key or one
        already under the current key). Atomic, like :meth:`update`.
        """
        return await self._rt.executor.run(self._flow_rotate(attempts))


class SyncSecretKey(SyncKey[T], SecretOps[T]):
    """A ``SecretKey`` of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> T:
        """The decrypted value, validated; a fresh copy of the declared default when missing.

        Raises ``KeyNotFoundError`` when the key is missing and declares no default,
        ``DecryptionError`` when no configured encryption key decrypts it.
        """
        return self._rt.executor.call(self._op_get())

    def set(
        self,
        value: T,
        ttl: TTLArg = INHERIT,
        *,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Validate ``value``, encrypt it with the current key, write it and its TTL.

        Returns whether it was written (``nx``/``xx`` may prevent it). Raises a
        ``ValidationError`` without the input before anything is sent, and
        ``SettingsError`` when no encryption key is configured.
        """
        return self._rt.executor.call(self._op_set(value, ttl, nx, xx, keepttl))

    def raw(self) -> bytes | None:
        """The stored token (``ks1:<key id>:<data>``), undecrypted; ``None`` when missing."""
        return self._rt.executor.call(self._op_raw())

    def update(self, fn: Callable[[T], T], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
        """Atomically replace the value with ``fn(current)``; return the new value.

        Optimistic, as for string keys: WATCH, read and decrypt, compute,
        encrypt and write in MULTI/EXEC, retried on conflict at most
        ``attempts`` times (then ``ConflictError``).
        """
        return self._rt.executor.run(self._flow_update(fn, attempts))

    def rotate(self, *, attempts: int = DEFAULT_ATTEMPTS) -> bool:
        """Re-encrypt the value with the current key if an old key wrote it; keep its TTL.

        Returns whether it re-encrypted (``False`` for a missing key or one
        already under the current key). Atomic, like :meth:`update`.
        """
        return self._rt.executor.run(self._flow_rotate(attempts))


class AsyncPasswordKey(AsyncKey[PasswordHash], PasswordOps):
    """A ``PasswordKey`` of a :class:`Repository`; hashing runs in a worker thread."""

    __slots__ = ()

    async def get(self) -> PasswordHash:
        """The stored hash (the declared default's when missing), never the password.

        Raises ``KeyNotFoundError`` when the key is missing and declares no default.
        """
        return await self._rt.executor.call(self._op_get())

    async def set(
        self,
        password: PasswordInput | PasswordHash,
        ttl: TTLArg = INHERIT,
        *,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Hash ``password`` with a fresh salt (always, even if it looks like a hash), then
        write the hash and its TTL; a :class:`PasswordHash` is written as it is.

        Returns whether it was written (``nx``/``xx`` may prevent it).
        """
        op = await asyncio.to_thread(self._op_set, password, ttl, nx, xx, keepttl)
        return await self._rt.executor.call(op)

    async def verify(self, candidate: PasswordInput) -> bool:
        """Whether ``candidate`` is the stored password (or the declared default).

        ``False`` for a missing key without a default, after the same work as a
        wrong password, so timing does not tell the two apart.
        """
        stored = await self._rt.executor.call(self._op_hash())
        return await asyncio.to_thread(_verify, stored, candidate)

    async def raw(self) -> bytes | None:
        """The stored hash as bytes; ``None`` when missing."""
        return await self._rt.executor.call(self._op_raw())


class SyncPasswordKey(SyncKey[PasswordHash], PasswordOps):
    """A ``PasswordKey`` of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> PasswordHash:
        """The stored hash (the declared default's when missing), never the password.

        Raises ``KeyNotFoundError`` when the key is missing and declares no default.
        """
        return self._rt.executor.call(self._op_get())

    def set(
        self,
        password: PasswordInput | PasswordHash,
        ttl: TTLArg = INHERIT,
        *,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Hash ``password`` with a fresh salt (always, even if it looks like a hash), then
        write the hash and its TTL; a :class:`PasswordHash` is written as it is.

        Returns whether it was written (``nx``/``xx`` may prevent it).
        """
        return self._rt.executor.call(self._op_set(password, ttl, nx, xx, keepttl))

    def verify(self, candidate: PasswordInput) -> bool:
        """Whether ``candidate`` is the stored password (or the declared default).

        ``False`` for a missing key without a default, after the same work as a
        wrong password, so timing does not tell the two apart.
        """
        return self._rt.executor.call(self._op_verify(candidate))

    def raw(self) -> bytes | None:
        """The stored hash as bytes; ``None`` when missing."""
        return self._rt.executor.call(self._op_raw())
