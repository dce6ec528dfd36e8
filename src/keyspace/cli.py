"""The ``keyspace`` command line.

``keyspace demo [--url URL]`` runs the quickstart on the embedded in-memory
Redis (or on ``--url`` / ``REDIS_URL``) and prints what it did and the keys
as stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="keyspace", description="A typed keyspace ORM for Redis.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the quickstart and show the keys it wrote")
    demo.add_argument(
        "--url",
        default=os.environ.get("REDIS_URL", "memory://"),
        help="Redis URL (default: $REDIS_URL, else the embedded memory://)",
    )
    args = parser.parse_args(argv)

    from ._demo import run_demo
    from ._settings import RedisSettings

    asyncio.run(run_demo(RedisSettings(url=args.url), print))
    return 0
