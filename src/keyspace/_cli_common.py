"""What the ``keyspace`` commands share: the ``MODULE:ATTR`` target, the connection,
declared-key matching, batching, progress display and JSON output.

Errors meant for the user are :class:`CliError`; ``cli.main`` prints them on one
line and exits with their code (2 for a usage or connection problem, 1 for a
finding such as keys ``import`` refuses to overwrite).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import redis
from pydantic_core import to_json
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    RedisClusterException,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from ._cluster import Cluster, ClusterNode, KeyNode, root_node
from ._codec import _MODULE_PATH
from ._execute import SyncClient, SyncExecutor
from ._kinds import SYNC_KINDS
from ._plan import Op
from ._repository import SyncRepository
from ._settings import RedisSettings
from ._template import Param

__all__ = [
    "CONNECT_TIMEOUT",
    "REDIS_ERRORS",
    "CliError",
    "Declared",
    "Keyspace",
    "Progress",
    "Survey",
    "chunks",
    "connect",
    "load_root",
    "ping",
    "print_json",
    "redis_failure",
    "settings_for",
    "short",
    "survey",
]

T = TypeVar("T")

CONNECT_TIMEOUT = 3.0
"""Seconds to wait for a connection unless ``REDIS_SOCKET_CONNECT_TIMEOUT`` says otherwise."""


class CliError(Exception):
    """A problem to report on one line, with the exit status to return."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# -- the MODULE:ATTR target ---------------------------------------------------------


def load_root(target: str) -> type[Cluster]:
    """Import ``MODULE:ATTR`` (``ATTR`` may be dotted) and check that it is a cluster class."""
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise CliError(f"expected MODULE:ATTR, such as myapp.keys:Root; got {target!r}")
    # As with ``python -m``: modules of the current directory are importable.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CliError(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # a broken module or declaration: say what it raised
        raise CliError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CliError(f"{target}: {module_name!r} has no attribute {attr!r}") from None
    if not (isinstance(found, type) and issubclass(found, Cluster)):
        what = (
            f"the class {found.__qualname__}"
            if isinstance(found, type)
            else f"{type(found).__name__} {found!r}"
        )
        raise CliError(f"{target} is {what}, not a Cluster subclass")
    return found


# -- the connection -----------------------------------------------------------------


def _where(settings: RedisSettings) -> str:
    """Where the settings connect to, for messages; a password in the URL is masked."""
    if settings.url is not None:
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", settings.url)
    nodes = settings.cluster_nodes or settings.sentinels or ((settings.host, settings.port),)
    return ",".join(f"{host}:{port}" for host, port in nodes)


REDIS_ERRORS = (RedisError, RedisClusterException)
"""What redis-py raises when a server cannot be reached or refuses a command."""


def redis_failure(exc: Exception, settings: RedisSettings) -> CliError:
    """The one-line error for a Redis error that stopped a command."""
    where = _where(settings)
    if isinstance(exc, (AuthenticationError, AuthenticationWrongNumberOfArgsError)):
        return CliError(
            f"authentication failed at {where}: {exc} (check the user name and password:"
            " the URL, REDIS_USERNAME and REDIS_PASSWORD)"
        )
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, RedisClusterException)):
        return CliError(f"cannot connect to Redis at {where}: {exc}")
    return CliError(f"Redis error at {where}: {type(exc).__name__}: {exc}")


def settings_for(url: str | None) -> RedisSettings:
    """``RedisSettings`` for ``url`` (else the environment), with a short connect timeout."""
    settings = RedisSettings(url=url) if url is not None else RedisSettings()
    if settings.socket_connect_timeout is None:  # fail fast on an unreachable host
        settings = settings.model_copy(update={"socket_connect_timeout": CONNECT_TIMEOUT})
    return settings


@contextlib.contextmanager
def connect(
    root: type[Cluster], url: str | None, prefix: str | None
) -> Iterator[SyncRepository[Any]]:
    """A sync repository on ``url`` (else the ``REDIS_*`` settings), checked with PING.

    Redis errors inside the block become :class:`CliError` naming the server.
    """
    settings = settings_for(url)
    node = root_node(root)
    if node.own_params:
        names = ", ".join(p.name for p in node.own_params)
        raise CliError(
            f"root {node.where} has parameters ({names}); the command line needs a root"
            " with a literal prefix, such as a cluster that nests this one"
        )
    try:
        repo = SyncRepository(root, settings=settings, prefix=prefix)
    except REDIS_ERRORS as exc:  # a Redis Cluster client connects when it is built
        raise redis_failure(exc, settings) from exc
    try:
        with repo:
            ping(repo.client)
            yield repo
    except REDIS_ERRORS as exc:
        raise redis_failure(exc, settings) from exc


def ping(client: SyncClient) -> None:
    """PING once, without redis-py's retries: a server that is down, or refuses the
    password, is reported at once rather than after several seconds of backoff."""
    if not isinstance(client, redis.Redis):  # Redis Cluster checked its nodes when built
        client.ping()
        return
    retry = client.get_retry()
    client.set_retry(Retry(NoBackoff(), 0))
    try:
        client.ping()
    finally:
        if retry is not None:  # the commands that follow retry as usual
            client.set_retry(retry)


# -- declared keys ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Declared:
    """A declared key at its position: full template, a reading node and its name regex."""

    template: str  # e.g. "demo:user:{user_id}:age"
    node: KeyNode  # never renews a sliding TTL: reading here must not change the data
    regex: re.Pattern[str]
    typed: tuple[Param, ...]  # typed placeholders the regex captures, checked on a match

    @property
    def kind(self) -> str:
        """The kind as declared, such as ``Key[int]`` or ``HashKey[Profile]``."""
        return self.node.spec.kind_name

    @property
    def redis_type(self) -> str:
        """The Redis type (``TYPE``) keys of this declaration hold."""
        return self.node.spec.kind.redis_type

    def produces(self, name: str) -> bool:
        """Whether binding this declaration can produce the key ``name``.

        The regex accepts any valid segment for a placeholder (as ``clear()``
        does); a typed placeholder must also hold its canonical rendering, so
        that ``product:x`` or ``product:01`` are not keys of ``product_id: int``.
        """
        found = self.regex.fullmatch(name)
        if found is None:
            return False
        for param in self.typed:
            segment = found.group(param.name)
            try:
                if param.render(param.parse(segment)) != segment:
                    return False
            except ValueError:
                return False
        return True

    def read_op(self, name: str, repo: SyncRepository[Any]) -> Op[Any]:
        """The core's ``get()`` op of the live key ``name``: it decodes the value exactly as
        the application reads it (a missing key gives its default, or KeyNotFoundError)."""
        handle: Any = SYNC_KINDS[self.node.spec.kind](self.node, "", name, {}, repo._rt)
        op: Op[Any] = handle._op_get()
        return op


def _reading(key: KeyNode) -> KeyNode:
    if not key.spec.sliding:
        return key
    return replace(key, spec=replace(key.spec, sliding=False))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if prefix else name


class Keyspace:
    """The keys a bound root declares, and which declaration a live key name belongs to."""

    def __init__(self, repo: SyncRepository[Any]) -> None:
        self.repo = repo
        self.root = repo._node.name
        self.prefix = repo.get_full_prefix()
        self.executor: SyncExecutor = repo._rt.executor
        self.declared: list[Declared] = []
        head = re.escape(f"{self.prefix}:") if self.prefix else ""
        self._walk(repo._node, self.prefix, head, (), frozenset())

    def _walk(
        self,
        node: ClusterNode,
        path: str,
        head: str,
        typed: tuple[Param, ...],
        captured: frozenset[str],
    ) -> None:
        # The core's regexes (as in _whole and _events): each template's own regex
        # below the escaped, bound prefix; with named groups where there are typed
        # placeholders to check, unless a name repeats (re allows one group per name).
        for key in node.keys.values():
            template = key.spec.template
            capture = _captures(template.params, key.own_params, captured)
            self.declared.append(
                Declared(
                    _join(path, template.text),
                    _reading(key),
                    re.compile(head + template.regex({}, capture=bool(capture))),
                    typed + capture,
                )
            )
        for child in node.children.values():
            prefix = child.spec.prefix
            assert prefix is not None  # nested clusters always have one
            capture = _captures(prefix.params, child.own_params, captured)
            shown = f"{{{prefix.text}}}" if child.spec.hash_tag else prefix.text
            self._walk(
                child,
                _join(path, shown),
                head + child.prefix_regex({}, capture=bool(capture)) + ":",
                typed + capture,
                captured | set(prefix.params) if capture else captured,
            )

    def match(self, name: str) -> Declared | None:
        """The declaration that produces the key ``name``, or ``None`` (a foreign key)."""
        for declared in self.declared:
            if declared.produces(name):
                return declared
        return None


def _captures(
    names: tuple[str, ...], own: tuple[Param, ...], captured: frozenset[str]
) -> tuple[Param, ...]:
    """The typed parameters of one template to capture, if its groups can be named."""
    typed = tuple(param for param in own if param.annotation is not None)
    return typed if typed and captured.isdisjoint(names) else ()


@dataclass(slots=True)
class Survey:
    """The live keys under a root: grouped by declaration, and the undeclared ones."""

    groups: dict[Declared, list[str]]
    undeclared: list[str]

    @property
    def matched(self) -> list[tuple[Declared, str]]:
        """Every declared live key with its declaration, in key-name order."""
        pairs = [(d, name) for d, names in self.groups.items() for name in names]
        return sorted(pairs, key=lambda pair: pair[1])


def survey(space: Keyspace, progress: Progress) -> Survey:
    """SCAN every key under the root (every primary on Redis Cluster) and sort them out."""
    groups: dict[Declared, list[str]] = {declared: [] for declared in space.declared}
    undeclared: list[str] = []
    with progress.task("Scanning keys", None) as advance:
        for name in space.repo.subkeys():
            declared = space.match(name)
            if declared is None:
                undeclared.append(name)
            else:
                groups[declared].append(name)
            advance(1)
    for names in groups.values():
        names.sort()
    undeclared.sort()
    return Survey(groups, undeclared)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- output -------------------------------------------------------------------------


def short(text: str) -> str:
    """A type or kind without module paths, for text output: ``Key[Profile | None]``."""
    return _MODULE_PATH.sub(lambda match: match.group(1) or "", text)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON (sets, models and dates as pydantic writes them)."""
    print(to_json(data, indent=2, fallback=repr).decode())


class Progress:
    """Progress bars on stderr when it is a terminal and rich is installed; else silent.

    rich comes with the ``cli`` extra (``pip install "keyspace[cli]"``); without it
    the commands work the same, without bars.
    """

    def __init__(self, enabled: bool) -> None:
        stream = sys.stderr
        self._bars: Any = None
        if enabled and stream.isatty():
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    SpinnerColumn,
                    TextColumn,
                    TimeElapsedColumn,
                )
                from rich.progress import Progress as Bars
            except ImportError:
                return
            self._bars = Bars(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=stream),
                transient=True,  # a finished bar leaves no trace in the output
            )

    def __enter__(self) -> Progress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    @contextlib.contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A bar for one step (``total=None``: a count without an end); yields ``advance``."""
        bars = self._bars
        if bars is None:
            yield _ignore
            return
        task = bars.add_task(description, total=total)
        try:
            yield lambda steps: bars.advance(task, steps)
        finally:
            bars.remove_task(task)


def _ignore(steps: int) -> None:
    """``advance`` when no bar is shown."""
