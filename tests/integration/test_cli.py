"""The ``keyspace`` command line, run in-process against both backends.

Every command gets ``--url backend.url`` so that no test ever reaches a server
it did not start.
"""

from __future__ import annotations

import io
import json
import math
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from keyspace import RedisSettings, SyncRepository
from keyspace._cli_scan import _duration, _size, _ttl_range
from keyspace._cli_transfer import _record
from keyspace.cli import main

from . import cli_models
from .cli_models import Item, Shop, Stock

SHOP = f"{cli_models.__name__}:Shop"


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as stderr is in an interactive shell."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def repo(backend: Any) -> Iterator[SyncRepository[Shop]]:
    with SyncRepository(Shop, settings=RedisSettings(url=backend.url)) as repo:
        yield repo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fill(repo: SyncRepository[Shop]) -> None:
    """Two products with every kind of key, the shop's own keys, TTLs and no TTLs."""
    repo.name.set("Corner shop ✓")
    repo.ranking.set({"ann": 3.5, "bob": -1.25, "cy": 1e300})
    for product_id in (1, 2):
        product = repo.product(product_id)
        product.info.set(Item(name=f"thing {product_id}", price=9.99))
        product.stock.set(Stock(count=5, warehouse="north"))
        product.views.incr(7)
        product.rating.incr(0.1)
        product.rating.incr(0.2)
        product.tags.set({"new", "sale"})
        product.history.set([3, 1, 2, 1])
        product.weight.set(float("nan") if product_id == 2 else 0.5)
        product.reviews(9).text.set("great")


def snapshot(client: redis.Redis) -> dict[str, tuple[str, Any, int]]:
    """Every key's Redis type, exact content and PTTL."""
    state: dict[str, tuple[str, Any, int]] = {}
    for raw in client.scan_iter(match="shop:*", count=1000):
        name = raw.decode()
        kind = client.type(name).decode()
        content: Any
        if kind == "string":
            content = client.get(name)
        elif kind == "hash":
            content = client.hgetall(name)
        elif kind == "list":
            content = client.lrange(name, 0, -1)
        elif kind == "set":
            content = client.smembers(name)
        else:
            content = client.zrange(name, 0, -1, withscores=True)
        state[name] = (kind, content, client.pttl(name))
    return state


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- scan ---------------------------------------------------------------------------


def test_scan_counts_keys_per_template(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    fill(repo)
    repo.client.set("shop:stray", "x")
    repo.client.set("shop:product:x:info", "{}")  # not an int product id: undeclared
    repo.client.set("shopkeeper", "not under the root")

    code, out, _ = run(capsys, "scan", SHOP, "--url", backend.url, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["prefix"] == "shop"
    assert report["keys"] == 2 + 2 * 8 + 2
    assert report["undeclared"] == ["shop:product:x:info", "shop:stray"]
    by_template = {entry["template"]: entry for entry in report["templates"]}
    info = by_template["shop:product:{product_id}:info"]
    assert (info["kind"], info["redis_type"], info["keys"]) == ("Key[Item]", "string", 2)
    assert 590_000 < info["ttl_ms"]["min"] <= info["ttl_ms"]["max"] <= 600_000
    assert info["ttl_ms"]["no_expiry"] == 0
    history = by_template["shop:product:{product_id}:history"]
    assert history["ttl_ms"] == {"min": None, "max": None, "no_expiry": 2}
    assert by_template["shop:product:{product_id}:review:{review_id}:text"]["keys"] == 2
    assert by_template["shop:session"]["keys"] == 0
    assert by_template["shop:ranking"]["redis_type"] == "zset"
    if backend.is_memory:  # the in-memory Redis has no MEMORY USAGE
        assert info["memory"] is None
    else:
        assert info["memory"] > 0

    code, out, _ = run(capsys, "scan", SHOP, "--url", backend.url, "--limit", "1")
    assert code == 0
    assert out.startswith("shop: 20 keys, 18 declared, 2 undeclared\n")
    assert out.splitlines()[2].split() == ["TEMPLATE", "KIND", "KEYS", "TTL", "MEMORY"]
    row = next(
        line for line in out.splitlines() if line.startswith("shop:product:{product_id}:info")
    )
    assert row.split()[1:3] == ["Key[Item]", "2"]
    assert row.split()[3].startswith(("9m5", "10m00s"))
    assert "no expiry" in next(line for line in out.splitlines() if ":history" in line)
    assert "Undeclared keys (2):\n  shop:product:x:info\n  ... and 1 more" in out


def test_scan_of_an_empty_keyspace(backend: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", SHOP, "--url", backend.url)
    assert code == 0
    assert out.startswith("shop: 0 keys, 0 declared, 0 undeclared")
    assert "Undeclared" not in out


def test_prefix_binds_the_root_elsewhere(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    with SyncRepository(Shop, settings=RedisSettings(url=backend.url), prefix="t2:shop") as other:
        other.name.set("other tenant")
    repo.name.set("this tenant")
    code, out, _ = run(capsys, "scan", SHOP, "--url", backend.url, "--prefix", "t2:shop", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["prefix"] == "t2:shop"
    assert report["keys"] == 1
    assert report["templates"][0]["template"] == "t2:shop:name"


# -- audit --------------------------------------------------------------------------


def test_audit_of_valid_data_exits_0(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    fill(repo)
    code, out, _ = run(capsys, "audit", SHOP, "--url", backend.url)
    assert code == 0
    assert out.strip() == "shop: checked 18 declared keys; all valid, no foreign keys"


def test_audit_lists_invalid_wrong_kind_and_foreign_keys(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    fill(repo)
    client = repo.client
    client.set("shop:product:1:views", "many")  # a counter that is no number
    client.hset("shop:product:2:stock", "count", '"lots"')  # a hash field of the wrong type
    client.rpush("shop:product:3:history", "[1]")  # a list member that is no int
    client.delete("shop:product:2:tags")
    client.set("shop:product:2:tags", '["new"]')  # a string where a set is declared
    client.set("shop:leftover", "1")

    code, out, _ = run(capsys, "audit", SHOP, "--url", backend.url, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["checked"] == 19
    invalid = {entry["key"]: entry for entry in report["invalid"]}
    assert sorted(invalid) == [
        "shop:product:1:views",
        "shop:product:2:stock",
        "shop:product:3:history",
    ]
    assert invalid["shop:product:1:views"]["template"] == "shop:product:{product_id}:views"
    assert "is not a valid int" in invalid["shop:product:1:views"]["error"]
    assert "count" in invalid["shop:product:2:stock"]["error"]
    assert report["wrong_kind"] == [
        {
            "key": "shop:product:2:tags",
            "template": "shop:product:{product_id}:tags",
            "kind": "SetKey[str]",
            "expected": "set",
            "found": "string",
        }
    ]
    assert report["foreign"] == ["shop:leftover"]

    code, out, _ = run(capsys, "audit", SHOP, "--url", backend.url)
    assert code == 1
    assert out.startswith(
        "shop: checked 19 declared keys; 3 invalid, 1 of the wrong kind, 1 foreign (undeclared)"
    )
    assert "Invalid values (3):\n  shop:product:1:views  [shop:product:{product_id}:views]:" in out
    assert (
        "shop:product:2:tags  [shop:product:{product_id}:tags]: declared SetKey[str]"
        " (a Redis set), holds a Redis string"
    ) in out
    assert "Foreign keys (1):\n  shop:leftover" in out


def test_audit_does_not_renew_sliding_ttls(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    repo.session.set("token")
    repo.client.pexpire("shop:session", 5000)
    assert run(capsys, "audit", SHOP, "--url", backend.url)[0] == 0
    assert 0 < repo.client.pttl("shop:session") <= 5000  # a get() would have reset it to 30 s


# -- export and import --------------------------------------------------------------


def test_export_import_round_trip_is_exact(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    fill(repo)
    repo.client.zadd("shop:ranking", {'"inf"': math.inf})  # keyspace refuses it; Redis not
    before = snapshot(repo.client)
    path = tmp_path / "shop.jsonl"

    code, _, err = run(capsys, "export", SHOP, str(path), "--url", backend.url)
    assert code == 0
    assert err.strip() == f"exported 18 keys to {path}"
    assert not (tmp_path / "shop.jsonl.partial").exists()
    records = {record["key"]: record for record in lines(path)}
    assert list(records) == sorted(records)
    assert records["shop:name"] == {
        "key": "shop:name",
        "type": "string",
        "ttl_ms": None,
        "value": "Corner shop ✓",
    }
    assert records["shop:product:1:info"]["value"] == {"name": "thing 1", "price": 9.99}
    assert 590_000 < records["shop:product:1:info"]["ttl_ms"] <= 600_000
    assert records["shop:product:1:stock"]["value"] == {"count": 5, "warehouse": "north"}
    assert records["shop:product:1:history"]["value"] == [3, 1, 2, 1]
    assert records["shop:product:1:tags"]["value"] == ["new", "sale"]
    assert records["shop:ranking"]["value"] == [
        ["bob", -1.25],
        ["ann", 3.5],
        ["cy", 1e300],
        ["inf", "inf"],
    ]
    assert records["shop:product:1:views"]["value"] == 7
    # NaN is stored as the constant NaN, which JSON lacks: the line keeps the stored text.
    assert records["shop:product:2:weight"]["value"] == "NaN"
    assert records["shop:product:2:weight"]["encoding"] == "text"

    repo.client.flushdb()
    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert code == 0
    assert err.strip() == "imported 18 keys"
    after = snapshot(repo.client)
    assert sorted(after) == sorted(before)
    for name, (kind, content, ttl) in before.items():
        assert after[name][:2] == (kind, content), name
        if ttl < 0:
            assert after[name][2] == ttl, name
        else:  # the time left at export, counted again from the import
            assert records[name]["ttl_ms"] - 5000 < after[name][2] <= records[name]["ttl_ms"]
    assert repo.product(2).stock.get() == Stock(count=5, warehouse="north")
    assert math.isnan(repo.product(2).weight.get())


def test_export_to_stdout_skips_foreign_and_wrong_kind_keys(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    repo.name.set("shop")
    repo.client.set("shop:ranking", "not a sorted set")
    repo.client.set("shop:other", "1")
    code, out, err = run(capsys, "export", SHOP, "--url", backend.url)
    assert code == 0
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["shop:name"]
    assert err.strip() == (
        "exported 1 keys to stdout (skipped 1 foreign and 1 of the wrong kind: see keyspace audit)"
    )


def test_stored_strings_that_are_not_json_round_trip_as_text_or_base64(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    client = repo.client
    client.set("shop:name", '{"spaced": 1 }')  # JSON, but not as pydantic writes it
    client.rpush("shop:product:1:history", b"\xff\x00", b"1")
    client.hset("shop:product:1:stock", mapping={b"\xfe": b"1", b"count": b"2"})
    client.sadd("shop:product:1:tags", '"\\u00e9"')
    client.set("shop:product:1:review:1:text", "")  # not even JSON
    before = snapshot(client)
    path = tmp_path / "raw.jsonl"
    assert run(capsys, "export", SHOP, str(path), "--url", backend.url)[0] == 0
    records = {record["key"]: record for record in lines(path)}
    assert records["shop:name"]["encoding"] == "text"
    assert records["shop:name"]["value"] == '{"spaced": 1 }'
    assert records["shop:product:1:history"]["encoding"] == "base64"
    assert records["shop:product:1:history"]["value"] == ["/wA=", "MQ=="]
    assert records["shop:product:1:stock"]["encoding"] == "base64"
    assert records["shop:product:1:review:1:text"]["value"] == ""
    assert records["shop:product:1:tags"] == {
        "key": "shop:product:1:tags",
        "type": "set",
        "ttl_ms": None,
        "value": ['"\\u00e9"'],
        "encoding": "text",
    }

    client.flushdb()
    # The list holds members that are no int: the declared type refuses them ...
    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert code == 1
    assert "nothing was imported" in err
    assert "shop:product:1:history" in err
    assert snapshot(client) == {}
    # ... unless the import is told not to validate.
    code, _, _ = run(capsys, "import", SHOP, str(path), "--url", backend.url, "--no-validate")
    assert code == 0
    assert snapshot(client) == before


def test_import_refuses_existing_keys_unless_replace(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    fill(repo)
    path = tmp_path / "shop.jsonl"
    assert run(capsys, "export", SHOP, str(path), "--url", backend.url)[0] == 0
    repo.product(1).history.push(99)
    repo.name.set("renamed")
    repo.client.delete("shop:ranking")

    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert code == 1
    assert err.startswith(
        "keyspace import: error: 17 of 18 keys already exist, so nothing was imported"
        " (pass --replace to overwrite them): shop:name, shop:product:1:history"
    )
    assert repo.client.exists("shop:ranking") == 0

    code, _, _ = run(capsys, "import", SHOP, str(path), "--url", backend.url, "--replace")
    assert code == 0
    assert repo.product(1).history.get() == [3, 1, 2, 1]  # replaced, not appended to
    assert repo.name.get() == "Corner shop ✓"
    assert repo.ranking.get() == {"bob": -1.25, "ann": 3.5, "cy": 1e300}


def test_import_reports_every_bad_line_and_writes_nothing(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bad = [
        '{"key": "shop:name", "type": "string", "value": "fine"}',
        "not json",
        '{"key": "shop:nowhere", "type": "string", "value": 1}',
        '{"key": "shop:ranking", "type": "set", "value": ["a"]}',
        '{"key": "shop:product:1:views", "type": "string", "value": "many"}',
        '{"key": "shop:name", "type": "string", "value": "again"}',
        '{"key": "shop:product:1:tags", "type": "set", "value": []}',
        '{"key": "shop:product:2:tags", "type": "set", "value": [1], "encoding": "text"}',
        '{"key": "shop:product:3:tags", "type": "set", "value": ["*"], "encoding": "base64"}',
        '{"key": "shop:ranking2", "type": "zset", "value": [["a", "high"]]}',
        "",
        '{"key": "shop:product:4:stock", "type": "hash", "value": ["count", 1]}',
        '{"key": "shop:product:5:views", "type": "string", "value": 1, "ttl_ms": 0}',
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert code == 1
    problems = err.splitlines()
    assert problems[0] == "keyspace import: error: nothing was imported:"
    assert problems[1].startswith("  line 2: not an exported key: Invalid JSON")
    assert problems[2] == (
        "  line 3: key 'shop:nowhere' matches no declared key of Shop under 'shop'"
    )
    assert problems[3] == (
        "  line 4: key 'shop:ranking' is a set, but 'shop:ranking' declares"
        " SortedSetKey[str] (a Redis zset)"
    )
    assert problems[4].startswith(
        "  line 5: stored value of key 'shop:product:1:views' is not a valid int"
    )
    assert problems[5] == "  line 6: key 'shop:name' repeats line 1"
    assert (
        problems[6] == "  line 7: key 'shop:product:1:tags': a set is a non-empty list of members"
    )
    assert problems[7] == "  line 8: with encoding 'text', every stored string is a JSON string"
    assert problems[8].startswith("  line 9: invalid base64")
    assert problems[9].startswith("  line 10: key 'shop:ranking2' matches no declared key")
    assert problems[11:] == ["  ... and 1 more"]
    assert repo.client.dbsize() == 0


def test_import_checks_sorted_set_and_hash_shapes(
    backend: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = [
        '{"key": "shop:ranking", "type": "zset", "value": [["a", "high"]]}',
        '{"key": "shop:product:1:stock", "type": "hash", "value": ["count", 1]}',
        '{"key": "shop:product:2:stock", "type": "hash", "value": {"count": "x"}}',
        '{"key": "shop:product:3:info", "type": "string", "value": 1, "ttl_ms": 0}',
        '{"key": "shop:product:4:history", "type": "list", "value": {"a": 1}}',
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad), encoding="utf-8")
    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert code == 1
    problems = err.splitlines()[1:]
    assert (
        problems[0]
        == "  line 1: key 'shop:ranking': a score is a number, 'inf' or '-inf'; got 'high'"
    )
    assert (
        problems[1]
        == "  line 2: key 'shop:product:1:stock': a hash is a non-empty object of fields"
    )
    assert problems[2].startswith("  line 3: stored value of key 'shop:product:2:stock'")
    assert problems[3].startswith("  line 4: not an exported key: ttl_ms: Input should be greater")
    assert problems[4] == (
        "  line 5: key 'shop:product:4:history': a list is a non-empty list of members"
    )
    for value, problem in [
        ('[["a"]]', "each sorted-set entry is a [member, score] pair"),
        ("{}", "a sorted set is a non-empty list of [member, score]"),
    ]:
        path.write_text(f'{{"key": "shop:ranking", "type": "zset", "value": {value}}}')
        code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
        assert code == 1
        assert err.splitlines()[1] == f"  line 1: key 'shop:ranking': {problem}"


def test_import_from_stdin(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = '{"key": "shop:ranking", "type": "zset", "ttl_ms": 60000, "value": [["a", "-inf"]]}'
    monkeypatch.setattr(sys, "stdin", io.StringIO(line + "\n"))
    code, _, err = run(capsys, "import", SHOP, "--url", backend.url)
    assert (code, err.strip()) == (0, "imported 1 keys")
    assert repo.ranking.get() == {"a": -math.inf}
    assert 55_000 < repo.client.pttl("shop:ranking") <= 60_000


def test_unreadable_files(backend: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "import", SHOP, str(tmp_path / "missing.jsonl"), "--url", backend.url
    )
    assert code == 2
    missing = tmp_path / "missing.jsonl"
    assert err == f"keyspace import: error: cannot read {missing}: No such file or directory\n"
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\n")
    code, _, err = run(capsys, "import", SHOP, str(binary), "--url", backend.url)
    assert code == 2
    assert "not UTF-8 text" in err
    code, _, err = run(
        capsys, "export", SHOP, str(tmp_path / "no" / "dir.jsonl"), "--url", backend.url
    )
    assert code == 2
    assert "cannot write" in err


# -- progress bars ------------------------------------------------------------------


def test_progress_bars_show_on_a_terminal(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("rich.progress")  # the cli extra
    fill(repo)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["audit", SHOP, "--url", backend.url]) == 0
    assert "Scanning keys" in terminal.getvalue()
    assert "Checking values" in terminal.getvalue()
    capsys.readouterr()


def test_no_progress_bars_when_asked_or_without_rich(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(repo)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["scan", SHOP, "--url", backend.url, "--no-progress"]) == 0
    assert terminal.getvalue() == ""

    monkeypatch.setitem(sys.modules, "rich.progress", None)  # rich not installed
    assert main(["scan", SHOP, "--url", backend.url]) == 0
    assert terminal.getvalue() == ""
    capsys.readouterr()


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("Shop", "expected MODULE:ATTR, such as myapp.keys:Root; got 'Shop'"),
        ("no_such_module_xyz:Root", "cannot import 'no_such_module_xyz': No module named"),
        (f"{cli_models.__name__}:Nope", f"{SHOP[:-4]}Nope: {cli_models.__name__!r} has no"),
        (f"{cli_models.__name__}:NOT_A_CLUSTER", "is int 42, not a Cluster subclass"),
        (f"{cli_models.__name__}:Item", "is the class Item, not a Cluster subclass"),
    ],
)
def test_bad_targets_exit_2(target: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tree", target)
    assert code == 2
    assert out == ""
    assert err.startswith("keyspace tree: error: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_a_dotted_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "tree", f"{cli_models.__name__}:Catalog.shop") == run(capsys, "tree", SHOP)


def test_a_module_that_fails_to_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_keys_mod.py").write_text(
        "from keyspace import Cluster, Key\nclass Root(Cluster, prefix='r'):\n    age: Key = 0\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    code, _, err = run(capsys, "tree", "broken_keys_mod:Root")
    assert code == 2
    assert (
        "importing 'broken_keys_mod' failed: DeclarationError: Root.age: a key needs a type" in err
    )
    monkeypatch.delitem(sys.modules, "broken_keys_mod", raising=False)


def test_a_root_with_parameters_is_refused(
    backend: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "scan", f"{cli_models.__name__}:Tenant", "--url", backend.url)
    assert code == 2
    assert "root cluster Tenant (template 'tenant:{tenant_id}') has parameters (tenant_id)" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("command", "scheme"),
    [
        ("scan", "redis"),
        ("audit", "redis"),
        ("export", "redis"),
        ("import", "redis"),
        ("demo", "redis"),
        ("scan", "redis+cluster"),
        ("demo", "redis+cluster"),
    ],
)
def test_an_unreachable_server_is_one_line_and_exit_2(
    command: str, scheme: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{scheme}://:secret@127.0.0.1:{_free_port()}"
    argv = [command, "--url", url] if command == "demo" else [command, SHOP, "--url", url]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith(
        f"keyspace {command}: error: cannot connect to Redis at {scheme}://:***@127.0.0.1:"
    )
    assert "secret" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.redis_server
def test_bad_credentials_are_reported(
    redis_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://nobody:wrong@{redis_server.host}:{redis_server.port}/0"
    code, _, err = run(capsys, "audit", SHOP, "--url", url)
    assert code == 2
    assert err.startswith(
        f"keyspace audit: error: authentication failed at redis://nobody:***@{redis_server.host}"
    )
    assert "check the user name and password" in err


def test_invalid_settings_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scan", SHOP, "--url", "http://example.com")
    assert code == 2
    assert err.startswith("keyspace scan: error: invalid Redis settings:")
    assert run(capsys, "scan")[0] == 2  # argparse: the target is missing
    assert run(capsys, "--help")[0] == 0


def test_unreachable_server_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(port))
    code, _, err = run(capsys, "scan", SHOP)
    assert code == 2
    assert err.startswith(f"keyspace scan: error: cannot connect to Redis at 127.0.0.1:{port}: ")


@pytest.fixture
def limited_user(redis_server: Any) -> Iterator[Any]:
    """``limited_user(command)``: the URL of a user the server's ACL denies ``command``."""
    admin = redis.Redis(host=redis_server.host, port=redis_server.port)
    users: list[str] = []

    def make(denied: str) -> str:
        name = f"cli-test-{len(users)}"
        admin.acl_setuser(
            name, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", f"-{denied}"]
        )
        users.append(name)
        return f"redis://{name}:pw@{redis_server.host}:{redis_server.port}/0"

    try:
        yield make
    finally:
        for name in users:
            admin.acl_deluser(name)
        admin.close()


@pytest.mark.redis_server
@pytest.mark.parametrize(
    ("command", "denied"),
    [
        ("scan", "scan"),
        ("scan", "pttl"),
        ("audit", "type"),
        ("audit", "get"),
        ("export", "pttl"),
        ("export", "get"),
        ("import", "set"),
    ],
)
def test_commands_the_server_refuses_are_one_line_errors(
    command: str,
    denied: str,
    limited_user: Any,
    redis_server: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    with SyncRepository(Shop, settings=RedisSettings(url=redis_server.url)) as repo:
        repo.client.flushall()
        repo.name.set("shop")
    path = tmp_path / "one.jsonl"
    path.write_text('{"key": "shop:product:1:info", "type": "string", "value": {"name": "x"}}')
    url = limited_user(denied)
    source = [str(path)] if command == "import" else []
    code, _, err = run(capsys, command, SHOP, *source, "--url", url)
    assert code == 2
    assert err.startswith(f"keyspace {command}: error: Redis error at redis://cli-test-0:***@")
    assert "NoPermissionError" in err
    assert denied in err.lower()
    assert len(err.splitlines()) == 1


@pytest.mark.redis_server
def test_scan_without_memory_usage_permission_leaves_memory_unknown(
    limited_user: Any, redis_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with SyncRepository(Shop, settings=RedisSettings(url=redis_server.url)) as repo:
        repo.client.flushall()
        repo.name.set("shop")
    code, out, _ = run(capsys, "scan", SHOP, "--url", limited_user("memory"), "--json")
    assert code == 0
    entry = json.loads(out)["templates"][0]
    assert (entry["template"], entry["keys"], entry["memory"]) == ("shop:name", 1, None)


def test_keys_deleted_during_a_command_are_skipped(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo.name.set("shop")
    subkeys = SyncRepository.subkeys

    def scan_with_a_ghost(self: SyncRepository[Any]) -> Iterator[str]:
        yield from subkeys(self)
        yield "shop:product:9:info"  # found by SCAN, deleted before it is read

    monkeypatch.setattr(SyncRepository, "subkeys", scan_with_a_ghost)
    code, out, _ = run(capsys, "scan", SHOP, "--url", backend.url, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["keys"] == 1
    code, out, _ = run(capsys, "audit", SHOP, "--url", backend.url)
    assert (code, out.strip()) == (0, "shop: checked 1 declared keys; all valid, no foreign keys")
    code, out, err = run(capsys, "export", SHOP, "--url", backend.url)
    assert code == 0
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["shop:name"]
    assert err.strip() == "exported 1 keys to stdout"


def test_many_keys_and_long_collections(
    backend: Any,
    repo: SyncRepository[Shop],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    with repo.pipeline() as pipe:
        for product_id in range(1200):
            pipe.product(product_id).views.set(product_id)
    repo.product(0).history.set(list(range(2500)))
    repo.ranking.set({f"m{i}": i / 7 for i in range(2100)})
    repo.product(0).tags.set({f"t{i}" for i in range(1500)})
    before = snapshot(repo.client)
    path = tmp_path / "big.jsonl"
    assert run(capsys, "export", SHOP, str(path), "--url", backend.url)[0] == 0
    repo.client.flushdb()
    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert (code, err.strip()) == (0, "imported 1203 keys")
    after = snapshot(repo.client)
    assert {name: state[:2] for name, state in after.items()} == {
        name: state[:2] for name, state in before.items()
    }
    code, out, _ = run(capsys, "scan", SHOP, "--url", backend.url, "--json")
    views = json.loads(out)["templates"]
    assert next(t for t in views if t["template"].endswith(":views"))["keys"] == 1200


def test_importing_an_empty_file(
    backend: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    code, _, err = run(capsys, "import", SHOP, str(path), "--url", backend.url)
    assert (code, err.strip()) == (0, "imported 0 keys")


def test_typed_parameters_must_be_canonical(
    backend: Any, repo: SyncRepository[Shop], capsys: pytest.CaptureFixture[str]
) -> None:
    repo.product(1).info.set(Item(name="one"))
    repo.client.set("shop:product:01:info", '{"name": "zero one"}')  # int 1 renders as "1"
    code, out, _ = run(capsys, "audit", SHOP, "--url", backend.url, "--limit", "0")
    assert code == 1
    assert out.endswith("Foreign keys (1):\n  shop:product:01:info\n")


def test_text_formats_of_durations_and_sizes() -> None:
    assert [_duration(ms) for ms in (850, 4500, 125_000, 12_000_000, 190_000_000)] == [
        "850ms",
        "4.5s",
        "2m05s",
        "3h20m",
        "2d04h",
    ]
    assert [_size(n) for n in (512, 2048, 3 * 2**20, 5 * 2**40)] == [
        "512 B",
        "2.0 KiB",
        "3.0 MiB",
        "5120.0 GiB",
    ]
    assert _ttl_range(0, {"min": None, "max": None, "no_expiry": 0}) == "-"
    assert _ttl_range(2, {"min": None, "max": None, "no_expiry": 2}) == "no expiry"
    assert _ttl_range(1, {"min": 4500, "max": 4500, "no_expiry": 0}) == "4.5s"
    assert _ttl_range(3, {"min": 850, "max": 4500, "no_expiry": 1}) == "850ms..4.5s (1 no expiry)"


def test_replies_of_either_shape_export_alike() -> None:
    as_dict = _record("k", "hash", -1, {b"a": b"1", b"b": b'"x"'})
    assert as_dict == {"key": "k", "type": "hash", "ttl_ms": None, "value": {"a": 1, "b": "x"}}
    assert _record("k", "hash", -1, [b"a", b"1", b"b", b'"x"']) == as_dict
    flat = _record("z", "zset", 5, [b'"m"', b"1.5"])
    assert flat == {"key": "z", "type": "zset", "ttl_ms": 5, "value": [["m", 1.5]]}
    assert _record("z", "zset", 5, [[b'"m"', 1.5]]) == flat  # RESP3 pairs
    assert _record("z", "zset", -2, [[b'"m"', 1.5]]) is None  # gone
    assert _record("s", "string", 0, b"1") == {
        "key": "s",
        "type": "string",
        "ttl_ms": 1,
        "value": 1,
    }


def test_an_interrupted_command_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(root: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("keyspace.cli.tree_data", interrupt)
    assert run(capsys, "tree", SHOP) == (130, "", "keyspace tree: interrupted\n")
