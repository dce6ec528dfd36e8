"""Run every integration case for both flavours on both backends.

The ``repo`` fixture is parametrized over ``async`` and ``sync``. The sync
repository is wrapped in :class:`Awaitable` so that one test body drives
both: handles stay handles, and every other result becomes awaitable (and
async-iterable when it is an iterator), while the calls themselves run the
blocking sync code.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from keyspace import AsyncBoundCluster, Repository, SyncRepository
from keyspace._handles import ClusterHandle, KeyHandle
from keyspace._kinds import ASYNC_KINDS

from .models import Root


class Done:
    """An already computed result that can be awaited or async-iterated."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        if isinstance(self.value, Iterator):
            return [_handle(item) for item in self.value]
        return self.value
        yield  # pragma: no cover - makes this a generator

    def __aiter__(self) -> AsyncIterator[Any]:
        async def items() -> AsyncIterator[Any]:
            for item in self.value:
                yield _handle(item)

        return items()


def _handle(item: Any) -> Any:
    return Awaitable(item) if isinstance(item, (ClusterHandle, KeyHandle)) else item


def _io_names() -> frozenset[str]:
    names = {"the_type", "subkeys", "instances"}
    for cls in (*ASYNC_KINDS.values(), AsyncBoundCluster, Repository):
        names.update(n for n in dir(cls) if inspect.iscoroutinefunction(getattr(cls, n)))
    return frozenset(names)


IO_NAMES = _io_names()


class Awaitable:
    """Presents a sync handle with the async surface: I/O results become awaitable."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name == "pipeline":
            return lambda **options: AwaitablePipeline(value(**options))
        if isinstance(value, (ClusterHandle, KeyHandle)):
            return Awaitable(value)
        if name not in IO_NAMES:
            return value
        if inspect.ismethod(value):
            method: Callable[..., Any] = value
            return lambda *args, **kwargs: Done(method(*_unwrap(args), **kwargs))
        return Done(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return Awaitable(self._target(*args, **kwargs))

    def __getitem__(self, item: Any) -> Any:
        return Awaitable(self._target[item])


class AwaitablePipeline:
    """A sync pipeline behind ``async with`` and an awaitable ``execute()``."""

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)

    def __len__(self) -> int:
        return len(self._pipeline)

    def execute(self) -> Done:
        return Done(self._pipeline.execute())

    async def __aenter__(self) -> Any:
        return self._pipeline.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self._pipeline.__exit__(*exc_info)


def _unwrap(args: Any) -> Any:
    if isinstance(args, Awaitable):
        return args._target
    if isinstance(args, (list, tuple)):
        return type(args)(_unwrap(arg) for arg in args)
    return args


@pytest.fixture(params=["async", "sync"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def make_repo(backend: Any, flavour: str) -> AsyncIterator[Callable[..., Any]]:
    """``make_repo(root=Root, decode_responses=False, prefix=None, **settings)`` for this test."""
    from keyspace import RedisSettings

    def make(
        root: type = Root,
        decode_responses: bool = False,
        prefix: str | None = None,
        **settings: Any,
    ) -> Any:
        options = RedisSettings(**settings)
        if flavour == "async":
            client = backend.async_client(decode_responses)
            return Repository(root, client, settings=options, prefix=prefix)
        sync_client = backend.sync_client(decode_responses)
        return Awaitable(SyncRepository(root, sync_client, settings=options, prefix=prefix))

    yield make


@pytest.fixture
def repo(make_repo: Callable[..., Any]) -> Any:
    return make_repo()


@pytest.fixture
def raw(backend: Any) -> Any:
    """A plain async client on the same data, to look at what was stored."""
    return backend.async_client()
