"""Smoke test of ``benchmarks/bench_cluster.py``: a tiny run against the fixture cluster.

It checks the harness only (both flavours measured, every primary reached, the commands
counted on the servers, nothing left behind), never the timings.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from servers import SHARED_REDIS_PORT, ClusterDeployment

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``benchmarks/bench_cluster.py``, imported as the script imports its helpers: by name."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("bench_cluster", "_harness", "_target"):
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)
    before = set(sys.modules)
    yield importlib.import_module("bench_cluster")
    for name in set(sys.modules) - before:  # the benchmark modules this test imported
        del sys.modules[name]


def test_cluster_smoke_run(
    bench: ModuleType,
    clean_redis_cluster: ClusterDeployment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys, rounds = bench.SMOKE_KEYS, bench.SMOKE_ROUNDS
    output = tmp_path / "cluster.json"

    url = clean_redis_cluster.url
    assert bench.main(["--smoke", "--url", url, "--json", str(output)]) == 0

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["parameters"]["smoke"] is True
    assert (report["parameters"]["keys"], report["parameters"]["rounds"]) == (keys, rounds)
    cases = {case["name"]: case for case in report["cases"]}
    assert set(cases) == {
        f"{flavour} clear ({keys} keys, 3 primaries)" for flavour in ("async", "sync")
    }
    for case in cases.values():
        assert case["io"] is True
        assert case["items_per_op"] == keys
        assert case["ratio"] > 0
        for side in (case["keyspace"], case["raw"]):
            assert len(side["rounds_ops_per_s"]) == rounds
            assert all(value > 0 for value in side["rounds_ops_per_s"])
            # One SCAN per primary (a few hundred keys fit one page); one UNLINK per slot.
            assert side["commands_per_op"]["SCAN"] == 3
            assert side["commands_per_op"]["UNLINK"] >= 3
    printed = capsys.readouterr().out
    assert "async clear" in printed
    assert "sync clear" in printed
    for host, port in clean_redis_cluster.nodes:
        assert port != SHARED_REDIS_PORT
        with redis.Redis(host=host, port=port) as node:
            assert node.dbsize() == 0  # the benchmark deleted its keys on every primary
