"""Execute every Python code example of the documentation.

Collected files: ``README.md`` and every ``docs/**/*.md`` (one test per file, the test id is
the path relative to the repository root).

Rules for the examples:

* Fenced blocks whose info string starts with ``python`` (also ``py``/``python3``) are run;
  other languages (``bash``, ``pycon``, ``text`` ...) are ignored.
* All blocks of one file run in order in ONE shared namespace (a throw-away module registered
  in ``sys.modules``), so later blocks may use names defined by earlier ones.
* Blocks may use top-level ``await``.  All such blocks of a file run on the SAME event loop, so
  async clients created in one block keep working in the next.  Blocks without top-level
  ``await`` run outside that loop, so they may call ``asyncio.run(main())`` themselves.
* ``REDIS_URL`` is set to ``memory://docs-<file-name>`` (an embedded, isolated fakeredis) and the
  working directory is a fresh temporary directory.
* To exclude a block, put the line ``<!-- skip-test -->`` right before its opening fence
  (blank lines in between are allowed)::

      <!-- skip-test -->
      ```python
      this_block_is_not_run()
      ```

* Redis clients (and keyspace objects with ``aclose``/``close``) left in the namespace are closed
  after the last block.

A failure names the file, the block number, its line in the file and its first line; the
original traceback points into the markdown file itself.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import inspect
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARKER = "<!-- skip-test -->"
PYTHON_LANGUAGES = {"python", "py", "python3"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class CodeBlock:
    number: int  # 1-based among the runnable python blocks of the file
    line: int  # 1-based line of the first code line in the markdown file
    source: str

    @property
    def first_line(self) -> str:
        for text in self.source.splitlines():
            if text.strip():
                return text.strip()
        return "<empty block>"


def markdown_files() -> list[Path]:
    files = []
    if (ROOT / "README.md").is_file():
        files.append(ROOT / "README.md")
    docs = ROOT / "docs"
    if docs.is_dir():
        files.extend(sorted(p for p in docs.rglob("*.md") if p.is_file()))
    return files


def _dedent(text: str, indent: str) -> str:
    return text[len(indent) :] if text.startswith(indent) else text.lstrip(" \t")


def python_blocks(markdown: str) -> Iterator[CodeBlock]:
    """Yield the runnable python blocks of a markdown document."""
    lines = markdown.splitlines()
    number = 0
    previous = ""  # last non-blank line outside code blocks
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        words = info.split()
        language = words[0].lower().lstrip("{.").rstrip("}") if words else ""
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        start = i + 2  # 1-based line number of the first body line
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(_dedent(lines[i], indent))
            i += 1
        i += 1  # skip the closing fence
        skipped = previous == SKIP_MARKER
        previous = ""
        if language in PYTHON_LANGUAGES and not skipped:
            number += 1
            yield CodeBlock(number, start, "\n".join(body) + "\n")


class DocsExampleError(AssertionError):
    """A documentation example failed."""


def _compile(block: CodeBlock, path: Path, where: str) -> types.CodeType:
    # Pad with blank lines so that line numbers (and tracebacks) match the markdown file.
    source = "\n" * (block.line - 1) + block.source
    try:
        code: types.CodeType = compile(
            source, str(path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except SyntaxError as exc:
        raise DocsExampleError(f"{where}: syntax error: {exc}") from exc
    return code


def _close_leftovers(namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    """Close redis clients and keyspace objects the examples left in the namespace."""
    for value in list(namespace.values()):
        if isinstance(value, (type, types.ModuleType)) or callable(value):
            continue
        module = type(value).__module__.split(".")[0]
        if module not in {"redis", "fakeredis", "keyspace"}:
            continue
        aclose = getattr(value, "aclose", None)
        close = getattr(value, "close", None)
        if aclose is not None and inspect.iscoroutinefunction(aclose):
            loop.run_until_complete(aclose())
        elif close is not None and callable(close):
            result = close()
            if inspect.isawaitable(result):
                loop.run_until_complete(result)


def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


def run_markdown(path: Path, module_name: str) -> int:
    """Run all python blocks of ``path`` in one namespace; return how many ran."""
    relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    blocks = list(python_blocks(path.read_text(encoding="utf-8")))
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    namespace = module.__dict__
    sys.modules[module_name] = module
    loop = asyncio.new_event_loop()
    try:
        for block in blocks:
            where = f"{relative}, block {block.number} (line {block.line}): {block.first_line!r}"
            code = _compile(block, path, where)
            try:
                if code.co_flags & inspect.CO_COROUTINE:
                    loop.run_until_complete(eval(code, namespace))
                else:
                    exec(code, namespace)
            except Exception as exc:
                raise DocsExampleError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
        _close_leftovers(namespace, loop)
    finally:
        _shutdown(loop)
        sys.modules.pop(module_name, None)
    return len(blocks)


def _sanitize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


FILES = markdown_files()


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_docs_examples(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix().removesuffix(".md")
    name = _sanitize(relative.removeprefix("docs/"))
    monkeypatch.setenv("REDIS_URL", f"memory://docs-{name}")
    monkeypatch.chdir(tmp_path)
    run_markdown(path, f"docs_example_{name.replace('-', '_')}")
    gc.collect()  # surface "unclosed ..." ResourceWarnings of the examples in this test
