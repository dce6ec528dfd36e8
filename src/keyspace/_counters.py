"""Counter keys. (Being written: see the module's tests.)"""

from __future__ import annotations

from typing import TypeVar

from ._facade import AsyncKey, SyncKey
from ._handles import KeyHandle

__all__ = ["AsyncCounterKey", "CounterOps", "SyncCounterKey"]

N = TypeVar("N")


class CounterOps(KeyHandle[N]):
    """The operations of a Counter, as ops and flows (no I/O)."""

    __slots__ = ()


class AsyncCounterKey(AsyncKey[N], CounterOps[N]):
    """A Counter of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()


class SyncCounterKey(SyncKey[N], CounterOps[N]):
    """A Counter of a :class:`SyncRepository`."""

    __slots__ = ()
