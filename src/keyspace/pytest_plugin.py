"""A pytest plugin for applications built on keyspace: an isolated repository per test.

Installed with keyspace (entry point ``pytest11``: ``keyspace``), so its fixtures are available
in every test session; ``-p no:keyspace`` turns it off.

Fixtures (all function-scoped):

``keyspace_settings``
    :class:`~keyspace.RedisSettings` for this test. The URL comes from ``--keyspace-url`` or the
    ``keyspace_url`` ini option; the default ``memory://`` gives every test its own in-memory
    server (``memory://keyspace-test-<random>``).
``keyspace_prefix``
    A unique text (``test-<random>``) that every repository of this test puts before its root
    prefix, so tests never see each other's keys, even on one shared Redis server.
``keyspace_repository_factory``
    ``factory(Root)`` returns a :class:`~keyspace.Repository` of ``Root`` under
    ``keyspace_prefix``. At teardown every key under that prefix is deleted and the client is
    closed. An async fixture: run by pytest-asyncio (also in strict mode) or by anyio.
``keyspace_sync_repository_factory``
    The same for :class:`~keyspace.SyncRepository`; a plain fixture, usable in sync tests.

Repositories of one test share one server and one prefix, so an async and a sync repository
of the same root see the same keys. Against a real server (``--keyspace-url
redis://localhost:6379/15``) the plugin deletes only keys under the test's prefix: it never
flushes a database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import Any, Protocol, TypeVar

import pytest

from ._cluster import Cluster, root_node
from ._errors import OptionsError, SettingsError
from ._repository import Repository, SyncRepository
from ._settings import RedisSettings, _memory_lock, _memory_servers

__all__ = [
    "RepositoryFactory",
    "SyncRepositoryFactory",
    "keyspace_prefix",
    "keyspace_repository_factory",
    "keyspace_settings",
    "keyspace_sync_repository_factory",
]

C = TypeVar("C", bound=Cluster)
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "memory://"
_OPTION = "--keyspace-url"


class RepositoryFactory(Protocol):
    """The type of ``keyspace_repository_factory``: ``factory(Root) -> Repository[Root]``."""

    def __call__(self, root: type[C], *, publish_events: bool = False) -> Repository[C]: ...


class SyncRepositoryFactory(Protocol):
    """The type of ``keyspace_sync_repository_factory``: ``factory(Root) -> SyncRepository``."""

    def __call__(self, root: type[C], *, publish_events: bool = False) -> SyncRepository[C]: ...


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--keyspace-url`` and the ``keyspace_url`` ini option."""
    help_text = (
        "Redis URL of the keyspace test fixtures (default memory://: an in-memory server per"
        " test); keys live under a unique prefix per test and are deleted afterwards"
    )
    parser.getgroup("keyspace").addoption(_OPTION, dest="keyspace_url", help=help_text)
    parser.addini("keyspace_url", help_text, default=DEFAULT_URL)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse an invalid URL before any test runs."""
    url = _configured_url(config)
    try:
        RedisSettings(url=url)
    except SettingsError as exc:
        raise pytest.UsageError(f"{_OPTION} / keyspace_url: {exc}") from None


def _async_fixture(function: F) -> F:
    """A pytest-asyncio fixture when it is installed (its strict mode runs only those),
    else a plain one, which anyio's plugin runs for anyio tests."""
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture(function)  # type: ignore[return-value]
    return pytest_asyncio.fixture(function)  # type: ignore[return-value]


def _configured_url(config: pytest.Config) -> str:
    option: str | None = config.getoption("keyspace_url")
    return option if option is not None else str(config.getini("keyspace_url"))


@pytest.fixture
def keyspace_settings(pytestconfig: pytest.Config) -> Iterator[RedisSettings]:
    """Settings for this test's repositories; a bare ``memory://`` gets a per-test server."""
    url = _configured_url(pytestconfig)
    if url != DEFAULT_URL:
        yield RedisSettings(url=url)
        return
    name = f"keyspace-test-{uuid.uuid4().hex}"
    yield RedisSettings(url=f"memory://{name}")
    # Forget the per-test server, or a long session would keep thousands of them.
    with _memory_lock:
        _memory_servers.pop(name, None)


@pytest.fixture
def keyspace_prefix() -> str:
    """The unique text this test's repositories put before their root prefix."""
    return f"test-{uuid.uuid4().hex[:16]}"


def _test_prefix(root: type[Cluster], unique: str) -> str:
    """``unique`` joined with ``root``'s own prefix, which must have no placeholders."""
    node = root_node(root)
    if node.own_params:
        raise OptionsError(
            f"keyspace pytest fixtures: root {node.where} has parameters, so it cannot be moved"
            " under a per-test prefix; declare a root without placeholders that holds it"
        )
    template = node.spec.prefix
    return f"{unique}:{template.text}" if template is not None else unique


@_async_fixture
async def keyspace_repository_factory(
    keyspace_settings: RedisSettings, keyspace_prefix: str
) -> AsyncIterator[RepositoryFactory]:
    """``factory(Root)``: a :class:`~keyspace.Repository` under this test's prefix."""
    async with AsyncExitStack() as cleanup:  # runs every cleanup, even after a failing one

        def factory(root: type[C], *, publish_events: bool = False) -> Repository[C]:
            repository = Repository(
                root,
                settings=keyspace_settings,
                publish_events=publish_events,
                prefix=_test_prefix(root, keyspace_prefix),
            )
            cleanup.push_async_callback(_purge, repository, keyspace_settings.delete_chunk_size)
            return repository

        yield factory


async def _purge(repository: Repository[Any], chunk: int) -> None:
    """Delete every key under the repository's prefix, ``chunk`` at a time, then close it."""
    try:
        keys = await repository.subkeys()
        for start in range(0, len(keys), chunk):
            await repository.client.unlink(*keys[start : start + chunk])
    finally:
        await repository.aclose()


@pytest.fixture
def keyspace_sync_repository_factory(
    keyspace_settings: RedisSettings, keyspace_prefix: str
) -> Iterator[SyncRepositoryFactory]:
    """``factory(Root)``: a :class:`~keyspace.SyncRepository` under this test's prefix."""
    with ExitStack() as cleanup:

        def factory(root: type[C], *, publish_events: bool = False) -> SyncRepository[C]:
            repository = SyncRepository(
                root,
                settings=keyspace_settings,
                publish_events=publish_events,
                prefix=_test_prefix(root, keyspace_prefix),
            )
            cleanup.callback(_purge_sync, repository, keyspace_settings.delete_chunk_size)
            return repository

        yield factory


def _purge_sync(repository: SyncRepository[Any], chunk: int) -> None:
    """Delete every key under the repository's prefix, ``chunk`` at a time, then close it."""
    try:
        keys = list(repository.subkeys())
        for start in range(0, len(keys), chunk):
            repository.client.unlink(*keys[start : start + chunk])
    finally:
        repository.close()
