"""ListKey keys. (Being written: see the module's tests.)"""

from __future__ import annotations

from typing import TypeVar

from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle

__all__ = ["AsyncListKey", "ListOps", "SyncListKey"]

T = TypeVar("T")


class ListOps(KeyHandle[T]):
    """The operations of a ListKey, as ops and flows (no I/O)."""

    __slots__ = ()


class AsyncListKey(AsyncKey[T], ListOps[T]):
    """A ListKey of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()


class SyncListKey(SyncKey[T], ListOps[T]):
    """A ListKey of a :class:`SyncRepository`."""

    __slots__ = ()
