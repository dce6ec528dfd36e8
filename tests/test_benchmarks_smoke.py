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
import redis
import redis.asyncio

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


def test_cache_smoke_run_measures_the_uncached_pair(bench: Loader, tmp_path: Path) -> None:
    # fakeredis has no CLIENT TRACKING: only the uncached pair can run here, counted at the
    # client. The cached cases run against real servers only (see benchmarks/README.md).
    bench_cache = bench("bench_cache")

    report = _run(bench_cache, tmp_path, "memory://bench-cache")

    assert report["benchmark"] == "cache"
    (case,) = report["cases"]
    assert case["name"] == "get, no cache"
    _check_sides(case, bench_cache.SMOKE_ROUNDS)
    for side in (case["keyspace"], case["raw"]):
        assert (side["round_trips_per_op"], side["commands_per_op"]) == (1, {"GET": 1})
    assert report["parameters"]["traffic_counted_on"] == "client"
    assert report["consistency"]["stale_reads"] is None
    assert _leftovers("memory://bench-cache", "ksbench:*") == []


def test_coalesce_smoke_run_counts_one_round_trip_per_gather(bench: Loader, tmp_path: Path) -> None:
    bench_coalesce = bench("bench_coalesce")
    size = bench_coalesce.SMOKE_CONCURRENCY

    report = _run(bench_coalesce, tmp_path, "memory://bench-coalesce")

    traffic = {  # line-up -> side -> (round trips, commands) per operation
        f"{size} concurrent gets": {
            "raw gather": (size, {"GET": size}),
            "keyspace coalesced": (1, {"GET": size}),
            "keyspace": (size, {"GET": size}),
            "raw pipeline": (1, {"GET": size}),
            "raw MGET": (1, {"MGET": 1}),
        },
        "10 concurrent gets": {
            "raw gather": (10, {"GET": 10}),
            "keyspace coalesced": (1, {"GET": 10}),
            "keyspace": (10, {"GET": 10}),
        },
        "lone get": {
            "keyspace": (1, {"GET": 1}),
            "keyspace coalesced": (1, {"GET": 1}),
            "raw redis-py": (1, {"GET": 1}),
        },
    }
    measured = {
        lineup["name"]: {
            side["name"]: (side["timing"]["round_trips_per_op"], side["timing"]["commands_per_op"])
            for side in lineup["sides"]
        }
        for lineup in report["lineups"]
    }
    assert measured == traffic
    for lineup in report["lineups"]:
        for side in lineup["sides"]:
            assert len(side["timing"]["rounds_ops_per_s"]) == bench_coalesce.SMOKE_ROUNDS
    assert _leftovers("memory://bench-coalesce", "ksbench:*") == []


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


PEER_MODULES = {"redisimnest": "redisimnest", "redis-dict": "redis_dict", "redis-om": "redis_om"}
BINDS = ("bind user(i).age (no I/O)", "bind user(i).prefs.theme (no I/O)")
STRING_TRAFFIC = {  # operation -> round trips and commands of a SET/GET library
    "set profile": (1, {"SET": 1}),
    "get profile": (1, {"GET": 1}),
    "save+get profile": (2, {"GET": 1, "SET": 1}),
    "save+get age": (2, {"GET": 1, "SET": 1}),
}
HASH_TRAFFIC = {
    "set profile": (1, {"HSET": 1}),
    "get profile": (1, {"HGETALL": 1}),
    "save+get profile": (2, {"HGETALL": 1, "HSET": 1}),
}
PEER_LINEUPS = {  # peer -> the line-ups it takes part in
    "redisimnest": {*(f"async {operation}" for operation in STRING_TRAFFIC), *BINDS},
    "redis-dict": {f"sync {operation}" for operation in STRING_TRAFFIC},
    "redis-om": {f"{flavour} {op}" for flavour in ("async", "sync") for op in HASH_TRAFFIC},
}


def _lineups(report: dict[str, Any], rounds: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Line-up name -> side name -> side, each side's timing checked."""
    lineups = {}
    for lineup in report["lineups"]:
        assert lineup["sides"][0]["name"] == lineup["baseline"] == "raw redis-py"
        for side in lineup["sides"]:
            timing = side["timing"]
            assert len(timing["rounds_ops_per_s"]) == rounds
            assert timing["min_ops_per_s"] <= timing["median_ops_per_s"] <= timing["max_ops_per_s"]
            assert side["paired_time_vs_baseline"] > 0
            assert (timing["round_trips_per_op"] is None) is (not lineup["io"])
        lineups[lineup["name"]] = {side["name"]: side for side in lineup["sides"]}
    return lineups


def _traffic(side: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Round trips and commands per operation, leaving out redis-om's INFO: it asks for the
    server's version until it gets one, and fakeredis has no INFO."""
    timing = side["timing"]
    info = timing["commands_per_op"].get("INFO", 0)
    commands = {name: n for name, n in timing["commands_per_op"].items() if name != "INFO"}
    return timing["round_trips_per_op"] - info, commands


def test_peers_smoke_run_without_peers_compares_keyspace_and_raw(
    bench: Loader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_peers = bench("bench_peers")

    report = _run(bench_peers, tmp_path, "memory://bench-peers", "--peers")

    assert report["parameters"]["peers"] == []
    assert report["parameters"]["peers_left_out"] == list(PEER_MODULES)
    lineups = _lineups(report, bench_peers.SMOKE_ROUNDS)
    flavoured = {f"{flavour} {op}" for flavour in ("async", "sync") for op in STRING_TRAFFIC}
    assert lineups.keys() == flavoured | set(BINDS)
    for name, sides in lineups.items():
        assert sides.keys() == {"raw redis-py", "keyspace"}, name
        assert sides["raw redis-py"]["time_vs_baseline"] == 1.0
        if name in flavoured:
            expected = STRING_TRAFFIC[name.split(" ", 1)[1]]
            assert [_traffic(side) for side in sides.values()] == [expected, expected], name
    printed = capsys.readouterr().out
    assert "x base" in printed
    assert "binding, keyspace: repo.user(i).age" in printed
    assert _leftovers("memory://bench-peers", "ksbench:*") == []


@pytest.mark.parametrize("peer", list(PEER_MODULES))
def test_peers_smoke_run_measures_each_peer(bench: Loader, tmp_path: Path, peer: str) -> None:
    pytest.importorskip(PEER_MODULES[peer])  # the bench extra
    bench_peers = bench("bench_peers")
    url = f"memory://bench-peers-{peer}"

    report = _run(bench_peers, tmp_path, url, "--peers", peer)

    assert report["parameters"]["peers"] == [peer]
    assert report["parameters"]["peer_versions"][peer][0].isdigit()
    lineups = _lineups(report, bench_peers.SMOKE_ROUNDS)
    assert {name for name, sides in lineups.items() if peer in sides} == PEER_LINEUPS[peer]
    traffic = HASH_TRAFFIC if peer == "redis-om" else STRING_TRAFFIC
    for name in PEER_LINEUPS[peer] - set(BINDS):
        assert _traffic(lineups[name][peer]) == traffic[name.split(" ", 1)[1]], name
    assert _leftovers(url, "ksbench:*") == []


def test_peers_refuses_a_peer_that_is_not_installed(
    bench: Loader, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_peers = bench("bench_peers")
    monkeypatch.setattr(bench_peers, "installed_peers", lambda: ["redis-dict"])

    with pytest.raises(SystemExit):
        bench_peers.main(
            ["--smoke", "--url", "memory://bench-peers-missing", "--peers", "redis-om"]
        )

    assert "not installed: redis-om" in capsys.readouterr().err


def test_chart_draws_the_reports_it_finds(bench: Loader, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the bench extra
    results = tmp_path / "results"
    for name, url in (("core", "memory://chart-core"), ("peers", "memory://chart-peers")):
        options = ["--smoke", "--url", url, "--json", str(results / f"{name}.json")]
        assert bench(f"bench_{name}").main(options + (["--peers"] if name == "peers" else [])) == 0
    chart = bench("chart")

    assert chart.render(results, tmp_path / "left-out") == []  # smoke runs are left out
    first = chart.render(results, tmp_path / "first", include_smoke=True)
    again = chart.render(results, tmp_path / "again", include_smoke=True)

    assert [path.name for path in first] == ["benchmarks.png", "benchmarks-keyspace.png"]
    for path, twin in zip(first, again, strict=True):
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert path.read_bytes() == twin.read_bytes()  # deterministic


def test_traffic_counter_counts_pipelines_and_transactions(harness: ModuleType) -> None:
    sending = redis.asyncio.connection.AbstractConnection.send_packed_command
    settings = RedisSettings(url="memory://bench-counter")
    with settings.sync_client() as client, settings.sync_client() as other:
        client.ping()  # connected before counting: the handshake is not an operation's traffic
        counter = harness.TrafficCounter()
        with counter.counting(client):
            client.set("a", 1)
            with client.pipeline(transaction=True) as pipe:
                pipe.get("a").incr("a")
                pipe.execute()
            with client.pipeline(transaction=False) as pipe:
                pipe.get("a")
                pipe.execute()
            other.set("b", 2)  # not counted: another client
        client.delete("a", "b")  # not counted: counting has stopped

    assert counter.round_trips == 3
    assert counter.commands == {"SET": 1, "GET": 2, "INCRBY": 1, "MULTI": 1, "EXEC": 1}
    assert redis.asyncio.connection.AbstractConnection.send_packed_command is sending  # unpatched


def test_traffic_counter_reads_command_names_from_packed_output(harness: ModuleType) -> None:
    packed = [b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$4\r\n1\r\n2\r", b"\n*1\r\n$4\r\nping\r\n"]

    assert harness._command_names(packed) == ["SET", "PING"]


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


def test_cpu_smoke_run_measures_every_case_on_the_stub(
    bench: Loader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_cpu = bench("bench_cpu")
    output = tmp_path / "cpu.json"

    assert bench_cpu.main(["--smoke", "--json", str(output)]) == 0

    report = json.loads(output.read_text(encoding="utf-8"))
    cases = {case["name"]: case for case in report["cases"]}
    flavours = ("get (chained)", "set (chained)", "get (bound key)", "pipeline (per set)")
    assert set(cases) == {f"{f} {what}" for f in ("async", "sync") for what in flavours}
    for case in cases.values():
        _check_sides(case, bench_cpu.SMOKE_ROUNDS)
    printed = capsys.readouterr().out
    assert "async get (chained): keyspace adds" in printed


def test_the_stub_answers_what_keyspace_asks(bench: Loader) -> None:
    bench_cpu = bench("bench_cpu")
    async_client, sync_client = bench_cpu.stub_clients()
    repo = bench_cpu.SyncRepository(bench_cpu.Root, sync_client)

    assert repo.user(1).age.set(5) is True
    assert repo.user(1).age.get() == 42  # the stub's stored number
    with repo.pipeline() as pipe:
        written = pipe.user(1).age.set(1)
        read = pipe.user(2).age.get()
    assert (written.result, read.result) == (True, 42)
    sync_client.close()
    asyncio.run(async_client.aclose())
