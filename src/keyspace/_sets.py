"""SetKey keys. (Being written: see the module's tests.)"""

from __future__ import annotations

from typing import TypeVar

from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle

__all__ = ["AsyncSetKey", "SetOps", "SyncSetKey"]

T = TypeVar("T")


class SetOps(KeyHandle[T]):
    """The operations of a SetKey, as ops and flows (no I/O)."""

    __slots__ = ()


class AsyncSetKey(AsyncKey[T], SetOps[T]):
    """A SetKey of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()


class SyncSetKey(SyncKey[T], SetOps[T]):
    """A SetKey of a :class:`SyncRepository`."""

    __slots__ = ()
