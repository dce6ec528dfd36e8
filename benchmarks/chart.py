"""Charts of the benchmark reports: each side's time per operation over its baseline's.

Run ``python benchmarks/chart.py`` after the benchmarks (matplotlib comes with the ``bench``
extra). It reads the JSON reports in ``benchmarks/results/`` (whichever exist) and writes:

- ``docs/img/benchmarks.png`` from ``peers.json`` (``bench_peers.py``): for every operation, the
  time each library takes over raw redis-py's of the same flavour, and what binding costs;
- ``docs/img/benchmarks-keyspace.png`` from the two-sided reports (``bench_core.py``,
  ``bench_batching.py``, ``bench_clear.py``, ``bench_cluster.py``): keyspace's time over its
  baseline's, for every case with I/O.

Bars are paired ratios (the median over rounds of each round's ratio); below 1 is faster than
the baseline. The same reports always give the same PNG bytes. Smoke runs (and so ``memory://``
smoke reports) are left out unless ``--include-smoke`` is given.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Patch

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
DEFAULT_OUT = HERE.parent / "docs" / "img"
PEERS_PNG = "benchmarks.png"
KEYSPACE_PNG = "benchmarks-keyspace.png"
TWO_SIDED = ("core", "batching", "clear", "cluster")
"""The two-sided reports, in the order the keyspace chart shows them."""

COLOURS = {
    "raw redis-py": "#8c8c8c",
    "keyspace": "#1f6fb4",
    "redisimnest": "#e0812b",
    "redis-dict": "#3a9e4f",
    "redis-om": "#c8413c",
    "core": "#1f6fb4",
    "batching": "#6a51a3",
    "clear": "#2c8c8c",
    "cluster": "#b5651d",
}
OTHER_COLOURS = ("#7f7f7f", "#bcbd22", "#17becf", "#e377c2")
BAR_INCHES = 0.26  # height given to one bar
DPI = 110
TIMES = "\N{MULTIPLICATION SIGN}"
HEADER_INCHES = 0.85  # title and machine line
LEGEND_INCHES = 0.35


def load_reports(directory: Path, include_smoke: bool) -> dict[str, dict[str, Any]]:
    """The reports in ``directory`` by benchmark name (``core``, ``peers``, ...)."""
    reports = {}
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        name = document.get("benchmark")
        if not isinstance(name, str):
            continue
        if document["parameters"].get("smoke") and not include_smoke:
            print(f"left out {path.name}: a smoke run (--include-smoke charts it)")
            continue
        reports[name] = document
    return reports


def colour(name: str) -> str:
    """A fixed colour per side or report name."""
    if name in COLOURS:
        return COLOURS[name]
    return OTHER_COLOURS[sum(map(ord, name)) % len(OTHER_COLOURS)]


def machine_line(document: dict[str, Any], with_sizes: bool = True) -> str:
    """Where a report was measured (and with which sizes), in two lines."""
    machine, parameters = document["machine"], document["parameters"]
    parser = "hiredis" if machine.get("hiredis") else "pure-Python parser"
    rounds = parameters.get("rounds") if with_sizes else None
    sizes = f", {rounds} rounds" if rounds else ""
    if rounds and parameters.get("ops_per_round"):
        sizes += f" x {parameters['ops_per_round']:,} ops"
    return (
        f"redis-server {machine['server']} ({parameters['target']}), {machine['cpu_count']} CPUs"
        f"{sizes}\nPython {machine['python']}, redis-py {machine['redis_py']} ({parser}),"
        f" pydantic {machine['pydantic']}, keyspace {machine['keyspace_revision']}"
    )


def _label_bars(ax: Axes, bars: Any, texts: Sequence[str]) -> None:
    ax.bar_label(bars, labels=list(texts), padding=3, fontsize=8)


def _finish(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No "Software" entry: the bytes then depend on the reports alone.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    print(f"chart written to {path}")


def _grouped(ax: Axes, groups: Sequence[tuple[str, Sequence[tuple[str, float, str]]]]) -> None:
    """Horizontal bars, one group per row label (the first on top), one bar per side of the
    group, each bar (side name, value, label), coloured by side."""
    for row, (_, bars) in enumerate(groups):
        y = len(groups) - 1 - row
        height = 0.8 / max(len(bars), 1)
        for index, (name, value, text) in enumerate(bars):
            offset = (len(bars) - 1) / 2 - index
            drawn = ax.barh(y + offset * height, value, height * 0.9, color=colour(name))
            _label_bars(ax, drawn, [text])
    ax.set_yticks(range(len(groups)), [label for label, _ in reversed(groups)], fontsize=9)


def _header(fig: Any, title: str, machine: str, names: Sequence[str] = ()) -> None:
    """Title, machine lines and legend (when ``names``) in a band of fixed height at the top,
    then lay the axes out below it."""
    height = fig.get_figheight()
    band = HEADER_INCHES + (LEGEND_INCHES if names else 0)
    fig.text(0.5, 1 - 0.12 / height, title, ha="center", va="top", fontsize=11.5)
    fig.text(0.5, 1 - 0.42 / height, machine, ha="center", va="top", fontsize=8.5)
    if names:
        fig.legend(
            [Patch(color=colour(name)) for name in names],
            names,
            loc="upper center",
            ncol=len(names),
            fontsize=9,
            frameon=False,
            bbox_to_anchor=(0.5, 1 - (HEADER_INCHES - 0.05) / height),
        )
    fig.tight_layout(rect=(0, 0, 1, 1 - band / height))


def peers_chart(document: dict[str, Any], path: Path) -> None:
    """``benchmarks.png``: the line-ups of ``bench_peers.py``."""
    lineups = document["lineups"]
    io = [lineup for lineup in lineups if lineup["io"]]
    binds = [lineup for lineup in lineups if not lineup["io"]]
    names: list[str] = []
    for lineup in lineups:
        names += [side["name"] for side in lineup["sides"] if side["name"] not in names]
    io_bars = sum(len(lineup["sides"]) - 1 for lineup in io)
    bind_bars = sum(len(lineup["sides"]) for lineup in binds)
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(10, 2.2 + BAR_INCHES * (io_bars + bind_bars) * 1.25),
        gridspec_kw={"height_ratios": [max(io_bars, 1), max(bind_bars, 1)]},
    )
    _grouped(
        top,
        [
            (
                lineup["name"],
                [
                    (
                        side["name"],
                        side["paired_time_vs_baseline"],
                        f"{side['paired_time_vs_baseline']:.2f}{TIMES}",
                    )
                    for side in lineup["sides"]
                    if side["name"] != lineup["baseline"]
                ],
            )
            for lineup in io
        ],
    )
    ratios = [side["paired_time_vs_baseline"] for lineup in io for side in lineup["sides"]]
    top.axvline(1.0, color=colour("raw redis-py"), linewidth=1.5, linestyle="--")
    top.set_xlim(0, max(1.2, *ratios) * 1.12)
    top.set_xlabel(
        "time per operation / raw redis-py's of the same flavour (paired median; lower is"
        " faster)\ndashed line: raw redis-py",
        fontsize=9,
    )
    _grouped(
        bottom,
        [
            (
                lineup["name"],
                [
                    (
                        side["name"],
                        side["timing"]["median_us_per_op"],
                        f"{side['timing']['median_us_per_op']:.2f} µs",
                    )
                    for side in lineup["sides"]
                ],
            )
            for lineup in binds
        ],
    )
    bottom.set_xscale("log")
    bottom.set_xlabel("microseconds per binding, no I/O (median; log scale)", fontsize=9)
    bottom.set_xlim(right=bottom.get_xlim()[1] * 3)
    title = "keyspace and peer libraries vs raw redis-py with pydantic JSON"
    _header(fig, title, machine_line(document), names)
    _finish(fig, path)


def keyspace_chart(reports: Sequence[dict[str, Any]], path: Path) -> None:
    """``benchmarks-keyspace.png``: keyspace over its baseline, case by case."""
    rows = []
    for document in reports:
        for case in document["cases"]:
            if not case["io"]:
                continue
            label = f"{document['benchmark']}: {case['name']}"
            if case["baseline"] != "raw redis-py" and " vs " not in case["name"]:
                label += f" (vs {case['baseline']})"
            rows.append((label, document["benchmark"], 1 / case["paired_ratio"]))
    fig, ax = plt.subplots(figsize=(10, 1.6 + BAR_INCHES * 1.3 * len(rows)))
    positions = range(len(rows) - 1, -1, -1)
    for y, (_, benchmark, value) in zip(positions, rows, strict=True):
        bars = ax.barh(y, value, 0.75, color=colour(benchmark))
        _label_bars(ax, bars, [f"{value:.2f}{TIMES}"])
    ax.set_yticks(list(positions), [label for label, _, _ in rows], fontsize=9)
    ax.axvline(1.0, color="black", linewidth=1, linestyle="--")
    ax.set_xlim(0, max(1.2, *(value for _, _, value in rows)) * 1.15)
    ax.set_xlabel(
        "keyspace's time per operation / the baseline's (paired median; lower is faster)\n"
        "dashed line: the baseline, raw redis-py unless the case names another",
        fontsize=9,
    )
    _header(fig, "keyspace vs hand-written redis-py", machine_line(reports[0], with_sizes=False))
    _finish(fig, path)


def render(results: Path, out: Path, include_smoke: bool = False) -> list[Path]:
    """Draw every chart the reports in ``results`` allow; the paths written."""
    reports = load_reports(results, include_smoke)
    written = []
    if "peers" in reports:
        written.append(out / PEERS_PNG)
        peers_chart(reports["peers"], written[-1])
    two_sided = [reports[name] for name in TWO_SIDED if name in reports]
    if two_sided:
        written.append(out / KEYSPACE_PNG)
        keyspace_chart(two_sided, written[-1])
    if not written:
        print(f"no report to chart in {results}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and draw the charts."""
    parser = argparse.ArgumentParser(description="PNG charts of the benchmark JSON reports.")
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help=f"reports ({DEFAULT_RESULTS})"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNGs ({DEFAULT_OUT})")
    parser.add_argument(
        "--include-smoke", action="store_true", help="chart smoke runs too (to test the charts)"
    )
    args = parser.parse_args(argv)
    render(args.results, args.out, args.include_smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
