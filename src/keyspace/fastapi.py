"""FastAPI integration: one :class:`~keyspace.Repository` per app, opened by its lifespan.

::

    keyspace = KeyspaceLifespan(Root)          # no I/O: settings are read at startup
    app = FastAPI(lifespan=keyspace)
    Repo = Annotated[Repository[Root], Depends(keyspace.repository)]

    @app.get("/users/{user_id}/age")
    async def age(user_id: int, repo: Repo) -> int:
        return await repo.user(user_id).age.get()

The lifespan builds the repository when the app starts and closes its client when the app
stops. The repository lives on the app's ``state``, so several apps (one per test, say) can
share one :class:`KeyspaceLifespan` without sharing a connection, and nothing connects at
import time. Tests replace the dependency as any other:
``app.dependency_overrides[keyspace.repository] = lambda: test_repository``.

This module needs FastAPI (``pip install 'keyspace[fastapi]'``); ``import keyspace`` never
imports it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

try:
    from fastapi.requests import HTTPConnection
    from starlette.applications import Starlette
except ImportError as exc:
    raise ImportError(
        "keyspace.fastapi needs FastAPI; install it with: pip install 'keyspace[fastapi]'"
    ) from exc

from ._cluster import Cluster
from ._repository import Repository
from ._settings import RedisSettings

__all__ = ["KeyspaceLifespan"]

C = TypeVar("C", bound=Cluster)

# The attribute of ``app.state`` holding the open repositories, one per KeyspaceLifespan.
_STATE_ATTRIBUTE = "keyspace_repositories"


class KeyspaceLifespan(Generic[C]):
    """Open a :class:`~keyspace.Repository` of ``root`` for the lifetime of each app it serves.

    Pass it as ``FastAPI(lifespan=...)``, or enter ``async with keyspace(app):`` inside your
    own lifespan to combine it with other resources. On startup it builds the repository from
    ``settings`` (default: :class:`~keyspace.RedisSettings` read from the environment at that
    moment) and, with ``ping=True``, checks that Redis answers, so that a wrong URL fails the
    startup instead of the first request. On shutdown it closes the repository's client.

    ``publish_events`` and ``prefix`` are passed on to the repository.
    """

    def __init__(
        self,
        root: type[C],
        *,
        settings: RedisSettings | None = None,
        publish_events: bool = False,
        prefix: str | None = None,
        ping: bool = True,
    ) -> None:
        self.root = root
        self._settings = settings
        self._publish_events = publish_events
        self._prefix = prefix
        self._ping = ping

    def __repr__(self) -> str:
        return f"KeyspaceLifespan({self.root.__name__})"

    @asynccontextmanager
    async def __call__(self, app: Starlette) -> AsyncIterator[None]:
        """The lifespan of ``app``: its repository is open inside the ``async with`` block."""
        opened = _repositories(app)
        if self in opened:
            raise RuntimeError(f"{self!r} is already running for this app")
        settings = self._settings if self._settings is not None else RedisSettings()
        repository = Repository(
            self.root, settings=settings, publish_events=self._publish_events, prefix=self._prefix
        )
        try:
            if self._ping:
                await repository.client.ping()
            opened[self] = repository
            yield
        finally:
            opened.pop(self, None)
            await repository.aclose()

    def repository_of(self, app: Starlette) -> Repository[C]:
        """The open repository of ``app``, for code outside a request (background jobs, say).

        Raises ``RuntimeError`` when the app's lifespan is not running: the app was not given
        this lifespan, it has not started (httpx's ``ASGITransport`` does not run lifespans),
        or it has stopped.
        """
        repository = _repositories(app).get(self)
        if repository is None:
            raise RuntimeError(
                f"{self!r} is not running for this app: pass it as FastAPI(lifespan=...), or"
                " enter it in your own lifespan, and start the app; tests may instead override"
                " the dependency: app.dependency_overrides[lifespan.repository] = ..."
            )
        return repository

    async def repository(self, connection: HTTPConnection) -> Repository[C]:
        """The dependency: ``Annotated[Repository[Root], Depends(keyspace.repository)]``.

        Works for HTTP and WebSocket endpoints. A coroutine, so FastAPI runs it on the event
        loop rather than in its thread pool.
        """
        return self.repository_of(connection.app)


def _repositories(app: Starlette) -> dict[KeyspaceLifespan[Any], Repository[Any]]:
    """The repositories open for ``app``, created on first use (``app.state`` is per app)."""
    state = app.state
    opened: dict[KeyspaceLifespan[Any], Repository[Any]] | None = getattr(
        state, _STATE_ATTRIBUTE, None
    )
    if opened is None:
        opened = {}
        setattr(state, _STATE_ATTRIBUTE, opened)
    return opened
