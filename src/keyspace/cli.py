"""The ``keyspace`` command line (also ``python -m keyspace``).

``demo``
    The quickstart, on the embedded in-memory Redis or ``--url``.
``tree MODULE:ROOT``
    The declared keyspace: templates, kinds, value types, resolved TTLs; as text,
    ``--format json``, ``markdown`` or ``mermaid`` (for generated docs).
``scan MODULE:ROOT``
    The live keys under the root, per declared template: counts, TTLs, memory;
    and the keys no declaration produces.
``audit MODULE:ROOT``
    Every key under the root decoded as the application would read it; lists
    invalid values, keys of the wrong kind and foreign keys, and exits 1 if any.
``export MODULE:ROOT [PATH]`` / ``import MODULE:ROOT [PATH]``
    The root's declared keys to JSON lines (values, types, remaining TTLs) and
    back, byte for byte; import refuses to overwrite keys unless ``--replace``.

Exit status: 0 on success, 1 for findings (``audit``) or data ``import`` refuses,
2 for usage errors and for a server that cannot be reached or refuses the
credentials, 130 when interrupted. ``MODULE:ROOT`` names a :class:`~keyspace.Cluster` class; modules
in the current directory can be imported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from ._cli_common import (
    REDIS_ERRORS,
    CliError,
    Keyspace,
    Progress,
    connect,
    load_root,
    ping,
    print_json,
    redis_failure,
    settings_for,
)
from ._cli_scan import audit, render_audit, render_scan, scan
from ._cli_transfer import export, import_
from ._cli_tree import FORMATS, render, tree_data
from ._errors import KeyspaceError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else 2
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except (CliError, KeyspaceError) as exc:
        print(f"keyspace {args.command}: error: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CliError) else 2
    except KeyboardInterrupt:  # Ctrl-C during a long scan: no traceback
        print(f"keyspace {args.command}: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyspace", description="A typed keyspace ORM for Redis.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the quickstart and show the keys it wrote")
    demo.add_argument(
        "--url",
        default=os.environ.get("REDIS_URL", "memory://"),
        help="Redis URL (default: $REDIS_URL, else the embedded memory://)",
    )
    demo.set_defaults(run=_demo)

    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "target", metavar="MODULE:ROOT", help="the root Cluster class, e.g. myapp.keys:Root"
    )
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--url", help="Redis URL (default: the REDIS_* settings, REDIS_URL included)"
    )
    server.add_argument(
        "--prefix", help="bind the root to this literal prefix instead of its declared one"
    )
    server.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bars (they show only on a terminal, with rich installed)",
    )
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--json", action="store_true", help="print the report as JSON")
    listing.add_argument(
        "--limit", type=int, default=20, help="keys listed per section in text (0: all)"
    )

    tree = commands.add_parser(
        "tree", parents=[target], help="show the declared keyspace (no Redis needed)"
    )
    tree.add_argument("--format", choices=FORMATS, default="text", help="output format")
    tree.add_argument("--json", action="store_true", help="same as --format json")
    tree.set_defaults(run=_tree)

    commands.add_parser(
        "scan", parents=[target, server, listing], help="live keys per declared template"
    ).set_defaults(run=_scan)
    commands.add_parser(
        "audit",
        parents=[target, server, listing],
        help="check every stored value against its declaration (exit 1 on findings)",
    ).set_defaults(run=_audit)

    export_ = commands.add_parser(
        "export", parents=[target, server], help="write the declared keys as JSON lines"
    )
    export_.add_argument("path", nargs="?", default="-", help="output file (default: stdout)")
    export_.set_defaults(run=_export)

    import_parser = commands.add_parser(
        "import", parents=[target, server], help="write keys from an export back"
    )
    import_parser.add_argument("path", nargs="?", default="-", help="input file (default: stdin)")
    import_parser.add_argument(
        "--replace", action="store_true", help="overwrite keys that exist (else refuse)"
    )
    import_parser.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="write values even if their declared types reject them",
    )
    import_parser.set_defaults(run=_import)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    settings = settings_for(args.url)
    try:
        with settings.sync_client() as client:  # a clear error before the demo starts
            ping(client)
        asyncio.run(run_demo(settings, print))
    except REDIS_ERRORS as exc:
        raise redis_failure(exc, settings) from exc
    return 0


def _tree(args: argparse.Namespace) -> int:
    data = tree_data(load_root(args.target))
    if args.json or args.format == "json":
        print_json(data)
    else:
        print(render(data, args.format))
    return 0


def _scan(args: argparse.Namespace) -> int:
    root = load_root(args.target)
    with connect(root, args.url, args.prefix) as repo, Progress(args.progress) as progress:
        report = scan(Keyspace(repo), progress)
    if args.json:
        print_json(report)
    else:
        print(render_scan(report, args.limit))
    return 0


def _audit(args: argparse.Namespace) -> int:
    root = load_root(args.target)
    with connect(root, args.url, args.prefix) as repo, Progress(args.progress) as progress:
        report = audit(Keyspace(repo), progress)
    if args.json:
        print_json(report)
    else:
        print(render_audit(report, args.limit))
    return 0 if report["ok"] else 1


def _export(args: argparse.Namespace) -> int:
    root = load_root(args.target)
    with (
        connect(root, args.url, args.prefix) as repo,
        Progress(args.progress) as progress,
        _output(args.path) as out,
    ):
        counts = export(Keyspace(repo), out, progress)
    shown = "stdout" if args.path == "-" else args.path
    skipped = [
        f"{counts[name]} {what}"
        for name, what in (("foreign", "foreign"), ("wrong_kind", "of the wrong kind"))
        if counts[name]
    ]
    note = f" (skipped {' and '.join(skipped)}: see keyspace audit)" if skipped else ""
    print(f"exported {counts['exported']} keys to {shown}{note}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _output(path: str) -> Iterator[TextIO]:
    """stdout, or a file that appears only once the export is complete."""
    if path == "-":
        yield sys.stdout
        return
    partial = f"{path}.partial"
    try:
        out = open(partial, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with out:
            yield out
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)


@contextlib.contextmanager
def _input(path: str) -> Iterator[TextIO]:
    """stdin or the file at ``path``; unreadable input is a one-line error."""
    try:
        source = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        yield source
    except UnicodeDecodeError as exc:
        raise CliError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from exc
    finally:
        if source is not sys.stdin:
            source.close()


def _import(args: argparse.Namespace) -> int:
    root = load_root(args.target)
    with (
        connect(root, args.url, args.prefix) as repo,
        Progress(args.progress) as progress,
        _input(args.path) as lines,
    ):
        count = import_(
            Keyspace(repo), lines, progress, replace=args.replace, validate=args.validate
        )
    print(f"imported {count} keys", file=sys.stderr)
    return 0
