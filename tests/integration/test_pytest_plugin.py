"""The pytest plugin for keyspace users, run on small test files with ``pytester``.

Each case writes a test file that uses the fixtures, runs pytest on it in this process (so
that coverage sees the plugin), and checks the outcome; the cases with a real server also
check that nothing was left behind on it.
"""

from __future__ import annotations

import re
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from keyspace._settings import _memory_servers

if TYPE_CHECKING:
    from conftest import RedisServer

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

MODELS = """
import pytest

from keyspace import Cluster, Counter, Key, OptionsError


class User(Cluster, prefix="user:{user_id}"):
    name: Key[str] = "nobody"
    visits: Counter


class Root(Cluster, prefix="root"):
    user: User
    title: Key[str] = "untitled"
"""


def _plugin_args() -> list[str]:
    """Load the plugin as users get it: by its entry point once installed, else by name."""
    if entry_points(group="pytest11", name="keyspace"):
        return []
    return ["-p", "keyspace.pytest_plugin"]


INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def _run(
    pytester: pytest.Pytester, body: str, *args: str, mode: str = "strict", ini: str = ""
) -> pytest.RunResult:
    pytester.makeini(INI.format(mode=mode) + ini)
    pytester.makepyfile(test_users=MODELS + textwrap.dedent(body))
    return pytester.runpytest_inprocess(*_plugin_args(), "-p", "no:cacheprovider", *args)


@pytest.fixture
def real_server(redis_server: RedisServer) -> RedisServer:
    """The private server, emptied: the cases then check that the plugin left nothing."""
    with redis.Redis(host=redis_server.host, port=redis_server.port) as client:
        client.flushall()
    return redis_server


def _server_keys(server: RedisServer) -> list[bytes]:
    with redis.Redis(host=server.host, port=server.port) as client:
        return list(client.keys("*"))


ISOLATION = """
@pytest.mark.asyncio
async def test_async_writes(keyspace_repository_factory, keyspace_prefix):
    repo = keyspace_repository_factory(Root)
    assert repo.user(1).name.key == f"{keyspace_prefix}:root:user:1:name"
    assert await repo.title.get() == "untitled"  # nothing from the other tests
    await repo.title.set("async")
    await repo.user(1).visits.incr()
    await repo.client.set(f"{keyspace_prefix}:root:stray", "not declared")


def test_sync_writes(keyspace_sync_repository_factory):
    repo = keyspace_sync_repository_factory(Root)
    assert repo.title.get() == "untitled"
    repo.title.set("sync")
    repo.user(2).name.set("Ann")


@pytest.mark.asyncio
async def test_one_test_one_namespace(
    keyspace_repository_factory, keyspace_sync_repository_factory
):
    # Repositories of one test, of either flavour, share the server and the prefix.
    await keyspace_repository_factory(Root).user(3).name.set("Bo")
    assert keyspace_sync_repository_factory(Root).user(3).name.get() == "Bo"
    assert await keyspace_repository_factory(Root).user(3).name.get() == "Bo"
"""


def test_tests_are_isolated_in_memory(pytester: pytest.Pytester) -> None:
    before = set(_memory_servers)
    result = _run(pytester, ISOLATION)
    result.assert_outcomes(passed=3)
    assert set(_memory_servers) <= before  # each test's in-memory server was forgotten


def test_tests_are_isolated_and_cleared_on_a_real_server(
    pytester: pytest.Pytester, real_server: RedisServer
) -> None:
    body = (
        ISOLATION
        + f"""

def test_on_the_real_server(keyspace_settings, keyspace_sync_repository_factory):
    assert keyspace_settings.url == {real_server.url!r}  # the command line beats the ini
    with keyspace_sync_repository_factory(Root).client as client:
        assert client.connection_pool.connection_kwargs["port"] == {real_server.port}


async def test_unmarked_in_auto_mode(keyspace_repository_factory):
    repo = keyspace_repository_factory(Root)
    assert await repo.user(1).visits.incr(5) == 5


class TestSmallChunks:
    @pytest.fixture
    def keyspace_settings(self, keyspace_settings):  # deletes 2 keys per UNLINK afterwards
        return keyspace_settings.model_copy(update={{"delete_chunk_size": 2}})

    async def test_many_keys(self, keyspace_repository_factory, keyspace_sync_repository_factory):
        for user_id in range(5):
            await keyspace_repository_factory(Root).user(user_id).name.set("x")
        assert len(list(keyspace_sync_repository_factory(Root).subkeys())) == 5
"""
    )
    ini = "keyspace_url = memory://from-the-ini\n"
    result = _run(pytester, body, f"--keyspace-url={real_server.url}", mode="auto", ini=ini)
    result.assert_outcomes(passed=6)
    assert _server_keys(real_server) == []  # stray keys under the prefix included


def test_the_ini_option_and_the_prefix(pytester: pytest.Pytester) -> None:
    body = """
class Tenant(Cluster, prefix="tenant:{tenant_id}"):
    title: Key[str] = ""


class Bare(Cluster):
    title: Key[str] = ""


def test_writes(keyspace_settings, keyspace_sync_repository_factory):
    assert keyspace_settings.url == "memory://shared"
    keyspace_sync_repository_factory(Root).title.set("first")


def test_a_shared_server_isolates_by_prefix(keyspace_sync_repository_factory):
    assert keyspace_sync_repository_factory(Root).title.get() == "untitled"


def test_a_root_with_parameters_is_refused(keyspace_sync_repository_factory):
    with pytest.raises(OptionsError, match=r"root cluster Tenant .* has parameters"):
        keyspace_sync_repository_factory(Tenant)


def test_a_root_without_prefix(keyspace_sync_repository_factory, keyspace_prefix):
    repo = keyspace_sync_repository_factory(Bare)
    assert repo.title.key == f"{keyspace_prefix}:title"
"""
    result = _run(pytester, body, ini="keyspace_url = memory://shared\n")
    result.assert_outcomes(passed=4)


def test_an_invalid_url_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "", "--keyspace-url=http://example.com")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--keyspace-url / keyspace_url: invalid Redis settings:*", "*REDIS_URL: *scheme*"]
    )


def test_anyio_tests_without_pytest_asyncio(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    real_server: RedisServer,
    tmp_path: Path,
) -> None:
    pytest.importorskip("anyio")
    # Import the plugin afresh where pytest-asyncio is missing (a package that fails to
    # import shadows it): its async fixture is then a plain one, which anyio runs.
    missing = tmp_path / "missing" / "pytest_asyncio"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ImportError('not installed')\n")
    monkeypatch.syspath_prepend(missing.parent)
    monkeypatch.delitem(sys.modules, "pytest_asyncio")
    monkeypatch.delitem(sys.modules, "keyspace.pytest_plugin", raising=False)
    body = """
@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_with_anyio(keyspace_repository_factory):
    repo = keyspace_repository_factory(Root)
    await repo.title.set("anyio")
    assert await repo.title.get() == "anyio"
"""
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_anyio=MODELS + textwrap.dedent(body))
    result = pytester.runpytest_inprocess(
        *_plugin_args(),
        "-p",
        "no:asyncio",
        "-p",
        "no:cacheprovider",
        f"--keyspace-url={real_server.url}",
    )
    result.assert_outcomes(passed=1)
    assert _server_keys(real_server) == []


# The examples of docs/testing.md are files: ```python title="test_x.py" ... ```.
DOCUMENTED_FILE = re.compile(r'^```python title="(?P<name>[^"]+)"\n(?P<body>.*?)^```$', re.M | re.S)


def test_the_documented_examples(pytester: pytest.Pytester) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    files = {m["name"]: m["body"] for m in DOCUMENTED_FILE.finditer(text)}
    assert set(files) == {"test_accounts.py", "conftest.py", "shop.py", "test_shop.py"}
    for name, body in files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    pytester.makeini(INI.format(mode="strict"))
    result = pytester.runpytest_inprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_the_plugin_is_declared_as_an_entry_point() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    plugins = project["project"].get("entry-points", {}).get("pytest11", {})
    assert plugins.get("keyspace") == "keyspace.pytest_plugin"
    # Loaded by its entry point, the plugin would import keyspace before pytest-cov starts
    # measuring, so keyspace's own suite turns it off and loads it only where it tests it.
    assert "-p no:keyspace" in project["tool"]["pytest"]["ini_options"]["addopts"]
