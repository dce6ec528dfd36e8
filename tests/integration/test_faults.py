"""Faults: killed connections, a server restarted mid-workload, a server down or frozen.

Each test starts its own ``redis-server`` (append-only file, fsync on every write) on a fixed
port, so that a restart comes back at the same address and with every acknowledged write.
The workloads count what Redis acknowledged, and check afterwards that none of it was lost.
A retried increment may be applied twice (see docs/reliability.md), so counters are checked
between what was acknowledged and what was attempted.
"""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from keyspace import Cluster, Counter, Key, RedisSettings, Repository, SyncRepository

from .conftest import Awaitable

pytestmark = pytest.mark.redis_server

HOST = "127.0.0.1"
# Below Linux's ephemeral ports (where outgoing connections could take the port while the
# server is down) and outside tests/servers.py's cluster range (12000-22000).
_PORTS = (23000, 32000)


class Job(Cluster, prefix="job:{job_id}"):
    state: Key[str] = Key(default="")


class Stats(Cluster, prefix="stats"):
    done: Counter
    total: Key[int] = Key(default=0)


class Root(Cluster, prefix="faults"):
    job: Job
    stats: Stats


@dataclass
class Restartable:
    """A private ``redis-server`` that can be killed, frozen and started again on its port."""

    binary: str
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        log = self.directory / "redis.log"
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",  # every acknowledged write is on disk
            "--dir", str(self.directory),
            "--logfile", str(log),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"redis-server on {self.port} did not start:\n{_tail(log)}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; only what the append-only file holds survives."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.settimeout(0.5)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else "<no log>"


def _bindable_port() -> int:
    for _ in range(100):
        port = random.randrange(*_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")  # pragma: no cover


@pytest.fixture
def server(redis_server_binary: str, tmp_path: Path) -> Iterator[Restartable]:
    """A private, restartable server for one test."""
    for _ in range(5):  # another process may take the port between the check and the start
        instance = Restartable(redis_server_binary, tmp_path, _bindable_port())
        try:
            instance.start()
        except pytest.fail.Exception:
            continue
        break
    else:  # pragma: no cover
        pytest.fail("could not start a private redis-server")
    try:
        yield instance
    finally:
        instance.close()


def _settings(server: Restartable, **options: Any) -> RedisSettings:
    defaults: dict[str, Any] = {
        "retries": 3,
        "retry_backoff_base": 0.01,
        "retry_backoff_cap": 0.05,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }
    return RedisSettings(url=server.url, **{**defaults, **options})


def _repo(flavour: str, settings: RedisSettings) -> Any:
    if flavour == "async":
        return Repository(Root, settings=settings)
    return Awaitable(SyncRepository(Root, settings=settings))


async def _close(repo: Any) -> None:
    if isinstance(repo, Awaitable):
        repo._target.close()
    else:
        await repo.aclose()


@dataclass
class Ledger:
    """What a workload attempted and what Redis acknowledged."""

    states: dict[int, str] = field(default_factory=dict)
    incrs_acked: int = 0
    incrs_tried: int = 0
    updates_acked: int = 0
    updates_tried: int = 0
    errors: int = 0


async def workload(repo: Any, ledger: Ledger, jobs: range, retry_errors: bool) -> None:
    """Per job: SET its state, INCR a counter, and every 5th job an update() of a total.

    With ``retry_errors`` the workload itself retries a step that failed (as an application
    would while the server is down); otherwise any error fails the test.
    """
    for job in jobs:
        for step in ("set", "incr", "update"):
            if step == "update" and job % 5:
                continue
            while True:
                try:
                    await _step(repo, ledger, job, step)
                    break
                except (redis.ConnectionError, redis.TimeoutError, redis.WatchError):
                    # redis.WatchError: a drop between WATCH and the read escapes update()
                    # (test_a_drop_while_update_reads_is_retried documents that bug).
                    ledger.errors += 1
                    if not retry_errors:
                        raise
                    await asyncio.sleep(0.02)


async def _step(repo: Any, ledger: Ledger, job: int, step: str) -> None:
    if step == "set":
        await repo.job(job).state.set(f"done-{job}")
        ledger.states[job] = f"done-{job}"
    elif step == "incr":
        ledger.incrs_tried += 1
        await repo.stats.done.incr()
        ledger.incrs_acked += 1
    else:
        ledger.updates_tried += 1
        await repo.stats.total.update(lambda total: total + 1)
        ledger.updates_acked += 1


def check_ledger(server: Restartable, ledger: Ledger, drops: int) -> None:
    """Nothing that was acknowledged is lost, and counters stay within what was attempted.

    redis-py sends a command again on a new connection when the old one died, even if Redis
    had already run it, and update() starts over when the connection died during EXEC, even
    if Redis had committed it: each of the ``drops`` lost connections may have doubled one
    increment or one update.
    """
    with redis.Redis(host=HOST, port=server.port) as raw:
        for job, state in ledger.states.items():
            assert raw.get(f"faults:job:{job}:state") == f'"{state}"'.encode(), job
        done = int(raw.get("faults:stats:done") or 0)
        total = int(raw.get("faults:stats:total") or 0)
    assert ledger.incrs_acked <= done <= ledger.incrs_tried + drops
    assert ledger.updates_acked <= total <= ledger.updates_tried + drops


def _in_thread(action: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


# -- killed connections -----------------------------------------------------------------------


async def test_a_workload_survives_killed_connections(server: Restartable, flavour: str) -> None:
    repo = _repo(flavour, _settings(server))
    ledger = Ledger()
    kills: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        with redis.Redis(host=HOST, port=server.port) as admin:
            while not stop.wait(random.uniform(0.005, 0.03)):
                kills.append(admin.client_kill_filter(_type="normal", skipme=True))

    thread = _in_thread(killer)
    try:
        await workload(repo, ledger, range(300), retry_errors=True)
    finally:
        stop.set()
        thread.join()
        await _close(repo)
    assert sum(kills) > 0  # connections were killed mid-workload ...
    assert len(ledger.states) == 300  # ... the workload completed ...
    check_ledger(server, ledger, drops=sum(kills))  # ... and lost nothing acknowledged


@pytest.mark.parametrize("transaction", [True, False], ids=["transaction", "pipeline"])
async def test_a_batch_is_sent_again_on_a_fresh_connection(
    server: Restartable, flavour: str, transaction: bool
) -> None:
    # Transactions go through redis-py's pipeline; plain pipelines through keyspace's own
    # batched send (_wire).
    settings = _settings(server)
    if flavour == "async":
        repo: Any = Repository(Root, settings=settings)
    else:
        repo = SyncRepository(Root, settings=settings)
    with redis.Redis(host=HOST, port=server.port) as admin:
        await _run(repo.job(1).state.set("warm"))  # a pooled connection ...
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # ... now dead
        pipe = repo.pipeline(transaction=transaction)
        pipe.job(1).state.set("new")
        pipe.stats.done.incr()
        assert await _run(pipe.execute()) == [True, 1]
        assert admin.get("faults:stats:done") == b"1"  # applied once
        assert await _run(repo.job(1).state.get()) == "new"  # the pool's connection is sound
    await _run(repo.aclose() if flavour == "async" else repo.close())


async def _run(result: Any) -> Any:
    return await result if hasattr(result, "__await__") else result


# -- a server stopped and started again -------------------------------------------------------


async def test_a_workload_completes_across_a_server_restart(
    server: Restartable, flavour: str
) -> None:
    repo = _repo(flavour, _settings(server, retries=1, socket_timeout=0.5))
    ledger = Ledger()
    await workload(repo, ledger, range(50), retry_errors=False)
    before = server.process
    restarted = threading.Event()

    def restart() -> None:
        server.kill()
        time.sleep(0.5)  # down long enough to outlast redis-py's own retries
        server.start()
        restarted.set()

    thread = _in_thread(restart)
    try:
        await workload(repo, ledger, range(50, 250), retry_errors=True)
    finally:
        thread.join()
        await _close(repo)
    assert restarted.is_set()
    assert server.process is not before
    assert ledger.errors > 0  # the workload saw the server go away ...
    assert len(ledger.states) == 250  # ... completed once it was back ...
    check_ledger(server, ledger, drops=1)  # ... and lost nothing acknowledged


async def test_calls_fail_with_a_clear_error_while_the_server_stays_down(
    server: Restartable, flavour: str
) -> None:
    settings = _settings(server, retries=2, socket_connect_timeout=0.5)
    repo = _repo(flavour, settings)
    await repo.job(1).state.set("before")
    server.kill()
    try:
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError, match=f"{HOST}:{server.port}"):
            await repo.job(1).state.get()
        # Refused at once: three attempts and two backoffs of at most 50 ms each.
        assert time.monotonic() - started < 1.5
        server.start()
        assert await repo.job(1).state.get() == "before"  # the same repository recovers
    finally:
        await _close(repo)


async def test_calls_time_out_instead_of_hanging_on_a_frozen_server(
    server: Restartable, flavour: str
) -> None:
    settings = _settings(server, retries=1, socket_timeout=0.3, socket_connect_timeout=0.3)
    repo = _repo(flavour, settings)
    await repo.job(1).state.set("before")
    server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            await repo.job(1).state.get()
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 2.0  # two attempts of 0.3 s, one backoff, some slack
        server.thaw()
        assert await repo.job(1).state.get() == "before"
    finally:
        server.thaw()
        await _close(repo)


# -- update() and a connection lost between WATCH and EXEC -------------------------------------


async def test_a_drop_before_exec_restarts_the_update(server: Restartable, flavour: str) -> None:
    repo = _repo(flavour, _settings(server))
    calls: list[int] = []
    with redis.Redis(host=HOST, port=server.port) as admin:

        def add_one(total: int) -> int:
            calls.append(total)
            if len(calls) == 1:  # the watching connection dies before MULTI/EXEC is sent
                assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
            return total + 1

        try:
            assert await repo.stats.total.update(add_one) == 1
        finally:
            await _close(repo)
        assert calls == [0, 0]  # fn ran again on a fresh WATCH ...
        assert admin.get("faults:stats:total") == b"1"  # ... and the write happened once


class _DropAfterWatch(redis.Connection):
    """A connection that fails the first command sent after the first WATCH, as a kill would."""

    armed = False
    dropped = 0

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        if _DropAfterWatch.armed and args[0] != "WATCH" and not _DropAfterWatch.dropped:
            _DropAfterWatch.armed = False
            _DropAfterWatch.dropped += 1
            self.disconnect()
            raise redis.ConnectionError("connection lost (injected)")
        _DropAfterWatch.armed = args[0] == "WATCH"
        super().send_command(*args, **kwargs)


def test_a_drop_while_update_reads_is_retried(server: Restartable) -> None:
    pool = redis.ConnectionPool(connection_class=_DropAfterWatch, host=HOST, port=server.port)
    with redis.Redis(connection_pool=pool) as client:
        repo = SyncRepository(Root, client)
        assert repo.stats.total.update(lambda total: total + 1) == 1
        assert _DropAfterWatch.dropped == 1  # the drop happened, and update() started over
