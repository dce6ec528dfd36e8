"""The server a benchmark measures: a private ``redis-server``, a given URL, or ``memory://``.

Also the clients the scripts measure through, and the guards that keep a script to its own keys
on a server it did not start.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

from keyspace import RedisSettings

SHARED_REDIS_PORT = 6379  # the shared server: never started on, never flushed
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.settimeout(0.5)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SHUTDOWN_TIMEOUT)


def _launch(binary: str, directory: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    """Start ``redis-server`` on a free port; ``None`` if it did not come up."""
    port = _free_port()
    if port == SHARED_REDIS_PORT:  # pragma: no cover - the kernel never hands out 6379
        return None
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--logfile", str(directory / f"redis-{port}.log"),
        "--daemonize", "no",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if _answers_ping(port):
            return process, port
        time.sleep(0.05)
    _stop(process)
    return None


@contextlib.contextmanager
def start_redis_server() -> Iterator[str]:
    """Run a private ``redis-server`` (no persistence, temp dir) and yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH; install it or pass --url")
    with tempfile.TemporaryDirectory(prefix="keyspace-bench-") as tmp:
        for _ in range(5):
            launched = _launch(binary, Path(tmp))
            if launched is not None:
                break
        else:
            raise SystemExit(f"could not start {binary}; see the logs in {tmp}")
        process, port = launched
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


def is_memory(url: str) -> bool:
    """Whether ``url`` selects the embedded fakeredis."""
    return url.lower().startswith("memory://")


@contextlib.contextmanager
def target(url: str | None) -> Iterator[tuple[str, str]]:
    """Yield the URL to benchmark and what it is: a given URL, or a private server."""
    if url is not None:
        yield url, "memory (fakeredis)" if is_memory(url) else "given URL"
        return
    with start_redis_server() as own:
        yield own, "private redis-server"


def public_url(url: str) -> str:
    """The URL without its credentials, for reports."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def bench_settings(url: str) -> RedisSettings:
    """Client settings for ``url``; explicit values beat ``REDIS_*`` variables that would make
    one side do extra work (command logging, a default TTL, decoding)."""
    return RedisSettings(url=url, log_commands=False, default_ttl=None, decode_responses=False)


async def single_server_clients(
    settings: RedisSettings, script: str
) -> tuple[redis.asyncio.Redis, redis.Redis]:
    """The asyncio and sync clients of ``settings``, which must name one server (no cluster)."""
    async_client = settings.async_client()
    sync_client = settings.sync_client()
    if isinstance(async_client, redis.asyncio.Redis) and isinstance(sync_client, redis.Redis):
        return async_client, sync_client
    sync_client.close()
    await async_client.aclose()
    raise SystemExit(f"{script} measures one Redis server; the settings select a cluster")


@contextlib.asynccontextmanager
async def clients(
    settings: RedisSettings, script: str
) -> AsyncIterator[tuple[redis.asyncio.Redis, redis.Redis]]:
    """:func:`single_server_clients`, closed on the way out."""
    async_client, sync_client = await single_server_clients(settings, script)
    try:
        yield async_client, sync_client
    finally:
        await async_client.aclose()
        sync_client.close()


async def server_version(client: redis.asyncio.Redis, url: str) -> str:
    """The server's ``redis_version`` (and the fakeredis version for ``memory://``)."""
    try:
        info = await client.info("server")
        version = str(info.get("redis_version", "unknown"))
    except redis.RedisError:
        version = "unknown"
    if is_memory(url):
        version += f" (fakeredis {dist_version('fakeredis')})"
    return version


async def refuse_foreign_keys(client: redis.asyncio.Redis, pattern: str) -> None:
    """Stop before writing if the target already holds keys matching ``pattern``.

    The scripts clear and delete everything under their own prefix; on a server given with
    ``--url`` that prefix must be theirs alone.
    """
    async for key in client.scan_iter(match=pattern, count=1000):
        raise SystemExit(
            f"the target already holds {key!r}, which matches {pattern!r}; the benchmark would"
            " delete it. Use another server or database."
        )


async def delete_matching(client: redis.asyncio.Redis, pattern: str) -> None:
    """Delete the keys matching ``pattern`` (the benchmark's own, see refuse_foreign_keys)."""
    batch: list[Any] = []
    async for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await client.unlink(*batch)
            batch = []
    if batch:
        await client.unlink(*batch)


def dist_version(name: str) -> str:
    """The installed version of distribution ``name``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
