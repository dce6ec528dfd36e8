"""Which handle class serves each key kind, per flavour."""

from __future__ import annotations

from typing import Any

from ._handles import KeyHandle
from ._keys import Key
from ._strings import AsyncBoundKey, SyncBoundKey

__all__ = ["ASYNC_KINDS", "SYNC_KINDS"]

ASYNC_KINDS: dict[type[Any], type[KeyHandle[Any]]] = {
    Key: AsyncBoundKey,
}
SYNC_KINDS: dict[type[Any], type[KeyHandle[Any]]] = {
    Key: SyncBoundKey,
}
