"""Coalesced reads: the reads of many tasks in one event-loop turn share one round trip.

``Repository(Root, client, coalesce_reads=True)`` (or ``REDIS_COALESCE_READS=true``) runs
its operations through :class:`CoalescingExecutor`. A read of one command (``get()``,
``exists()``, ``ttl()``, a hash field, a list range, ...) does not go out at once: the first
read of a turn yields to the event loop once, every other task that reads in the meantime
joins it, and the whole batch goes out as one pipeline (``transaction=False``). Each caller
gets its own result or its own error, exactly as an uncoalesced call would have given it.
Everything else (writes, reads that send several commands or renew a sliding TTL, flows,
pipelines) takes the ordinary path at once, in the order it is called.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from ._errors import PipelineError
from ._execute import AsyncExecutor
from ._plan import Call, Op

__all__ = ["COALESCED_READS", "CoalescingExecutor"]

R = TypeVar("R")

COALESCED_READS = frozenset(
    [
        "GET",
        "MGET",
        "EXISTS",
        "TYPE",
        "PTTL",
        "HGET",
        "HMGET",
        "HGETALL",
        "HKEYS",
        "HEXISTS",
        "LRANGE",
        "LINDEX",
        "LLEN",
        "SMEMBERS",
        "SISMEMBER",
        "SCARD",
        "SRANDMEMBER",
        "ZRANGE",
        "ZSCORE",
        "ZRANK",
        "ZREVRANK",
        "ZCARD",
    ]
)
"""The commands whose one-command ops are coalesced: they read and change nothing.

``GETEX`` is not one of them (sliding keys renew their TTL with it), nor is any command that
pops, blocks or writes."""

Waiting = list[tuple[Call[Any], "asyncio.Future[Any]"]]


class CoalescingExecutor(AsyncExecutor):
    """An :class:`AsyncExecutor` that sends the one-command reads of one event-loop turn
    in one pipeline.

    Why a batch is safe: its commands only read, so sending them together, in any order
    relative to each other, cannot change what any of them sees; a write awaited before a
    read has been answered before that read is queued. A read that arrives while a batch is
    on its way starts the next one.

    Failures stay apart: each caller's error reply, parse error or ``WrongTypeError`` goes
    to that caller only; an error of the round trip itself (a lost connection) goes to every
    caller in the batch. A caller cancelled while waiting only stops waiting: the others
    get their results, and a batch whose callers are all gone is not sent.
    """

    __slots__ = ("_batch", "_sending")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batch: Waiting | None = None  # the reads joining this turn's batch
        self._sending: set[asyncio.Task[None]] = set()  # the event loop keeps weak references

    async def call(self, op: Op[R]) -> R:
        """Run a one-round-trip operation; a one-command read joins this turn's batch."""
        if not isinstance(op, Call) or op.command[0] not in COALESCED_READS:
            return await super().call(op)
        self.limits.check_one(op.command)  # an oversized key fails its own caller only
        loop = asyncio.get_running_loop()
        if self._batch is not None:
            future: asyncio.Future[R] = loop.create_future()
            self._batch.append((op, future))
            return await future
        # The first read of the turn leads: one pass of the event loop lets the other
        # tasks of this turn join, then the batch leaves.
        batch: Waiting = []
        self._batch = batch
        try:
            await asyncio.sleep(0)
        except BaseException:  # the leader was cancelled: the others' reads still go
            self._batch = None
            if batch:
                self._spawn(batch)
            raise
        self._batch = None
        if not batch:  # alone: the ordinary call, without a pipeline
            return await super().call(op)
        # The batch gets a task of its own, so that cancelling any caller (the leader
        # included) cancels its own wait only.
        future = loop.create_future()
        self._spawn([(op, future), *batch])
        return await future

    def _spawn(self, batch: Waiting) -> None:
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: Waiting) -> None:
        """One round trip for the reads whose callers still wait; settle each one's future."""
        waiting = [(op, future) for op, future in batch if not future.done()]
        if not waiting:
            return
        try:
            results = await self._results([op for op, _ in waiting])
        except Exception as exc:  # the round trip failed: every caller hears of it
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # this task was cancelled: so are the waits on it
            for _, future in waiting:
                future.cancel()
            raise
        for (_, future), result in zip(waiting, results, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _results(self, ops: list[Call[Any]]) -> list[Any]:
        """Each op's result, or the exception it would have raised alone, in order."""
        # The executor's own pipeline: size limits, logging, WRONGTYPE named with the
        # type found, error replies translated, each in its place.
        try:
            return await self.pipeline(ops, transaction=False)
        except PipelineError as failed:
            return failed.results
