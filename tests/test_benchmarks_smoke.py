"""Smoke tests of ``benchmarks/``: every script runs end to end on ``memory://``.

They check the harness only (every case measured, round trips and commands counted, the
peers' formats written as their libraries write them, nothing left behind), never the
timings, which mean nothing on the embedded fakeredis. No test starts a redis-server.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keyspace import RedisSettings

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
EXPECTED_CORE_CASES = {
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

Loader = Callable[[str], ModuleType]


def _load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered while it loads: the scripts import _harness by name, and pydantic resolves
    # the clusters' annotations through the module.
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks/_harness.py``, on a ``_target`` that may not start a redis-server."""
    target = _load("_target", monkeypatch)

    def no_server() -> None:
        raise AssertionError("the smoke run must not start a redis-server")

    monkeypatch.setattr(target, "start_redis_server", no_server)
    return _load("_harness", monkeypatch)


@pytest.fixture
def bench(harness: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Loader:
    """Import a benchmark script by name, on the guarded harness."""
    return lambda name: _load(name, monkeypatch)


def _run(module: ModuleType, tmp_path: Path, url: str, *extra: str) -> dict[str, Any]:
    output = tmp_path / "results" / "report.json"
    assert module.main(["--smoke", "--url", url, "--json", str(output), *extra]) == 0
    report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    assert {"platform", "python", "redis_py", "pydantic", "server"} <= report["machine"].keys()
    assert report["parameters"]["smoke"] is True
    return report


def _check_sides(case: dict[str, Any], rounds: int) -> None:
    for side in (case["keyspace"], case["raw"]):
        assert len(side["rounds_ops_per_s"]) == rounds
        assert all(value > 0 for value in side["rounds_ops_per_s"])
        assert side["min_ops_per_s"] <= side["median_ops_per_s"] <= side["max_ops_per_s"]
        assert side["median_us_per_op"] > 0
    assert case["ratio"] > 0


def _leftovers(url: str, pattern: str) -> list[Any]:
    with RedisSettings(url=url).sync_client() as client:
        return list(client.scan_iter(match=pattern))


def test_core_smoke_run_reports_every_case(
    bench: Loader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_core = bench("bench_core")

    report = _run(bench_core, tmp_path, "memory://bench-core")

    assert report["parameters"]["rounds"] == bench_core.SMOKE_ROUNDS
    assert report["parameters"]["ops_per_round"] == bench_core.SMOKE_OPS
    cases = {case["name"]: case for case in report["cases"]}
    assert {name: case["io"] for name, case in cases.items()} == EXPECTED_CORE_CASES
    for case in cases.values():
        _check_sides(case, bench_core.SMOKE_ROUNDS)
        for side in (case["keyspace"], case["raw"]):
            assert side["round_trips_per_op"] == (1.0 if case["io"] else None)
    assert cases["async get (chained)"]["keyspace"]["commands_per_op"] == {"GET": 1.0}
    assert cases["sync set (bound key)"]["raw"]["commands_per_op"] == {"SET": 1.0}
    printed = capsys.readouterr().out
    assert all(name in printed for name in EXPECTED_CORE_CASES)
    assert "us/op" in printed
    assert _leftovers("memory://bench-core", "root:*") == []


def test_batching_smoke_run_counts_round_trips_and_commands(
    bench: Loader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_batching = bench("bench_batching")
    size = bench_batching.SMOKE_PIPELINE

    report = _run(bench_batching, tmp_path, "memory://bench-batching")

    assert report["parameters"]["pipeline_size"] == size
    cases = {case["name"]: case for case in report["cases"]}
    LOAD = {"MGET": 1, "EXISTS": 1}
    expected = {  # name -> (keyspace traffic, baseline traffic): round trips, commands
        "load (10 keys)": ((1, LOAD), (10, {"GET": 10})),
        "load vs keyspace gets": ((1, LOAD), (10, {"GET": 10})),
        "load vs raw pipeline": ((1, LOAD), (1, {"GET": 10})),
        "load vs raw MGET": ((1, LOAD), (1, {"MGET": 1})),
        f"pipeline ({size} sets)": ((1, {"SET": size}), (1, {"SET": size})),
        "clear (10 static keys)": ((1, {"UNLINK": 1}), (1, {"UNLINK": 1})),  # no SCAN
    }
    flavoured = {
        f"{flavour} {name}": traffic
        for name, traffic in expected.items()
        for flavour in ("async", "sync")
    }
    assert cases.keys() == flavoured.keys()
    for name, (ks, raw) in flavoured.items():
        case = cases[name]
        _check_sides(case, bench_batching.SMOKE_ROUNDS)
        for side, (trips, commands) in ((case["keyspace"], ks), (case["raw"], raw)):
            assert (side["round_trips_per_op"], side["commands_per_op"]) == (trips, commands), name
    assert cases[f"sync pipeline ({size} sets)"]["items_per_op"] == size
    assert cases["async load vs keyspace gets"]["baseline"] == "10 sequential keyspace get()"
    printed = capsys.readouterr().out
    assert "RT/op ks" in printed
    assert "GET x10" in printed
    assert _leftovers("memory://bench-batching", "ksbench:*") == []


def test_clear_smoke_run_scans_and_profiles(
    bench: Loader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_clear = bench("bench_clear")
    keys = bench_clear.SMOKE_KEYS

    report = _run(bench_clear, tmp_path, "memory://bench-clear", "--profile")

    cases = {case["name"]: case for case in report["cases"]}
    assert set(cases) == {f"async clear ({keys} keys)", f"sync clear ({keys} keys)"}
    for case in cases.values():
        _check_sides(case, bench_clear.SMOKE_ROUNDS)
        assert case["items_per_op"] == keys
        # A few hundred keys: one SCAN step, one UNLINK chunk, on both sides.
        assert case["keyspace"]["commands_per_op"] == {"SCAN": 1, "UNLINK": 1}
        assert case["raw"]["commands_per_op"] == {"SCAN": 1, "UNLINK": 1}
    profile = report["profile"]
    assert profile["keys"] == keys
    assert 0 < len(profile["top"]) <= bench_clear.PROFILE_TOP
    assert profile["total_us_per_key"] >= profile["top"][0]["own_us_per_key"] > 0
    assert "own us/key" in capsys.readouterr().out
    assert _leftovers("memory://bench-clear", "ksbench:*") == []


def test_size_smoke_run_writes_each_format(bench: Loader, tmp_path: Path) -> None:
    bench_size = bench("bench_size")

    report = _run(bench_size, tmp_path, "memory://bench-size")

    rows = {(row["kind"], row["format"]): row for row in report["rows"]}
    kinds = ("Key[int]", "Key[str]", "Key[list[str]]", "model")
    assert rows.keys() == {(kind, fmt) for kind in kinds for fmt in bench_size.FORMATS}
    for (kind, fmt), row in rows.items():
        assert row["value_bytes"] > 0
        assert row["memory_bytes"] is None  # fakeredis has no MEMORY USAGE
        if fmt == "keyspace":
            assert row["value_vs_keyspace"] == 1.0
        else:
            assert row["value_vs_keyspace"] > 1.0, (kind, fmt)  # plain JSON is the smallest
    assert rows["Key[int]", "keyspace"]["example"].isdigit()
    assert rows["Key[int]", "redis-dict"]["example"].startswith("int:")
    assert rows["model", "redis-dict"]["example"].startswith("dict:{")
    assert json.loads(rows["Key[str]", "redisimnest"]["example"])["__type__"] == "str"
    assert _leftovers("memory://bench-size", "ksbench:*") == []


def test_peer_formats_are_the_documented_ones(bench: Loader) -> None:
    bench_size = bench("bench_size")
    account = bench_size.samples(1)[0]["account"]

    assert bench_size.redis_dict_bytes(42) == b"int:42"
    assert bench_size.redis_dict_bytes("hello") == b"str:hello"
    assert bench_size.redis_dict_bytes(["a", "b"]) == b'list:["a", "b"]'
    assert bench_size.redisimnest_bytes(42) == b'{"__type__": "int", "value": 42}'
    stored = json.loads(bench_size.redis_dict_bytes(account).removeprefix(b"dict:"))
    assert stored["joined"] == {"__type__": "datetime", "value": account.joined.isoformat()}
    assert bench_size.redis_dict_value(bench_size.redis_dict_bytes(account)) == account.model_dump()


def test_traffic_counter_counts_pipelines_and_transactions(harness: ModuleType) -> None:
    with RedisSettings(url="memory://bench-counter").sync_client() as client:
        counter = harness.TrafficCounter()
        with counter.counting(client):
            client.set("a", 1)
            with client.pipeline(transaction=True) as pipe:
                pipe.get("a").incr("a")
                pipe.execute()
            with client.pipeline(transaction=False) as pipe:
                pipe.get("a")
                pipe.execute()
        client.delete("a")  # not counted: counting has stopped

    assert counter.round_trips == 3
    assert counter.commands == {"SET": 1, "GET": 2, "INCRBY": 1, "MULTI": 1, "EXEC": 1}
    assert "execute_command" not in vars(client)  # the instance is unpatched again


def test_refuses_a_target_that_holds_its_keys(harness: ModuleType) -> None:
    url = "memory://bench-foreign"

    async def check() -> None:
        client = RedisSettings(url=url).async_client()
        try:
            await client.set("ksbench:theirs", "x")
            with pytest.raises(SystemExit, match="ksbench:theirs"):
                await harness.refuse_foreign_keys(client, "ksbench:*")
            await client.delete("ksbench:theirs")
            await harness.refuse_foreign_keys(client, "ksbench:*")
        finally:
            await client.aclose()

    asyncio.run(check())


def test_tables_align_and_pick_units(harness: ModuleType) -> None:
    table = harness.format_table([("case", "n"), ("a", "1"), ("longer", "22")])

    assert table.splitlines() == ["case     n", "----------", "a        1", "longer  22"]
    assert harness.duration(0.000_250) == "250 us"
    assert harness.duration(0.2503) == "250.3 ms"
    assert harness.duration(2.5) == "2.5 s"
    assert harness.spread(0.000_250, 0.000_2, 0.001_5) == "200-1500"
    assert harness.commands_text({"SCAN": 100.0, "UNLINK": 200.5}) == "SCAN x100 UNLINK x200.50"
    assert harness.commands_text(None) == "-"


def test_smoke_runs_cannot_start_a_server(harness: ModuleType) -> None:
    with pytest.raises(AssertionError, match="must not start"), harness.target(None):
        pass
