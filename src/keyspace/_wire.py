"""Several commands on one pooled connection: packed once, sent once, each reply read.

This is what a redis-py pipeline does without its per-command bookkeeping (a
command stack of argument and option pairs, a response callback looked up for
every reply), which for thousands of small commands costs about as much as the
round trip itself. keyspace's parsers take replies with or without redis-py's
response callbacks, so the replies are used as they come off the wire.

Only for a client of one server (or Sentinel's master) without client-side
caching: :func:`direct` says which. Redis Cluster pipelines route commands by
slot, and transactions (MULTI/EXEC) need redis-py's handling of queued errors,
so both stay redis-py's. A dropped connection is retried as the client's own
pipelines are (its ``retry`` policy), after which the error propagates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

from ._slots import CLUSTER_CLIENTS

__all__ = ["direct", "exchange", "exchange_async"]

Command = tuple[Any, ...]


def direct(client: Any) -> bool:
    """Whether ``client``'s pipelines may be sent by :func:`exchange` (or its async twin)."""
    if isinstance(client, CLUSTER_CLIENTS):
        return False
    pool = getattr(client, "connection_pool", None)
    return pool is not None and getattr(pool, "cache", None) is None


def exchange(client: Any, commands: Sequence[Command]) -> list[Any]:
    """Send ``commands`` in one round trip; their replies, error replies in their places."""
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        return connection.retry.call_with_retry(  # type: ignore[no-any-return]
            lambda: _exchange(connection, commands), lambda _error: connection.disconnect()
        )
    finally:
        pool.release(connection)


def _exchange(connection: Any, commands: Sequence[Command]) -> list[Any]:
    connection.send_packed_command(connection.pack_commands(commands))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies


async def exchange_async(client: Any, commands: Sequence[Command]) -> list[Any]:
    """:func:`exchange` for a ``redis.asyncio`` client."""
    pool = client.connection_pool
    connection = await pool.get_connection()
    try:
        return await connection.retry.call_with_retry(  # type: ignore[no-any-return]
            lambda: _exchange_async(connection, commands), lambda _error: connection.disconnect()
        )
    finally:
        await pool.release(connection)


async def _exchange_async(connection: Any, commands: Sequence[Command]) -> list[Any]:
    await connection.send_packed_command(connection.pack_commands(commands))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(await connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies
