"""Start and stop private Redis deployments for the tests: cluster, sentinel, TLS.

Used by the fixtures in ``tests/cluster/conftest.py`` (importable because pytest puts ``tests/``
on ``sys.path``).  Every process runs on a free port of 127.0.0.1 with no persistence, in a
temporary directory; processes start in parallel and are polled with short sleeps.  Nothing here
ever connects to a server it did not start (the shared Redis on 6379 is never touched).

A process that cannot start fails the requesting test with its log tail (:func:`pytest.fail`);
whether a missing *binary* skips or fails is the fixtures' decision.
"""

from __future__ import annotations

import atexit
import contextlib
import random
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

HOST = "127.0.0.1"
SHARED_REDIS_PORT = 6379
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0
POLL = 0.02
CLUSTER_BUS_OFFSET = 10000
# Cluster nodes also listen on port + 10000.  Draw both below the kernel's ephemeral range
# (32768 and up on Linux), so that neither collides with an outgoing connection's port.
_CLUSTER_PORTS = (12000, 22000)

_started: list[subprocess.Popen[bytes]] = []


@atexit.register
def _kill_leftovers() -> None:  # pragma: no cover - only when a session dies mid-way
    for process in _started:
        if process.poll() is None:
            process.kill()


# --------------------------------------------------------------------------------------------
# One process
# --------------------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A ``redis-server`` (or sentinel) process started by the tests."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    directory: Path
    logfile: Path

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for path in (self.logfile, self.directory / "stdout.log"):
            with contextlib.suppress(OSError):
                texts.append(path.read_text(errors="replace"))
        tail = "\n".join(t for t in texts if t.strip()).splitlines()[-lines:]
        return "\n".join(tail) if tail else "<empty log>"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; waits for the process to exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)


def stop_all(processes: Iterable[ServerProcess]) -> None:
    """Stop several processes: SIGTERM to all first, so that they shut down in parallel."""
    processes = list(processes)
    for server in processes:
        if server.is_running():
            server.process.send_signal(signal.SIGTERM)
    for server in processes:
        server.stop()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(*, cluster_bus: bool = False) -> int:
    """A port of 127.0.0.1 that is free now (and ``port + 10000`` too for a cluster node)."""
    if not cluster_bus:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port: int = sock.getsockname()[1]
            if port != SHARED_REDIS_PORT:  # pragma: no branch - never handed out
                return port
    for _ in range(200):
        port = random.randrange(*_CLUSTER_PORTS)
        if _bindable(port) and _bindable(port + CLUSTER_BUS_OFFSET):
            return port
    raise RuntimeError("no free port pair for a cluster node")  # pragma: no cover


def answers_ping(host: str, port: int, tls: ssl.SSLContext | None = None) -> bool:
    """Whether a server answers PING (over TLS when ``tls`` is given)."""
    try:
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((host, port), timeout=0.5))
            if tls is not None:
                sock = stack.enter_context(tls.wrap_socket(sock, server_hostname=host))
            sock.settimeout(0.5)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Launch:
    """How to start one process: ``command(port, workdir)`` builds its command line."""

    name: str
    command: Callable[[int, Path], list[str]]
    cluster_bus: bool = False
    tls: ssl.SSLContext | None = None  # how to PING it when it only listens with TLS


def start(directory: Path, launches: Sequence[Launch]) -> list[ServerProcess]:
    """Start every launch in parallel on free ports and wait until each answers PING.

    A process that lost the race for its port is restarted on another one; any other failure
    stops everything started here and fails the test with the log tail.
    """
    attempts = [0] * len(launches)
    running = {index: _spawn(directory, launch, 0) for index, launch in enumerate(launches)}
    ready: dict[int, ServerProcess] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while running:
            for index, server in list(running.items()):
                if not server.is_running():
                    attempts[index] += 1
                    if "in use" not in server.log_tail().lower() or attempts[index] >= 5:
                        _fail(server, f"exited with code {server.process.returncode}")
                    # lost the race for its port: try another one
                    running[index] = _spawn(directory, launches[index], attempts[index])
                elif answers_ping(server.host, server.port, launches[index].tls):
                    ready[index] = running.pop(index)
            if running:
                if time.monotonic() > deadline:
                    server = next(iter(running.values()))
                    _fail(server, f"did not answer PING within {STARTUP_TIMEOUT:.0f}s")
                time.sleep(POLL)
    except BaseException:
        stop_all([*running.values(), *ready.values()])
        raise
    return [ready[index] for index in range(len(launches))]


def _spawn(directory: Path, launch: Launch, attempt: int) -> ServerProcess:
    port = free_port(cluster_bus=launch.cluster_bus)
    workdir = directory / f"{launch.name}-{port}-{attempt}"
    workdir.mkdir(parents=True)
    command = launch.command(port, workdir)
    with open(workdir / "stdout.log", "wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    _started.append(process)
    return ServerProcess(launch.name, HOST, port, process, workdir, workdir / "redis.log")


def _fail(server: ServerProcess, problem: str) -> None:
    pytest.fail(
        f"{server.name} on {server.host}:{server.port} {problem}.\n"
        f"--- log tail ({server.logfile}) ---\n{server.log_tail()}",
        pytrace=False,
    )


def server_command(binary: str, *extra: str) -> Callable[[int, Path], list[str]]:
    """A plain ``redis-server`` command line: no persistence, log file in the work dir."""

    def command(port: int, workdir: Path) -> list[str]:
        return [
            binary,
            "--port", str(port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
            "--daemonize", "no",
            *extra,
        ]  # fmt: skip

    return command


def _wait_until(what: str, check: Callable[[], bool], timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(POLL)


def _quietly(check: Callable[[], bool]) -> Callable[[], bool]:
    def safe() -> bool:
        try:
            return check()
        except (redis.RedisError, OSError):
            return False

    return safe


# --------------------------------------------------------------------------------------------
# Redis Cluster
# --------------------------------------------------------------------------------------------


@dataclass
class ClusterDeployment:
    """Three primaries joined into one Redis Cluster (no replicas)."""

    processes: list[ServerProcess]

    @property
    def nodes(self) -> list[tuple[str, int]]:
        return [server.address for server in self.processes]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{h}:{p}" for h, p in self.nodes)

    def flushall(self) -> None:
        """FLUSHALL on every primary of this cluster (and nowhere else)."""
        for host, port in self.nodes:
            assert port != SHARED_REDIS_PORT
            with redis.Redis(host=host, port=port) as client:
                client.flushall()

    def stop(self) -> None:
        stop_all(self.processes)


def start_cluster(
    server_binary: str, cli_binary: str, directory: Path, primaries: int = 3
) -> ClusterDeployment:
    """Start ``primaries`` cluster-enabled servers in parallel, join them with
    ``redis-cli --cluster create`` and wait for ``cluster_state:ok`` on every node."""
    launches = [
        Launch(
            f"cluster-{index}",
            _cluster_node_command(server_binary),
            cluster_bus=True,
        )
        for index in range(primaries)
    ]
    deployment = ClusterDeployment(start(directory, launches))
    try:
        addresses = [f"{host}:{port}" for host, port in deployment.nodes]
        create = [cli_binary, "--cluster", "create", *addresses]
        create += ["--cluster-replicas", "0", "--cluster-yes"]
        result = subprocess.run(
            create, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            pytest.fail(
                f"{' '.join(create)} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}",
                pytrace=False,
            )
        for host, port in deployment.nodes:
            _wait_until(f"cluster_state:ok on {host}:{port}", _cluster_ok(host, port, primaries))
    except BaseException:
        deployment.stop()
        raise
    return deployment


def _cluster_node_command(binary: str) -> Callable[[int, Path], list[str]]:
    def command(port: int, workdir: Path) -> list[str]:
        return server_command(
            binary,
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(workdir / "nodes.conf"),
            "--cluster-node-timeout", "5000",
        )(port, workdir)  # fmt: skip

    return command


def _cluster_ok(host: str, port: int, primaries: int) -> Callable[[], bool]:
    @_quietly
    def check() -> bool:
        with redis.Redis(host=host, port=port, decode_responses=True) as client:
            info = client.cluster("INFO")
        return bool(
            info.get("cluster_state") == "ok"
            and int(info.get("cluster_known_nodes", 0)) == primaries
            and int(info.get("cluster_slots_ok", 0)) == 16384
        )

    return check


# --------------------------------------------------------------------------------------------
# Redis Sentinel
# --------------------------------------------------------------------------------------------

SENTINEL_SERVICE = "mymaster"


@dataclass
class SentinelDeployment:
    """A master, one replica and one sentinel (quorum 1) watching them."""

    master: ServerProcess
    replica: ServerProcess
    sentinel: ServerProcess
    service: str = SENTINEL_SERVICE

    @property
    def processes(self) -> list[ServerProcess]:
        return [self.sentinel, self.master, self.replica]

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [self.sentinel.address]

    @property
    def url(self) -> str:
        hosts = ",".join(f"{h}:{p}" for h, p in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    def master_address(self) -> tuple[str, int]:
        """The master's address as the sentinel reports it now."""
        with redis.Redis(*self.sentinel.address, decode_responses=True) as client:
            host, port = client.sentinel_get_master_addr_by_name(self.service)
        return str(host), int(port)

    def wait_for_master(self, address: tuple[str, int], timeout: float = 30.0) -> None:
        """Wait until the sentinel reports ``address`` as a healthy master (after a failover:
        not subjectively or objectively down, so that clients can be sent to it)."""
        _wait_until(
            f"the sentinel to report {address} as master",
            _quietly(lambda: self._healthy_master() == address),
            timeout,
        )

    def _healthy_master(self) -> tuple[str, int] | None:
        with redis.Redis(*self.sentinel.address, decode_responses=True) as client:
            state = client.sentinel_master(self.service)
        if not state["is_master"] or state["is_sdown"] or state["is_odown"]:
            return None
        return str(state["ip"]), int(state["port"])

    def flushall(self) -> None:
        """FLUSHALL on the current master (the replica follows)."""
        host, port = self.master_address()
        assert port != SHARED_REDIS_PORT
        assert (host, port) in (self.master.address, self.replica.address)
        with redis.Redis(host=host, port=port) as client:
            client.flushall()

    def stop(self) -> None:
        stop_all(self.processes)


def start_sentinel(binary: str, directory: Path) -> SentinelDeployment:
    """A master, then its replica, then a sentinel; waits until the replica is in sync and
    the sentinel knows both (so that a failover can promote the replica)."""
    # Diskless sync without the default 5 s delay: the replica is in sync at once.
    (master,) = start(
        directory,
        [Launch("master", server_command(binary, "--repl-diskless-sync-delay", "0"))],
    )
    started = [master]
    try:
        replica_of = ("--replicaof", master.host, str(master.port))
        (replica,) = start(directory, [Launch("replica", server_command(binary, *replica_of))])
        started.append(replica)
        _wait_until("the replica to sync", _quietly(lambda: _link_up(replica)))
        (sentinel,) = start(directory, [Launch("sentinel", _sentinel_command(binary, master))])
        started.append(sentinel)
        deployment = SentinelDeployment(master, replica, sentinel)
        _wait_until(
            "the sentinel to see the master and its replica",
            _quietly(lambda: _sentinel_knows(deployment)),
        )
    except BaseException:
        stop_all(started)
        raise
    return deployment


def _link_up(replica: ServerProcess) -> bool:
    with redis.Redis(*replica.address, decode_responses=True) as client:
        return bool(client.info("replication").get("master_link_status") == "up")


def _sentinel_knows(deployment: SentinelDeployment) -> bool:
    with redis.Redis(*deployment.sentinel.address, decode_responses=True) as client:
        master = client.sentinel_master(deployment.service)
        replicas = client.sentinel_slaves(deployment.service)
    return bool(
        (master["ip"], int(master["port"])) == deployment.master.address
        and any(
            (r["ip"], int(r["port"])) == deployment.replica.address
            and r.get("master-link-status") == "ok"
            for r in replicas
        )
    )


def _sentinel_command(binary: str, master: ServerProcess) -> Callable[[int, Path], list[str]]:
    def command(port: int, workdir: Path) -> list[str]:
        config = workdir / "sentinel.conf"  # the sentinel rewrites it: it must be its own
        config.write_text(
            f"port {port}\n"
            f"bind {HOST}\n"
            f"dir {workdir}\n"
            f"logfile {workdir / 'redis.log'}\n"
            "daemonize no\n"
            f"sentinel monitor {SENTINEL_SERVICE} {master.host} {master.port} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} 3000\n"
        )
        return [binary, str(config), "--sentinel"]

    return command


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


@dataclass
class Certificates:
    """A throw-away CA, a server certificate for 127.0.0.1/localhost and a client one."""

    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass
class TLSDeployment:
    """A ``redis-server`` listening with TLS only (``--port 0``), client certs optional."""

    server: ServerProcess
    certificates: Certificates

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"rediss://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.certificates.ca_file

    def stop(self) -> None:
        self.server.stop()


def server_has_tls(binary: str) -> bool:
    """Whether this ``redis-server`` build knows ``tls-port`` (built with TLS support).

    A TLS build refuses ``--port 0 --tls-port 0`` as "not listening anywhere"; a build without
    TLS rejects ``tls-port`` as a bad directive.  Nothing listens in either case.
    """
    probe = subprocess.run(
        [binary, "--port", "0", "--tls-port", "0", "--save", "", "--appendonly", "no"],
        capture_output=True,
        text=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
    )
    return "bad directive" not in (probe.stdout + probe.stderr).lower()


def make_certificates(openssl: str, directory: Path) -> Certificates:
    """Generate a CA and certificates signed by it with the ``openssl`` command line."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        result = subprocess.run(
            [openssl, *args], cwd=directory, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            pytest.fail(f"openssl {' '.join(args)} failed:\n{result.stderr}", pytrace=False)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run(
        "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=keyspace test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
    )  # fmt: skip
    for name, usage, alt_names in (
        ("server", "serverAuth", "DNS:localhost,IP:127.0.0.1"),
        ("client", "clientAuth", "DNS:keyspace-test-client"),
    ):
        (directory / f"{name}.ext").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\n"
            f"subjectAltName={alt_names}\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        run("req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=keyspace test {name}")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
            "-extfile", f"{name}.ext")  # fmt: skip
    return Certificates(
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
        directory / "client.crt",
        directory / "client.key",
    )


def start_tls_server(binary: str, certificates: Certificates, directory: Path) -> TLSDeployment:
    """A TLS-only ``redis-server``; readiness is a PING over TLS that trusts our CA."""
    context = ssl.create_default_context(cafile=str(certificates.ca_file))

    def command(port: int, workdir: Path) -> list[str]:
        return server_command(
            binary,
            "--port", "0",  # overrides the plain port: TLS only
            "--tls-port", str(port),
            "--tls-cert-file", str(certificates.server_cert),
            "--tls-key-file", str(certificates.server_key),
            "--tls-ca-cert-file", str(certificates.ca_file),
            "--tls-auth-clients", "optional",
        )(port, workdir)  # fmt: skip

    (server,) = start(directory, [Launch("tls", command, tls=context)])
    return TLSDeployment(server, certificates)
