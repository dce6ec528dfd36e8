"""HashKey keys. (Being written: see the module's tests.)"""

from __future__ import annotations

from typing import TypeVar

from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle

__all__ = ["AsyncHashKey", "HashOps", "SyncHashKey"]

M = TypeVar("M")


class HashOps(KeyHandle[M]):
    """The operations of a HashKey, as ops and flows (no I/O)."""

    __slots__ = ()


class AsyncHashKey(AsyncKey[M], HashOps[M]):
    """A HashKey of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()


class SyncHashKey(SyncKey[M], HashOps[M]):
    """A HashKey of a :class:`SyncRepository`."""

    __slots__ = ()
