"""Runs the plans of ``_plan`` against a Redis client: the only place with I/O.

There is one executor per flavour, and their methods mirror each other line
for line, apart from ``await``; what they share that is not I/O (splitting
pipeline replies, turning ``WRONGTYPE`` into :class:`WrongTypeError`) is
written once, below.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import redis.asyncio
from redis.exceptions import ResponseError, WatchError
from typing_extensions import Self

from ._errors import PipelineError, ValueTooLargeError
from ._events import publishing, with_publishes
from ._plan import (
    RETRY,
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
from ._slots import CLUSTER_CLIENTS, check_one_slot, command_keys
from ._wire import direct, exchange, exchange_async

__all__ = ["AsyncClient", "AsyncExecutor", "Limits", "SyncClient", "SyncExecutor"]

R = TypeVar("R")

AsyncClient = redis.asyncio.Redis | redis.asyncio.RedisCluster
"""What an async repository talks to: one server (or Sentinel's master) or a Redis Cluster."""
SyncClient = redis.Redis | redis.RedisCluster
"""What a sync repository talks to."""

logger = logging.getLogger("keyspace")

# How long a subscriber waits on one primary before the next one's turn (Redis
# Cluster keyspace notifications): the most a message waits for its turn.
_SLICE = 0.02


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


_MANY_ARGUMENTS = 16


@dataclass(frozen=True, slots=True)
class Limits:
    """The sizes, in bytes, that no key name and no other argument of a command may pass."""

    max_key_bytes: int = 64 * 1024
    max_value_bytes: int = 512 * 1024 * 1024
    # An argument is measured only when it could be too large even at 4 UTF-8 bytes
    # per character: for the usual small command, checking costs one len() per argument.
    _quick: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_quick", min(self.max_key_bytes, self.max_value_bytes) // 4)

    @classmethod
    def of(cls, settings: Any) -> Limits:
        """The limits a ``RedisSettings`` sets (``max_key_bytes``, ``max_value_bytes``)."""
        return cls(settings.max_key_bytes, settings.max_value_bytes)

    def check(self, commands: Sequence[Command]) -> None:
        """Raise :class:`ValueTooLargeError` for a command with an oversized argument."""
        for command in commands:
            self.check_one(command)

    def check_one(self, command: Command) -> None:
        """:meth:`check` for one command."""
        quick = self._quick
        if len(command) > _MANY_ARGUMENTS:  # a list of names (UNLINK, MGET): one C-level pass
            try:
                if max(map(len, command)) <= quick:
                    return
            except TypeError:  # numbers among the arguments: look at each one
                pass
        for arg in command:
            if isinstance(arg, (str, bytes)) and len(arg) > quick:
                self._measure(command)
                return

    def _measure(self, command: Command) -> None:
        keys = sum(1 for _ in command_keys(command))  # the keys lead the arguments
        for position, arg in enumerate(command[1:], 1):
            if not isinstance(arg, (str, bytes)):
                continue
            size = len(arg.encode("utf-8", "surrogatepass")) if isinstance(arg, str) else len(arg)
            is_key = position <= keys
            limit = self.max_key_bytes if is_key else self.max_value_bytes
            if size > limit:
                what = "the key name" if is_key else "a value"
                setting = "REDIS_MAX_KEY_BYTES" if is_key else "REDIS_MAX_VALUE_BYTES"
                raise ValueTooLargeError(
                    f"{command[0]} {_shorten(command[1])}: {what} is {size} bytes, over the"
                    f" limit of {limit} ({setting}); refused before sending"
                )


def _shorten(arg: Any) -> str:
    text = repr(as_text(arg))
    return text if len(text) <= 60 else f"{text[:50]}...{text[-5:]} ({len(text)} chars)"


def _vet_one(executor: AsyncExecutor | SyncExecutor, command: Command) -> None:
    """:func:`_vet` for one command (a ``Call``), without building a sequence of one."""
    executor.limits.check_one(command)
    if executor.log_commands:
        _log((command,))


def _vet(executor: AsyncExecutor | SyncExecutor, commands: Sequence[Command]) -> None:
    """What every command goes through before it is sent: the size limits, then the log."""
    executor.limits.check(commands)
    if executor.log_commands:
        _log(commands)


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    # get_message() returns None early for ignored subscribe confirmations,
    # so waits are measured against a deadline.
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _wait(deadline: float | None, nodes: int) -> float | None:
    # One subscription blocks until the deadline; several take turns in short slices.
    remaining = _remaining(deadline)
    if nodes == 1:
        return remaining
    return _SLICE if remaining is None else min(_SLICE, remaining)


def _node_local(pattern: str) -> bool:
    """Whether messages on these channels come only from the node that holds the key.

    Redis Cluster forwards a PUBLISH to every node, but each node sends the
    keyspace notifications of its own keys only.
    """
    return pattern.startswith(("__keyspace@", "__keyevent@"))


def _apart(commands: Sequence[Command]) -> tuple[list[Command], list[Command]]:
    """The commands without the event PUBLISHes, and the PUBLISHes."""
    writes = [command for command in commands if command[0] != "PUBLISH"]
    return writes, [command for command in commands if command[0] == "PUBLISH"]


def _rejoin(commands: Sequence[Command], replies: list[Any], published: list[Any]) -> list[Any]:
    """The replies in the order of ``commands``, those of the PUBLISHes in their places."""
    writes, publishes = iter(replies), iter(published)
    return [next(publishes if command[0] == "PUBLISH" else writes) for command in commands]


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


class _Executor:
    """What both executors hold: the client, and how to send through it."""

    __slots__ = ("client", "cluster", "direct", "limits", "log_commands", "writer")

    def __init__(
        self,
        client: Any,
        log_commands: bool = False,
        writer: str | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self.client = client
        self.log_commands = log_commands
        self.limits = limits  # checked before anything is sent
        self.writer = writer  # publish events for writes, under this id
        self.cluster = isinstance(client, CLUSTER_CLIENTS)
        self.direct = direct(client)  # pipelines skip redis-py's (see _wire)

    @classmethod
    def of(cls, client: Any, settings: Any, *, publish_events: bool = False) -> Self:
        """An executor for ``client`` as ``settings`` configure it (command logging, size
        limits); ``publish_events`` gives it a fresh writer id."""
        writer = uuid.uuid4().hex if publish_events else None
        return cls(client, settings.log_commands, writer, Limits.of(settings))


class AsyncExecutor(_Executor):
    """Sends plans through a ``redis.asyncio`` client."""

    __slots__ = ()
    client: AsyncClient

    async def send(self, message: Command | list[Command]) -> Any:
        """Send one command, or a list of commands as one pipeline."""
        _vet(self, _commands(message))
        if isinstance(message, tuple):
            if self.cluster and message[0] == "UNLINK":
                return await self.client.unlink(*message[1:])  # split by slot
            return await self.client.execute_command(*message)
        return await self._pipeline(message, transaction=False)

    async def _pipeline(self, commands: Sequence[Command], transaction: bool) -> list[Any]:
        if transaction and self.cluster:
            return await self._cluster_transaction(commands)
        if self.direct and not transaction:
            return await exchange_async(self.client, commands)
        async with self.client.pipeline(transaction=transaction) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)

    async def _cluster_transaction(self, commands: Sequence[Command]) -> list[Any]:
        # Redis Cluster routes a PUBLISH by its channel's slot, not its key's, so
        # the events of a transaction's writes follow once EXEC has committed them.
        check_one_slot(commands)
        writes, publishes = _apart(commands)
        async with await self._transaction() as pipe:
            for command in writes:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        if not publishes:
            return replies
        return _rejoin(commands, replies, await self._pipeline(publishes, False))

    async def _transaction(self) -> Any:
        """A transactional pipeline of the client (WATCH, MULTI/EXEC)."""
        if self.cluster:
            # Else redis-py's asyncio cluster pipeline sets a fresh client up in a thread,
            # on an event loop of its own that is gone afterwards.
            await self.client.initialize()
        return self.client.pipeline(transaction=True)

    async def call(self, op: Op[R]) -> R:
        """Run a one-round-trip operation."""
        if self.writer is not None:
            op = publishing(op, self.writer)
        try:
            if isinstance(op, Call):  # error replies raise here; no need to look for them
                _vet_one(self, op.command)
                return op.parse(await self.client.execute_command(*op.command))
            _vet(self, op.commands)
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
        """A flow's op, sent on the watching connection ``pipe`` when there is one."""
        sender = pipe if pipe is not None else self.client
        _vet(self, (op.command,))
        try:
            return parse_reply(op, await sender.execute_command(*op.command))
        except WatchError:  # the watching connection dropped: nothing was written
            return RETRY
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
        _vet(self, batch.commands)
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
        watching = False  # redis-py's cluster pipelines do not say whether they watch
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if isinstance(message, (Watch, Exec)):
                    _vet(self, _commands(message))
                if isinstance(message, Emit):
                    reply = None
                elif isinstance(message, Scan):
                    reply = await self._scan(message)
                elif isinstance(message, Call):
                    reply = await self._read(message, pipe if watching else None)
                elif isinstance(message, Sleep):
                    await asyncio.sleep(message.seconds)
                    reply = None
                elif isinstance(message, Watch):
                    if self.cluster:
                        check_one_slot([("WATCH", *message.keys)])
                    pipe = pipe or await self._transaction()
                    reply = await pipe.watch(*message.keys)
                    watching = True
                elif isinstance(message, Exec):
                    watching = False  # EXEC ends the WATCH, whatever it returns
                    reply = await self._exec(pipe, message.commands)
                elif watching:
                    _vet(self, _commands(message))
                    reply = await pipe.execute_command(*message)
                else:
                    reply = await self.send(message)
        except StopIteration as stop:
            result: R = stop.value
            return result
        finally:
            if pipe is not None:
                await pipe.reset()

    async def _exec(self, pipe: Any, commands: tuple[Command, ...]) -> list[Any] | None:
        """MULTI, the commands and their events, EXEC; ``None`` when a watched key changed."""
        commands = with_publishes(commands, self.writer)
        # In Redis Cluster the events follow EXEC (see _cluster_transaction).
        writes, publishes = _apart(commands) if self.cluster else (list(commands), [])
        pipe.multi()
        for command in writes:
            pipe.execute_command(*command)
        try:
            replies: list[Any] = await pipe.execute()
        except WatchError:
            return None
        if not publishes:
            return replies
        return _rejoin(commands, replies, await self._pipeline(publishes, False))

    async def subscribe(
        self, pattern: str, timeout: float | None
    ) -> AsyncIterator[tuple[str, Any]]:
        """(channel, data) of each message on channels matching ``pattern``.

        Stops after ``timeout`` seconds without a message (never, for
        ``None``), or when the consumer stops; the subscription is closed
        either way.
        """
        pubsubs = await self._pubsubs(pattern)
        try:
            for pubsub in pubsubs:
                await pubsub.psubscribe(pattern)
            deadline = _deadline(timeout)
            for turn in itertools.count():
                message = await pubsubs[turn % len(pubsubs)].get_message(
                    ignore_subscribe_messages=True, timeout=_wait(deadline, len(pubsubs))
                )
                if message is not None:
                    yield as_text(message["channel"]), message["data"]
                    deadline = _deadline(timeout)
                elif deadline is not None and time.monotonic() >= deadline:
                    return
        finally:
            for pubsub in pubsubs:
                await pubsub.aclose()

    async def _pubsubs(self, pattern: str) -> list[Any]:
        """One pubsub; in Redis Cluster, one per primary for node-local channels."""
        client: Any = self.client
        if not self.cluster:
            return [client.pubsub()]
        await client.initialize()  # a cluster client learns its nodes on first use
        primaries = client.get_primaries()
        nodes = primaries if _node_local(pattern) else primaries[:1]
        return [client.pubsub(node=node) for node in nodes]

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


class SyncExecutor(_Executor):
    """Sends plans through a blocking ``redis`` client."""

    __slots__ = ()
    client: SyncClient

    def send(self, message: Command | list[Command]) -> Any:
        """Send one command, or a list of commands as one pipeline."""
        _vet(self, _commands(message))
        if isinstance(message, tuple):
            if self.cluster and message[0] == "UNLINK":
                return self.client.unlink(*message[1:])  # split by slot
            return self.client.execute_command(*message)  # type: ignore[no-untyped-call]
        return self._pipeline(message, transaction=False)

    def _pipeline(self, commands: Sequence[Command], transaction: bool) -> list[Any]:
        if transaction and self.cluster:
            return self._cluster_transaction(commands)
        if self.direct and not transaction:
            return exchange(self.client, commands)
        with self.client.pipeline(transaction=transaction) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return pipe.execute(raise_on_error=False)

    def _cluster_transaction(self, commands: Sequence[Command]) -> list[Any]:
        # Redis Cluster routes a PUBLISH by its channel's slot, not its key's, so
        # the events of a transaction's writes follow once EXEC has committed them.
        check_one_slot(commands)
        writes, publishes = _apart(commands)
        with self._transaction() as pipe:
            for command in writes:
                pipe.execute_command(*command)
            replies: list[Any] = pipe.execute(raise_on_error=False)
        if not publishes:
            return replies
        return _rejoin(commands, replies, self._pipeline(publishes, False))

    def _transaction(self) -> Any:
        """A transactional pipeline of the client (WATCH, MULTI/EXEC)."""
        return self.client.pipeline(transaction=True)

    def call(self, op: Op[R]) -> R:
        """Run a one-round-trip operation."""
        if self.writer is not None:
            op = publishing(op, self.writer)
        try:
            if isinstance(op, Call):  # error replies raise here; no need to look for them
                _vet_one(self, op.command)
                return op.parse(self.client.execute_command(*op.command))  # type: ignore[no-untyped-call]
            _vet(self, op.commands)
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
        """A flow's op, sent on the watching connection ``pipe`` when there is one."""
        sender = pipe if pipe is not None else self.client
        _vet(self, (op.command,))
        try:
            return parse_reply(op, sender.execute_command(*op.command))
        except WatchError:  # the watching connection dropped: nothing was written
            return RETRY
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
        _vet(self, batch.commands)
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
        watching = False  # redis-py's cluster pipelines do not say whether they watch
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if isinstance(message, (Watch, Exec)):
                    _vet(self, _commands(message))
                if isinstance(message, Emit):
                    reply = None
                elif isinstance(message, Scan):
                    reply = self._scan(message)
                elif isinstance(message, Call):
                    reply = self._read(message, pipe if watching else None)
                elif isinstance(message, Sleep):
                    time.sleep(message.seconds)
                    reply = None
                elif isinstance(message, Watch):
                    if self.cluster:
                        check_one_slot([("WATCH", *message.keys)])
                    pipe = pipe or self._transaction()
                    reply = pipe.watch(*message.keys)
                    watching = True
                elif isinstance(message, Exec):
                    watching = False  # EXEC ends the WATCH, whatever it returns
                    reply = self._exec(pipe, message.commands)
                elif watching:
                    _vet(self, _commands(message))
                    reply = pipe.execute_command(*message)
                else:
                    reply = self.send(message)
        except StopIteration as stop:
            result: R = stop.value
            return result
        finally:
            if pipe is not None:
                pipe.reset()

    def _exec(self, pipe: Any, commands: tuple[Command, ...]) -> list[Any] | None:
        """MULTI, the commands and their events, EXEC; ``None`` when a watched key changed."""
        commands = with_publishes(commands, self.writer)
        # In Redis Cluster the events follow EXEC (see _cluster_transaction).
        writes, publishes = _apart(commands) if self.cluster else (list(commands), [])
        pipe.multi()
        for command in writes:
            pipe.execute_command(*command)
        try:
            replies: list[Any] = pipe.execute()
        except WatchError:
            return None
        if not publishes:
            return replies
        return _rejoin(commands, replies, self._pipeline(publishes, False))

    def subscribe(self, pattern: str, timeout: float | None) -> Iterator[tuple[str, Any]]:
        """(channel, data) of each message on channels matching ``pattern``.

        Stops after ``timeout`` seconds without a message (never, for
        ``None``), or when the consumer stops; the subscription is closed
        either way.
        """
        pubsubs = self._pubsubs(pattern)
        try:
            for pubsub in pubsubs:
                pubsub.psubscribe(pattern)
            deadline = _deadline(timeout)
            for turn in itertools.count():
                message = pubsubs[turn % len(pubsubs)].get_message(
                    ignore_subscribe_messages=True, timeout=_wait(deadline, len(pubsubs))
                )
                if message is not None:
                    yield as_text(message["channel"]), message["data"]
                    deadline = _deadline(timeout)
                elif deadline is not None and time.monotonic() >= deadline:
                    return
        finally:
            for pubsub in pubsubs:
                pubsub.close()

    def _pubsubs(self, pattern: str) -> list[Any]:
        """One pubsub; in Redis Cluster, one per primary for node-local channels."""
        client: Any = self.client
        if not self.cluster:
            return [client.pubsub()]
        primaries = client.get_primaries()
        nodes = primaries if _node_local(pattern) else primaries[:1]
        return [client.pubsub(node=node) for node in nodes]

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
