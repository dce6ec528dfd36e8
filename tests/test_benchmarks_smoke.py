"""Smoke test of ``benchmarks/bench_core.py``: the harness runs end to end on ``memory://``.

It checks the harness only (every case measured, round trips counted), never the timings,
which mean nothing on the embedded fakeredis.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_CORE = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_core.py"
EXPECTED_CASES = {
    "async set (bound key)": True,  # name -> whether it does I/O
    "async get (bound key)": True,
    "async set (chained)": True,
    "async get (chained)": True,
    "bind only (no I/O)": False,
    "sync set (bound key)": True,
    "sync get (bound key)": True,
    "sync set (chained)": True,
    "sync get (chained)": True,
}


@pytest.fixture
def bench_core(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark script, imported from its path; it may not start a redis-server."""
    spec = importlib.util.spec_from_file_location("keyspace_bench_core", BENCH_CORE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered while it loads: pydantic resolves the clusters' annotations through it.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)

    def no_server() -> None:
        raise AssertionError("the smoke run must not start a redis-server")

    monkeypatch.setattr(module, "start_redis_server", no_server)
    return module


def test_smoke_run_reports_every_case(
    bench_core: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "results" / "core.json"

    assert bench_core.main(["--smoke", "--url", "memory://", "--json", str(output)]) == 0

    report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    assert report["parameters"]["rounds"] == bench_core.SMOKE_ROUNDS
    assert report["parameters"]["ops_per_round"] == bench_core.SMOKE_OPS
    assert {"platform", "python", "redis_py", "pydantic", "server"} <= report["machine"].keys()
    cases = {case["name"]: case for case in report["cases"]}
    assert {name: case["io"] for name, case in cases.items()} == EXPECTED_CASES
    for case in cases.values():
        for side in (case["keyspace"], case["raw"]):
            assert len(side["rounds_ops_per_s"]) == bench_core.SMOKE_ROUNDS
            assert all(value > 0 for value in side["rounds_ops_per_s"])
            assert side["min_ops_per_s"] <= side["median_ops_per_s"] <= side["max_ops_per_s"]
            assert side["median_us_per_op"] > 0
            assert side["round_trips_per_op"] == (1.0 if case["io"] else None)
        assert case["ratio"] > 0

    printed = capsys.readouterr().out
    assert all(name in printed for name in EXPECTED_CASES)
    assert "us/op" in printed
