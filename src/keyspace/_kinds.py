"""Which handle class serves each key kind, per flavour."""

from __future__ import annotations

from typing import Any

from ._counters import AsyncCounterKey, SyncCounterKey
from ._handles import KeyHandle
from ._hashes import AsyncHashKey, SyncHashKey
from ._keys import (
    Counter,
    FloatCounter,
    HashKey,
    Key,
    ListKey,
    PasswordKey,
    SecretKey,
    SetKey,
    SortedSetKey,
)
from ._lists import AsyncListKey, SyncListKey
from ._secrets import AsyncPasswordKey, AsyncSecretKey, SyncPasswordKey, SyncSecretKey
from ._sets import AsyncSetKey, SyncSetKey
from ._sorted_sets import AsyncSortedSetKey, SyncSortedSetKey
from ._strings import AsyncBoundKey, SyncBoundKey

__all__ = ["ASYNC_KINDS", "SYNC_KINDS"]

ASYNC_KINDS: dict[type[Any], type[KeyHandle[Any]]] = {
    Key: AsyncBoundKey,
    HashKey: AsyncHashKey,
    ListKey: AsyncListKey,
    SetKey: AsyncSetKey,
    SortedSetKey: AsyncSortedSetKey,
    Counter: AsyncCounterKey,
    FloatCounter: AsyncCounterKey,
    SecretKey: AsyncSecretKey,
    PasswordKey: AsyncPasswordKey,
}
SYNC_KINDS: dict[type[Any], type[KeyHandle[Any]]] = {
    Key: SyncBoundKey,
    HashKey: SyncHashKey,
    ListKey: SyncListKey,
    SetKey: SyncSetKey,
    SortedSetKey: SyncSortedSetKey,
    Counter: SyncCounterKey,
    FloatCounter: SyncCounterKey,
    SecretKey: SyncSecretKey,
    PasswordKey: SyncPasswordKey,
}
