"""Run the whole benchmark suite, then draw the charts.

``python -m pip install -e '.[bench]' && python benchmarks/run_all.py [--cpu N] [--url URL]``:
each script in turn, at its default sizes, writes its report to ``benchmarks/results/``;
``chart.py`` then draws them into ``docs/img/``. ``--cpu`` and ``--url`` go to every script
(``bench_cpu.py``, which talks to no server, gets ``--cpu`` only); with ``--url`` (one server),
``bench_cluster.py``, which needs a cluster, is left out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_core",
    "bench_cpu",
    "bench_batching",
    "bench_clear",
    "bench_size",
    "bench_peers",
    "bench_coalesce",
    "bench_cache",
)
NO_SERVER = frozenset({"bench_cpu"})  # measured against an in-process stub: no --url


def main(argv: Sequence[str] | None = None) -> int:
    """Run every benchmark script, stop at the first that fails, then chart the reports."""
    parser = argparse.ArgumentParser(description="Run every benchmark, then draw the charts.")
    parser.add_argument("--cpu", help="passed to every script: pin it and its server to a CPU")
    parser.add_argument("--url", help="passed to every script: the server to measure")
    args = parser.parse_args(argv)
    cpu = ["--cpu", args.cpu] if args.cpu else []
    options = [*cpu, *(["--url", args.url] if args.url else [])]
    scripts = SCRIPTS if args.url else (*SCRIPTS, "bench_cluster")
    for name in (*scripts, "chart"):
        print(f"\n==== {name}.py ====", flush=True)
        passed = [] if name == "chart" else cpu if name in NO_SERVER else options
        command = [sys.executable, str(HERE / f"{name}.py"), *passed]
        code = subprocess.run(command, check=False).returncode
        if code:
            print(f"{name}.py failed (exit status {code}); stopping", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
