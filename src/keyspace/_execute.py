"""Runs the plans of ``_plan`` against a Redis client: the only place with I/O.

There is one executor per flavour, and their methods mirror each other line
for line, apart from ``await``; what they share that is not I/O (splitting
pipeline replies, turning ``WRONGTYPE`` into :class:`WrongTypeError`) is
written once, below.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, TypeVar

import redis
import redis.asyncio
from redis.exceptions import ResponseError, WatchError

from ._errors import PipelineError
from ._events import publishing, with_publishes
from ._plan import (
    Batch,
    Call,
    Command,
    Emit,
    Exec,
    Flow,
    Op,
    Scan,
    Sleep,
    Watch,
    as_text,
    combine,
    parse_reply,
    translate,
    wrong_type,
)
from ._slots import CLUSTER_CLIENTS, check_one_slot

__all__ = ["AsyncClient", "AsyncExecutor", "SyncClient", "SyncExecutor"]

R = TypeVar("R")

AsyncClient = redis.asyncio.Redis | redis.asyncio.RedisCluster
"""What an async repository talks to: one server (or Sentinel's master) or a Redis Cluster."""
SyncClient = redis.Redis | redis.RedisCluster
"""What a sync repository talks to."""

logger = logging.getLogger("keyspace")


def _log(commands: Sequence[Command]) -> None:
    # Command name and key only: values may be secrets.
    for command in commands:
        logger.debug("%s %s", command[0], command[1] if len(command) > 1 else "")


def _commands(message: Any) -> Sequence[Command]:
    if isinstance(message, tuple):
        return (message,)
    if isinstance(message, (Batch, Exec)):
        return message.commands
    if isinstance(message, Call):
        return (message.command,)
    if isinstance(message, Watch):
        return (("WATCH", *message.keys),)
    return message  # type: ignore[no-any-return]


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    # get_message() returns None early for ignored subscribe confirmations,
    # so waits are measured against a deadline.
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _is_wrong_type(exc: BaseException | None) -> bool:
    return isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE")


def _failures(ops: Sequence[Op[Any]], results: list[Any]) -> list[int]:
    return [i for i, result in enumerate(results) if isinstance(result, Exception)]


def _wrong_types(ops: Sequence[Op[Any]], results: list[Any]) -> list[int]:
    """Indexes of results that are WRONGTYPE errors of ops on one declared key."""
    return [
        i
        for i in _failures(ops, results)
        if ops[i].key is not None
        and (_is_wrong_type(results[i]) or _is_wrong_type(results[i].__cause__))
    ]


def _name_types(
    ops: Sequence[Op[Any]], results: list[Any], wrong: list[int], found: list[Any]
) -> None:
    for i, kind in zip(wrong, found, strict=True):
        op = ops[i]
        assert op.key is not None  # _wrong_types keeps only these
        error = wrong_type(op.key, op.kind, as_text(kind))
        reply = results[i]
        error.__cause__ = reply if _is_wrong_type(reply) else reply.__cause__
        results[i] = error


def _pipeline_error(results: list[Any], failed: list[int]) -> PipelineError:
    first = results[failed[0]]
    return PipelineError(
        f"{len(failed)} of {len(results)} pipelined operations failed; the first"
        f" (#{failed[0]}): {type(first).__name__}: {first}",
        results,
    )


class AsyncExecutor:
    """Sends plans through a ``redis.asyncio`` client."""

    __slots__ = ("client", "cluster", "log_commands", "writer")

    def __init__(
        self, client: AsyncClient, log_commands: bool = False, writer: str | None = None
    ) -> None:
        self.client = client
        self.log_commands = log_commands
        self.writer = writer  # publish events for writes, under this id
        self.cluster = isinstance(client, CLUSTER_CLIENTS)

    async def send(self, message: Command | list[Command]) -> Any:
        """Send one command, or a list of commands as one pipeline."""
        if self.log_commands:
            _log(_commands(message))
        if isinstance(message, tuple):
            if self.cluster and message[0] == "UNLINK":
                return await self.client.unlink(*message[1:])  # split by slot
            return await self.client.execute_command(*message)
        return await self._pipeline(message, transaction=False)

    async def _pipeline(self, commands: Sequence[Command], transaction: bool) -> list[Any]:
        if transaction and self.cluster:
            check_one_slot(commands)
        async with self.client.pipeline(transaction=transaction) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)

    async def call(self, op: Op[R]) -> R:
        """Run a one-round-trip operation."""
        if self.writer is not None:
            op = publishing(op, self.writer)
        if self.log_commands:
            _log(_commands(op))
        try:
            if isinstance(op, Call):  # error replies raise here; no need to look for them
                return op.parse(await self.client.execute_command(*op.command))
            return parse_reply(op, await self._pipeline(op.commands, op.atomic))
        except ResponseError as exc:
            failure = await self._failure(op, exc)
            if failure is exc:
                raise
            raise failure from exc

    async def _failure(self, op: Op[Any], error: ResponseError) -> Exception:
        """The error to raise for an op's error reply: a named WRONGTYPE, or its own."""
        if op.key is not None and _is_wrong_type(error):
            found = as_text(await self.client.type(op.key))
            return wrong_type(op.key, op.kind, found)
        return translate(op, error)

    async def _read(self, op: Call[Any], pipe: Any) -> Any:
        """A flow's op, sent on the watching connection when there is one."""
        sender = pipe if pipe is not None and pipe.watching else self.client
        if self.log_commands:
            _log((op.command,))
        try:
            return parse_reply(op, await sender.execute_command(*op.command))
        except ResponseError as exc:
            failure = await self._failure(op, exc)
            if failure is exc:
                raise
            raise failure from exc

    async def pipeline(self, ops: Sequence[Op[Any]], transaction: bool) -> list[Any]:
        """Run ops in one round trip; raise :class:`PipelineError` if any failed."""
        if self.writer is not None:
            ops = [publishing(op, self.writer) for op in ops]
        batch = combine(ops, transaction)
        if self.log_commands:
            _log(batch.commands)
        results = batch.parse(await self._pipeline(batch.commands, transaction))
        wrong = _wrong_types(ops, results)
        if wrong:  # error path only: one more round trip to name the types found
            found = await self._pipeline([("TYPE", ops[i].key) for i in wrong], False)
            _name_types(ops, results, wrong, found)
        failed = _failures(ops, results)
        if failed:
            raise _pipeline_error(results, failed)
        return results

    async def run(self, flow: Flow[R]) -> R:
        """Run a multi-step operation to its result."""
        pipe: Any = None
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if self.log_commands and isinstance(message, (Watch, Exec)):
                    _log(_commands(message))
                if isinstance(message, Emit):
                    reply = None
                elif isinstance(message, Scan):
                    reply = await self._scan(message)
                elif isinstance(message, Call):
                    reply = await self._read(message, pipe)
                elif isinstance(message, Sleep):
                    await asyncio.sleep(message.seconds)
                    reply = None
                elif isinstance(message, Watch):
                    if self.cluster:
                        check_one_slot([("WATCH", *message.keys)])
                    pipe = pipe or self.client.pipeline(transaction=True)
                    reply = await pipe.watch(*message.keys)
                elif isinstance(message, Exec):
                    pipe.multi()
                    for command in with_publishes(message.commands, self.writer):
                        pipe.execute_command(*command)
                    try:
                        reply = await pipe.execute()
                    except WatchError:
                        reply = None
                elif pipe is not None and pipe.watching:
                    if self.log_commands:
                        _log(_commands(message))
                    reply = await pipe.execute_command(*message)
                else:
                    reply = await self.send(message)
        except StopIteration as stop:
            result: R = stop.value
            return result
        finally:
            if pipe is not None:
                await pipe.reset()

    async def subscribe(
        self, pattern: str, timeout: float | None
    ) -> AsyncIterator[tuple[str, Any]]:
        """(channel, data) of each message on channels matching ``pattern``.

        Stops after ``timeout`` seconds without a message (never, for
        ``None``), or when the consumer stops; the subscription is closed
        either way.
        """
        pubsub = self.client.pubsub()
        try:
            await pubsub.psubscribe(pattern)
            deadline = _deadline(timeout)
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=_remaining(deadline)
                )
                if message is not None:
                    yield as_text(message["channel"]), message["data"]
                    deadline = _deadline(timeout)
                elif deadline is not None and time.monotonic() >= deadline:
                    return
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _scan(self, step: Scan) -> tuple[Any, list[Any]]:
        if self.log_commands:
            _log((("SCAN", step.pattern),))
        if not self.cluster:
            cursor, keys = await self.client.execute_command(
                "SCAN", step.cursor or 0, "MATCH", step.pattern, "COUNT", step.count
            )
            return (None if int(cursor) == 0 else cursor), list(keys)
        # Redis Cluster: scan_iter visits every primary; the iterator is the cursor.
        iterator = step.cursor or self.client.scan_iter(match=step.pattern, count=step.count)
        keys = []
        async for key in iterator:
            keys.append(key)
            if len(keys) >= step.count:
                return iterator, keys
        return None, keys

    async def stream(self, flow: Flow[Any]) -> AsyncIterator[Any]:
        """Run a flow, yielding what it emits as it goes."""
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if isinstance(message, Emit):
                    reply = None
                    yield message.value
                elif isinstance(message, Scan):
                    reply = await self._scan(message)
                else:
                    reply = await self.send(message)  # type: ignore[arg-type]
        except StopIteration:
            return
        finally:
            flow.close()


class SyncExecutor:
    """Sends plans through a blocking ``redis`` client."""

    __slots__ = ("client", "cluster", "log_commands", "writer")

    def __init__(
        self, client: SyncClient, log_commands: bool = False, writer: str | None = None
    ) -> None:
        self.client = client
        self.log_commands = log_commands
        self.writer = writer  # publish events for writes, under this id
        self.cluster = isinstance(client, CLUSTER_CLIENTS)

    def send(self, message: Command | list[Command]) -> Any:
        """Send one command, or a list of commands as one pipeline."""
        if self.log_commands:
            _log(_commands(message))
        if isinstance(message, tuple):
            if self.cluster and message[0] == "UNLINK":
                return self.client.unlink(*message[1:])  # split by slot
            return self.client.execute_command(*message)  # type: ignore[no-untyped-call]
        return self._pipeline(message, transaction=False)

    def _pipeline(self, commands: Sequence[Command], transaction: bool) -> list[Any]:
        if transaction and self.cluster:
            check_one_slot(commands)
        with self.client.pipeline(transaction=transaction) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return pipe.execute(raise_on_error=False)

    def call(self, op: Op[R]) -> R:
        """Run a one-round-trip operation."""
        if self.writer is not None:
            op = publishing(op, self.writer)
        if self.log_commands:
            _log(_commands(op))
        try:
            if isinstance(op, Call):  # error replies raise here; no need to look for them
                return op.parse(self.client.execute_command(*op.command))  # type: ignore[no-untyped-call]
            return parse_reply(op, self._pipeline(op.commands, op.atomic))
        except ResponseError as exc:
            failure = self._failure(op, exc)
            if failure is exc:
                raise
            raise failure from exc

    def _failure(self, op: Op[Any], error: ResponseError) -> Exception:
        """The error to raise for an op's error reply: a named WRONGTYPE, or its own."""
        if op.key is not None and _is_wrong_type(error):
            found = as_text(self.client.type(op.key))
            return wrong_type(op.key, op.kind, found)
        return translate(op, error)

    def _read(self, op: Call[Any], pipe: Any) -> Any:
        """A flow's op, sent on the watching connection when there is one."""
        sender = pipe if pipe is not None and pipe.watching else self.client
        if self.log_commands:
            _log((op.command,))
        try:
            return parse_reply(op, sender.execute_command(*op.command))
        except ResponseError as exc:
            failure = self._failure(op, exc)
            if failure is exc:
                raise
            raise failure from exc

    def pipeline(self, ops: Sequence[Op[Any]], transaction: bool) -> list[Any]:
        """Run ops in one round trip; raise :class:`PipelineError` if any failed."""
        if self.writer is not None:
            ops = [publishing(op, self.writer) for op in ops]
        batch = combine(ops, transaction)
        if self.log_commands:
            _log(batch.commands)
        results = batch.parse(self._pipeline(batch.commands, transaction))
        wrong = _wrong_types(ops, results)
        if wrong:  # error path only: one more round trip to name the types found
            found = self._pipeline([("TYPE", ops[i].key) for i in wrong], False)
            _name_types(ops, results, wrong, found)
        failed = _failures(ops, results)
        if failed:
            raise _pipeline_error(results, failed)
        return results

    def run(self, flow: Flow[R]) -> R:
        """Run a multi-step operation to its result."""
        pipe: Any = None
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if self.log_commands and isinstance(message, (Watch, Exec)):
                    _log(_commands(message))
                if isinstance(message, Emit):
                    reply = None
                elif isinstance(message, Scan):
                    reply = self._scan(message)
                elif isinstance(message, Call):
                    reply = self._read(message, pipe)
                elif isinstance(message, Sleep):
                    time.sleep(message.seconds)
                    reply = None
                elif isinstance(message, Watch):
                    if self.cluster:
                        check_one_slot([("WATCH", *message.keys)])
                    pipe = pipe or self.client.pipeline(transaction=True)
                    reply = pipe.watch(*message.keys)
                elif isinstance(message, Exec):
                    pipe.multi()
                    for command in with_publishes(message.commands, self.writer):
                        pipe.execute_command(*command)
                    try:
                        reply = pipe.execute()
                    except WatchError:
                        reply = None
                elif pipe is not None and pipe.watching:
                    if self.log_commands:
                        _log(_commands(message))
                    reply = pipe.execute_command(*message)
                else:
                    reply = self.send(message)
        except StopIteration as stop:
            result: R = stop.value
            return result
        finally:
            if pipe is not None:
                pipe.reset()

    def subscribe(self, pattern: str, timeout: float | None) -> Iterator[tuple[str, Any]]:
        """(channel, data) of each message on channels matching ``pattern``.

        Stops after ``timeout`` seconds without a message (never, for
        ``None``), or when the consumer stops; the subscription is closed
        either way.
        """
        pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.psubscribe(pattern)
            deadline = _deadline(timeout)
            while True:
                message = pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=_remaining(deadline)
                )
                if message is not None:
                    yield as_text(message["channel"]), message["data"]
                    deadline = _deadline(timeout)
                elif deadline is not None and time.monotonic() >= deadline:
                    return
        finally:
            pubsub.close()

    def _scan(self, step: Scan) -> tuple[Any, list[Any]]:
        if self.log_commands:
            _log((("SCAN", step.pattern),))
        if not self.cluster:
            cursor, keys = self.client.execute_command(  # type: ignore[no-untyped-call]
                "SCAN", step.cursor or 0, "MATCH", step.pattern, "COUNT", step.count
            )
            return (None if int(cursor) == 0 else cursor), list(keys)
        # Redis Cluster: scan_iter visits every primary; the iterator is the cursor.
        iterator = step.cursor or self.client.scan_iter(match=step.pattern, count=step.count)
        keys = []
        for key in iterator:
            keys.append(key)
            if len(keys) >= step.count:
                return iterator, keys
        return None, keys

    def stream(self, flow: Flow[Any]) -> Iterator[Any]:
        """Run a flow, yielding what it emits as it goes."""
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if isinstance(message, Emit):
                    reply = None
                    yield message.value
                elif isinstance(message, Scan):
                    reply = self._scan(message)
                else:
                    reply = self.send(message)  # type: ignore[arg-type]
        except StopIteration:
            return
        finally:
            flow.close()
