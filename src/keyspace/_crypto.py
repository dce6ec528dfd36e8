"""The cryptography behind ``SecretKey`` and ``PasswordKey``, without I/O.

Encryption (``SecretKey``)
    A value is validated, encoded as the JSON a ``Key[T]`` would store, then
    encrypted with AES-256-GCM and stored as the ASCII token
    ``ks1:<key id>:<base64url(nonce + ciphertext + tag)>``. The key id is the
    first 8 hex digits of a SHA-256 of the key (it identifies a key without
    revealing it), so a reader picks the right key among the current one and
    the old ones at once. The authenticated data is the token's header plus
    the full Redis key name: a token copied to another key, or altered, fails
    to decrypt instead of reading as that key's value.

Password hashing (``PasswordKey``)
    argon2id through ``argon2-cffi`` with its default parameters (RFC 9106's
    low-memory profile), stored as the standard encoded hash
    (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``).

Both packages are optional and imported on first use, with an install hint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import GetCoreSchemaHandler, SecretBytes, SecretStr
from pydantic_core import core_schema

from ._errors import DecryptionError, SettingsError, UnsupportedValueError

if TYPE_CHECKING:
    from argon2 import PasswordHasher
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "Keyring",
    "PasswordHash",
    "PasswordInput",
    "decode_key",
    "dummy_verify",
    "generate_encryption_key",
    "hash_password",
]

_VERSION = b"ks1"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_INSTALL = "pip install 'keyspace[secrets]'"
_KEY_HINT = (
    "an encryption key is 32 random bytes in URL-safe base64 (44 characters);"
    " make one with keyspace.generate_encryption_key()"
)

PasswordInput = str | bytes | SecretStr | SecretBytes
"""What a password may be given as; ``SecretStr`` and ``SecretBytes`` are unwrapped."""


def generate_encryption_key() -> str:
    """A new random key for ``REDIS_ENCRYPTION_KEY``: 32 bytes in URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode("ascii")


def decode_key(text: str) -> bytes:
    """The 32 bytes of an encryption key; ``ValueError`` (never echoing it) otherwise."""
    try:
        key = base64.b64decode(text.strip(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != _KEY_BYTES:
        raise ValueError(_KEY_HINT)
    return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"keyspace key id\0" + key).hexdigest()[:8]


def _aesgcm(key: bytes) -> AESGCM:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:  # pragma: no cover - the secrets extra is installed in tests
        raise ImportError(f"SecretKey needs the 'cryptography' package: {_INSTALL}") from exc
    return AESGCM(key)


class Keyring:
    """The encryption keys of one repository: the current key encrypts, every key decrypts.

    Built from ``REDIS_ENCRYPTION_KEY`` and ``REDIS_ENCRYPTION_OLD_KEYS``; its
    repr shows key ids only.
    """

    __slots__ = ("_ciphers", "_current", "_keys")

    def __init__(self, current: SecretStr | None = None, old: Sequence[SecretStr] = ()) -> None:
        self._current: tuple[str, bytes] | None = None
        self._keys: dict[str, list[bytes]] = {}  # by id; two keys may share an id
        self._ciphers: dict[bytes, AESGCM] = {}  # made on first use
        for secret in (current, *old):
            if secret is None:
                continue
            key = decode_key(secret.get_secret_value())
            kid = _key_id(key)
            if self._current is None and secret is current:
                self._current = (kid, key)
            if key not in self._keys.setdefault(kid, []):
                self._keys[kid].append(key)

    @property
    def current_id(self) -> str | None:
        """The id of the key new values are encrypted with; ``None`` without one."""
        return None if self._current is None else self._current[0]

    def __repr__(self) -> str:
        old = sorted(set(self._keys) - {self.current_id})
        return f"<Keyring current={self.current_id} old={old}>"

    def _cipher(self, key: bytes) -> AESGCM:
        cipher = self._ciphers.get(key)
        if cipher is None:
            cipher = self._ciphers[key] = _aesgcm(key)
        return cipher

    def encrypt(self, plaintext: bytes, name: str) -> bytes:
        """The token storing ``plaintext`` as the value of the Redis key ``name``."""
        if self._current is None:
            raise SettingsError(
                f"cannot encrypt the value of key {name!r}: no encryption key is configured;"
                f" set REDIS_ENCRYPTION_KEY (or RedisSettings(encryption_key=...)): {_KEY_HINT}"
            )
        kid, key = self._current
        header = b"%s:%s:" % (_VERSION, kid.encode("ascii"))
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._cipher(key).encrypt(nonce, plaintext, header + name.encode("utf-8"))
        return header + base64.urlsafe_b64encode(nonce + sealed)

    def key_id(self, token: bytes | str, name: str) -> str:
        """The id of the key that encrypted ``token``; ``DecryptionError`` if it is no token."""
        return self._parse(token, name)[0]

    def decrypt(self, token: bytes | str, name: str) -> bytes:
        """The plaintext of the token stored at the Redis key ``name``.

        Raises :class:`DecryptionError` naming the key and the key ids, never the value.
        """
        kid, header, data = self._parse(token, name)
        where = f"cannot decrypt the value of key {name!r} (encrypted with key id {kid})"
        keys = self._keys.get(kid)
        if not self._keys:
            raise DecryptionError(
                f"{where}: no encryption key is configured; set REDIS_ENCRYPTION_KEY to the key"
                " that wrote it, or list it in REDIS_ENCRYPTION_OLD_KEYS"
            )
        if keys is None:
            known = ", ".join(sorted(self._keys))
            raise DecryptionError(
                f"{where}: that key is neither REDIS_ENCRYPTION_KEY nor one of"
                f" REDIS_ENCRYPTION_OLD_KEYS (configured key ids: {known}); add it to"
                " REDIS_ENCRYPTION_OLD_KEYS"
            )
        nonce, sealed = data[:_NONCE_BYTES], data[_NONCE_BYTES:]
        associated = header + name.encode("utf-8")
        for key in keys:
            plaintext = self._open(key, nonce, sealed, associated)
            if plaintext is not None:
                return plaintext
        raise DecryptionError(
            f"{where}: authentication failed; the value was altered, copied from another key"
            " (a value is bound to its key's full name), or written with another key"
        )

    def _open(self, key: bytes, nonce: bytes, sealed: bytes, associated: bytes) -> bytes | None:
        from cryptography.exceptions import InvalidTag

        try:
            return self._cipher(key).decrypt(nonce, sealed, associated)
        except InvalidTag:
            return None

    @staticmethod
    def _parse(token: bytes | str, name: str) -> tuple[str, bytes, bytes]:
        raw = token.encode("utf-8") if isinstance(token, str) else bytes(token)
        version, _, rest = raw.partition(b":")
        kid, _, body = rest.partition(b":")
        data = b""
        if version == _VERSION and len(kid) == 8:
            try:
                data = base64.b64decode(body, altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):
                data = b""
        if len(data) <= _NONCE_BYTES:
            raise DecryptionError(
                f"cannot decrypt the value of key {name!r}: it is not an encrypted keyspace"
                " value ('ks1:<key id>:<data>'); was it written by another program, or"
                " before the key was declared a SecretKey?"
            )
        return kid.decode("ascii", "replace"), raw[: len(version) + len(kid) + 2], data


# -- passwords ----------------------------------------------------------------------

_hasher_instance: PasswordHasher | None = None
_dummy_hash: str | None = None


def _hasher() -> PasswordHasher:
    global _hasher_instance
    if _hasher_instance is None:
        try:
            from argon2 import PasswordHasher
        except ImportError as exc:  # pragma: no cover - the secrets extra is installed in tests
            raise ImportError(f"PasswordKey needs the 'argon2-cffi' package: {_INSTALL}") from exc
        _hasher_instance = PasswordHasher()
    return _hasher_instance


def _password_bytes(password: object, where: str) -> bytes:
    if isinstance(password, (SecretStr, SecretBytes)):
        password = password.get_secret_value()
    if isinstance(password, str):
        return password.encode("utf-8")
    if isinstance(password, bytes):
        return password
    raise UnsupportedValueError(
        f"{where}: a password is a str, bytes, SecretStr or SecretBytes (or a PasswordHash"
        f" read from a PasswordKey); got a {type(password).__name__}"
    )


def hash_password(password: object, where: str = "PasswordKey") -> PasswordHash:
    """Hash a password with a fresh salt; always, even when it looks like a hash already."""
    return PasswordHash(_hasher().hash(_password_bytes(password, where)))


def dummy_verify(candidate: PasswordInput) -> None:
    """Spend the time of a verification, so a missing password answers no faster."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher().hash(os.urandom(16))
    PasswordHash(_dummy_hash).verify(candidate)


class PasswordHash:
    """A password hash as stored by a ``PasswordKey``: it checks passwords, it never holds one.

    ``str()`` and ``repr()`` show the algorithm and its parameters only; the
    encoded hash (``encoded``) is for migrations and audits. Built from a
    ``str`` that is not an argon2 hash, it raises ``ValueError``.
    """

    __slots__ = ("_encoded",)

    def __init__(self, encoded: str) -> None:
        _hasher()  # the install hint, before argon2's own import error
        from argon2 import extract_parameters

        try:
            extract_parameters(encoded)
        except (TypeError, ValueError):  # argon2's InvalidHashError is a ValueError
            raise ValueError("not an argon2 password hash") from None
        self._encoded = encoded

    @property
    def encoded(self) -> str:
        """The encoded hash (``$argon2id$v=19$m=...$salt$hash``); handle it as sensitive."""
        return self._encoded

    def verify(self, candidate: PasswordInput) -> bool:
        """Whether ``candidate`` is the password this hash was made from."""
        from argon2.exceptions import InvalidHashError, VerificationError

        password = _password_bytes(candidate, "verify()")
        try:
            return _hasher().verify(self._encoded, password)
        except (VerificationError, InvalidHashError):
            return False

    @property
    def needs_rehash(self) -> bool:
        """Whether the hash uses other parameters than the current defaults."""
        return _hasher().check_needs_rehash(self._encoded)

    def __repr__(self) -> str:
        from argon2 import extract_parameters

        p = extract_parameters(self._encoded)
        name = f"argon2{p.type.name.lower()}"
        return f"<PasswordHash {name} m={p.memory_cost} t={p.time_cost} p={p.parallelism}>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PasswordHash):
            return NotImplemented
        return hmac.compare_digest(self._encoded, other._encoded)

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __deepcopy__(self, memo: dict[int, Any]) -> PasswordHash:
        return self  # immutable

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # JSON holds a stored hash; Python values are passwords to hash (or hashes as they are).
        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(cls, core_schema.str_schema()),
            python_schema=core_schema.no_info_plain_validator_function(_from_python),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.encoded, return_schema=core_schema.str_schema()
            ),
        )


def _from_python(value: object) -> PasswordHash:
    if isinstance(value, PasswordHash):
        return value
    if value is None:
        # A ValueError, not the TypeError below, so that "may this key hold None?" is a no.
        raise ValueError("a PasswordKey holds a password hash, not None")
    return hash_password(value)
