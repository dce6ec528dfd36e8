"""Pipelines and transactions: queue operations on any bound keys, send them once.

Inside ``async with repo.pipeline() as p`` (or ``with`` for the sync
repository), ``p`` navigates like the repository, and every call of a key or
cluster operation is queued instead of sent: it returns a :class:`Pending`
whose ``result`` is set when the pipeline runs. Only operations that take one
round trip can be queued; ``clear()`` or ``update()`` raise ``OptionsError``.
``the_type`` is queued when it is read, as it is a property.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Generic, TypeVar

from ._errors import OptionsError, PipelineError
from ._handles import ClusterHandle, expose_members
from ._plan import Op

__all__ = ["AsyncPipeline", "Pending", "SyncPipeline"]

T = TypeVar("T")

_UNSET: Any = object()


class Pending(Generic[T]):
    """The result of a queued operation, available once the pipeline has run."""

    __slots__ = ("_result",)

    def __init__(self) -> None:
        self._result: Any = _UNSET

    @property
    def result(self) -> T:
        """The typed result; raises ``LookupError`` before the pipeline runs, and the
        operation's own error if it failed."""
        if self._result is _UNSET:
            raise LookupError("the pipeline has not run yet")
        if isinstance(self._result, Exception):
            raise self._result
        result: T = self._result
        return result

    def __repr__(self) -> str:
        # The result may be a secret: say only whether it is there.
        shown = "not run" if self._result is _UNSET else f"ran: {type(self._result).__name__}"
        return f"<Pending {shown}>"


class _Queueing:
    """Stands in for a repository's executor inside a pipeline: ops are queued, not sent.

    Pipelines navigate with the ordinary (sync) handles bound to this executor,
    so queueing costs what building the op costs. Operations that need several
    round trips or a connection of their own reach ``run``/``stream``/``subscribe``
    and are refused.
    """

    __slots__ = ("_pipeline", "client", "cluster", "writer")

    def __init__(self, pipeline: _Pipeline, executor: Any) -> None:
        self._pipeline = pipeline
        self.client = executor.client
        self.cluster = executor.cluster
        self.writer = executor.writer

    def call(self, op: Op[T]) -> Pending[T]:
        return self._pipeline.queue(op)

    def _refuse(self, *_: Any) -> Any:
        raise OptionsError(
            "this operation takes several round trips (clear, update, subkeys, instances,"
            " events, rotate) and cannot be pipelined; run it outside the pipeline"
        )

    run = stream = subscribe = _refuse


class _Pipeline:
    __slots__ = ("__dict__", "_executor", "_ops", "_pending", "_root", "_transaction")

    def __init__(self, repository: ClusterHandle, transaction: bool) -> None:
        from ._repository import SyncBoundCluster  # the handles that return what call() does

        self._executor = repository._rt.executor
        self._transaction = transaction
        self._ops: list[Op[Any]] = []
        self._pending: list[Pending[Any]] = []
        runtime = repository._rt.with_executor(_Queueing(self, self._executor))
        handle_class = SyncBoundCluster._for_node(repository._node)
        self._root = handle_class(
            repository._node,
            repository._parent_prefix,
            repository._prefix,
            repository._values,
            runtime,
        )
        expose_members(self, self._root)  # p.user without __getattr__

    def __getattr__(self, name: str) -> Any:
        return getattr(self._root, name)

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return self._root(*args, **kwargs)

    def queue(self, op: Op[T]) -> Pending[T]:
        """Queue a ready-made op; usually called through navigation."""
        pending: Pending[T] = Pending()
        self._ops.append(op)
        self._pending.append(pending)
        return pending

    def __len__(self) -> int:
        return len(self._ops)

    def _take(self) -> tuple[list[Op[Any]], list[Pending[Any]]]:
        ops, pending = self._ops, self._pending
        self._ops, self._pending = [], []
        return ops, pending

    @staticmethod
    def _settle(pending: list[Pending[Any]], results: list[Any]) -> list[Any]:
        for slot, result in zip(pending, results, strict=True):
            slot._result = result
        return results


class AsyncPipeline(_Pipeline):
    """A pipeline of a :class:`Repository`; runs on ``execute()`` or when the block exits."""

    __slots__ = ()

    async def execute(self) -> list[Any]:
        """Send the queued operations in one round trip; their typed results in order.

        Raises :class:`PipelineError` (with every result) when any failed.
        """
        ops, pending = self._take()
        if not ops:
            return []
        try:
            results = await self._executor.pipeline(ops, self._transaction)
        except PipelineError as error:
            self._settle(pending, error.results)
            raise
        return self._settle(pending, results)

    async def __aenter__(self) -> AsyncPipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.execute()


class SyncPipeline(_Pipeline):
    """A pipeline of a :class:`SyncRepository`; runs on ``execute()`` or when the block exits."""

    __slots__ = ()

    def execute(self) -> list[Any]:
        """Send the queued operations in one round trip; their typed results in order.

        Raises :class:`PipelineError` (with every result) when any failed.
        """
        ops, pending = self._take()
        if not ops:
            return []
        try:
            results = self._executor.pipeline(ops, self._transaction)
        except PipelineError as error:
            self._settle(pending, error.results)
            raise
        return self._settle(pending, results)

    def __enter__(self) -> SyncPipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.execute()
