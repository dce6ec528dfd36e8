"""Runs the plans of ``_plan`` against a Redis client: the only place with I/O.

There is one executor per flavour. Each knows how to send one command or a
pipeline of commands; driving calls and flows is the same code for both,
apart from the ``await``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import redis
import redis.asyncio

from ._plan import Call, Command, Emit, Flow

__all__ = ["AsyncExecutor", "SyncExecutor"]

R = TypeVar("R")

logger = logging.getLogger("keyspace")


def _log(message: Command | list[Command]) -> None:
    # Command name and key only: values may be secrets.
    for command in message if isinstance(message, list) else (message,):
        logger.debug("%s %s", command[0], command[1] if len(command) > 1 else "")


class AsyncExecutor:
    """Sends plans through a ``redis.asyncio`` client."""

    __slots__ = ("client", "log_commands")

    def __init__(self, client: redis.asyncio.Redis, log_commands: bool = False) -> None:
        self.client = client
        self.log_commands = log_commands

    async def send(self, message: Command | list[Command]) -> Any:
        """Send one command, or a list of commands as one pipeline."""
        if self.log_commands:
            _log(message)
        if isinstance(message, tuple):
            return await self.client.execute_command(*message)  # type: ignore[no-untyped-call]
        async with self.client.pipeline(transaction=False) as pipe:
            for command in message:
                pipe.execute_command(*command)
            return await pipe.execute()

    async def call(self, call: Call[R]) -> R:
        """Run a one-command operation."""
        if self.log_commands:
            _log(call.command)
        reply = await self.client.execute_command(*call.command)  # type: ignore[no-untyped-call]
        return call.parse(reply)

    async def run(self, flow: Flow[R]) -> R:
        """Run a multi-step operation to its result."""
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                reply = None if isinstance(message, Emit) else await self.send(message)
        except StopIteration as stop:
            result: R = stop.value
            return result

    async def stream(self, flow: Flow[Any]) -> AsyncIterator[Any]:
        """Run a flow, yielding what it emits as it goes."""
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if isinstance(message, Emit):
                    reply = None
                    yield message.value
                else:
                    reply = await self.send(message)
        except StopIteration:
            return
        finally:
            flow.close()


class SyncExecutor:
    """Sends plans through a blocking ``redis`` client."""

    __slots__ = ("client", "log_commands")

    def __init__(self, client: redis.Redis, log_commands: bool = False) -> None:
        self.client = client
        self.log_commands = log_commands

    def send(self, message: Command | list[Command]) -> Any:
        """Send one command, or a list of commands as one pipeline."""
        if self.log_commands:
            _log(message)
        if isinstance(message, tuple):
            return self.client.execute_command(*message)  # type: ignore[no-untyped-call]
        with self.client.pipeline(transaction=False) as pipe:
            for command in message:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]
            return pipe.execute()

    def call(self, call: Call[R]) -> R:
        """Run a one-command operation."""
        if self.log_commands:
            _log(call.command)
        reply = self.client.execute_command(*call.command)  # type: ignore[no-untyped-call]
        return call.parse(reply)

    def run(self, flow: Flow[R]) -> R:
        """Run a multi-step operation to its result."""
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                reply = None if isinstance(message, Emit) else self.send(message)
        except StopIteration as stop:
            result: R = stop.value
            return result

    def stream(self, flow: Flow[Any]) -> Iterator[Any]:
        """Run a flow, yielding what it emits as it goes."""
        reply: Any = None
        try:
            while True:
                message = flow.send(reply)
                if isinstance(message, Emit):
                    reply = None
                    yield message.value
                else:
                    reply = self.send(message)
        except StopIteration:
            return
        finally:
            flow.close()
