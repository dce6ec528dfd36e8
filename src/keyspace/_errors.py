"""The exceptions keyspace raises.

Every error derives from :class:`KeyspaceError` and from the builtin that
matches its meaning, so callers can catch either::

    KeyspaceError
    ├── DeclarationError        (TypeError)    a cluster class is declared wrongly
    ├── BindingError            (TypeError)    wrong parameters in a call or ``[x]``
    ├── InvalidParameterError   (ValueError)   a parameter value cannot be part of a key
    ├── TTLError                (ValueError)   a TTL that is zero, negative or of a bad type
    ├── UnsupportedValueError   (TypeError)    a value the codec cannot store faithfully
    ├── CorruptValueError       (ValueError)   a stored value does not decode to its declared type
    │   └── DecryptionError                    a secret cannot be decrypted with the keys configured
    ├── KeyNotFoundError        (LookupError)  a missing key was read without a default
    ├── OptionsError            (ValueError)   contradictory options in one call
    ├── SettingsError           (ValueError)   a REDIS_* setting is invalid
    ├── WrongTypeError          (TypeError)    a key holds another Redis type than declared
    ├── PipelineError           (RuntimeError) commands of a pipeline failed; has .results
    ├── CrossSlotError          (ValueError)   a transaction would span Redis Cluster slots
    ├── ValueTooLargeError      (ValueError)   a key name or value is over the configured size limit
    └── ConflictError           (RuntimeError) update() kept losing to concurrent writers

Invalid *values* given to ``set()`` raise pydantic's ``ValidationError`` (a
``ValueError``), unchanged. Errors from the Redis client (connection
failures, timeouts, server errors) pass through unwrapped.
"""

from __future__ import annotations

__all__ = [
    "BindingError",
    "CorruptValueError",
    "CrossSlotError",
    "DeclarationError",
    "DecryptionError",
    "InvalidParameterError",
    "KeyNotFoundError",
    "KeyspaceError",
    "ConflictError",
    "OptionsError",
    "PipelineError",
    "SettingsError",
    "WrongTypeError",
    "TTLError",
    "UnsupportedValueError",
    "ValueTooLargeError",
]


class KeyspaceError(Exception):
    """Base class of every error raised by keyspace itself."""


class DeclarationError(KeyspaceError, TypeError):
    """A cluster class is declared wrongly; raised when the class is created."""


class BindingError(KeyspaceError, TypeError):
    """Parameters were bound wrongly: missing, surplus, unknown, or a bad ``[x]``."""


class InvalidParameterError(KeyspaceError, ValueError):
    """A parameter value cannot be rendered into a key name safely."""


class TTLError(KeyspaceError, ValueError):
    """A TTL is zero, negative, or not an ``int``, ``float`` or ``timedelta``."""


class UnsupportedValueError(KeyspaceError, TypeError):
    """A value cannot be stored without losing its type (for example an
    arbitrary object in a ``Key[Any]``)."""


class CorruptValueError(KeyspaceError, ValueError):
    """A value stored in Redis does not decode to the key's declared type."""


class DecryptionError(CorruptValueError):
    """The stored value of a ``SecretKey`` cannot be decrypted: no key configured reads it,
    it was encrypted with a key that is not configured, or it fails authentication
    (tampered with, or copied from another key). The message names the Redis key and
    the encryption key ids involved, never the value."""


class KeyNotFoundError(KeyspaceError, LookupError):
    """A missing key was read and the key declares no default."""


class OptionsError(KeyspaceError, ValueError):
    """Options of one call contradict each other (for example ``nx`` and ``xx``)."""


class SettingsError(KeyspaceError, ValueError):
    """A ``REDIS_*`` setting is invalid; the message names the variable."""


class WrongTypeError(KeyspaceError, TypeError):
    """A key holds another Redis type than its declaration (a string where a hash
    is declared, for example); the message names the key, the kind and the type found."""


class PipelineError(KeyspaceError, RuntimeError):
    """One or more commands of a pipeline or transaction failed.

    ``results`` holds every operation's result in order, with the exception
    in place of each one that failed.
    """

    def __init__(self, message: str, results: list[object]) -> None:
        super().__init__(message)
        self.results = results


class ConflictError(KeyspaceError, RuntimeError):
    """An optimistic ``update()`` lost to concurrent writers more times than allowed."""


class CrossSlotError(KeyspaceError, ValueError):
    """A transaction, ``save()`` or WATCH would span several Redis Cluster hash slots.

    Raised before anything is sent; declare the cluster with ``hash_tag=True``
    to keep each bound instance in one slot.
    """


class ValueTooLargeError(KeyspaceError, ValueError):
    """A key name or a value is larger than ``REDIS_MAX_KEY_BYTES`` / ``REDIS_MAX_VALUE_BYTES``.

    Raised before anything is sent: a pipeline or transaction holding one
    oversized command sends none of its commands.
    """
