"""SortedSetKey keys. (Being written: see the module's tests.)"""

from __future__ import annotations

from typing import TypeVar

from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle

__all__ = ["AsyncSortedSetKey", "SortedSetOps", "SyncSortedSetKey"]

T = TypeVar("T")


class SortedSetOps(KeyHandle[T]):
    """The operations of a SortedSetKey, as ops and flows (no I/O)."""

    __slots__ = ()


class AsyncSortedSetKey(AsyncKey[T], SortedSetOps[T]):
    """A SortedSetKey of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()


class SyncSortedSetKey(SyncKey[T], SortedSetOps[T]):
    """A SortedSetKey of a :class:`SyncRepository`."""

    __slots__ = ()
