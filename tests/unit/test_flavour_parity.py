"""The async and sync façades expose the same surface with the same signatures."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import keyspace

PAIRS = [
    (keyspace.AsyncBoundKey, keyspace.SyncBoundKey),
    (keyspace.AsyncHashKey, keyspace.SyncHashKey),
    (keyspace.AsyncListKey, keyspace.SyncListKey),
    (keyspace.AsyncSetKey, keyspace.SyncSetKey),
    (keyspace.AsyncSortedSetKey, keyspace.SyncSortedSetKey),
    (keyspace.AsyncCounterKey, keyspace.SyncCounterKey),
    (keyspace.AsyncSecretKey, keyspace.SyncSecretKey),
    (keyspace.AsyncPasswordKey, keyspace.SyncPasswordKey),
    (keyspace.AsyncBoundCluster, keyspace.SyncBoundCluster),
    (keyspace.Repository, keyspace.SyncRepository),
    (keyspace.AsyncPipeline, keyspace.SyncPipeline),
    (keyspace.AsyncKeyspaceDict, keyspace.KeyspaceDict),
]
# Closing is the one intended difference, as in redis-py.
CLOSING = {"aclose", "close"}


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")} - CLOSING


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_same_public_names(async_cls: type, sync_cls: type) -> None:
    assert public(async_cls) == public(sync_cls)


def _signature(member: Any) -> list[tuple[str, Any, Any, str]]:
    if isinstance(member, property):
        return []
    signature = inspect.signature(member)
    return [(p.name, p.kind, p.default, str(p.annotation)) for p in signature.parameters.values()]


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_same_parameters_and_docs(async_cls: type, sync_cls: type) -> None:
    for name in public(async_cls):
        a = inspect.getattr_static(async_cls, name)
        s = inspect.getattr_static(sync_cls, name)
        assert _signature(a) == _signature(s), name
        assert inspect.getdoc(a) is not None, f"{async_cls.__name__}.{name} has no docstring"


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_io_methods_are_coroutines_exactly_where_expected(async_cls: type, sync_cls: type) -> None:
    for name in public(async_cls):
        s = inspect.getattr_static(sync_cls, name)
        assert not inspect.iscoroutinefunction(s), f"{sync_cls.__name__}.{name}"
