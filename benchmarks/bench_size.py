"""Stored size per key: keyspace's plain JSON vs redisimnest's envelope and redis-dict's strings.

Run ``python benchmarks/bench_size.py --help``; ``benchmarks/README.md`` explains the method.

The same values (``--keys`` of each kind: an ``int``, a ``str``, a ``list[str]`` and a pydantic
model) are written three times, under key names of equal length, without expiry:

- keyspace: through a repository, ``Key[int]`` and friends: the plain JSON pydantic writes;
- redisimnest: ``keyspace.compat.redisimnest.serialize(value)``, the ``{"__type__": ...,
  "value": ...}`` envelope redisimnest stores (a model as the dict of its fields,
  ``model_dump()``, since redisimnest stores no models);
- redis-dict: ``"<type name>:<payload>"`` built by hand as redis-dict writes it: ``int:42``,
  ``str:hello``, ``list:`` + ``json.dumps``, and a model as ``dict:`` + ``json.dumps`` of its
  fields, with redis-dict's ``{"__type__": ..., "value": ...}`` for the nested datetime.

Each stored value is read back and decoded as its library would (a wrong format fails the run);
then STRLEN (the value's bytes) and MEMORY USAGE (what Redis spends on the key, name and
overhead included) are averaged per key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from _harness import (
    add_common_arguments,
    bench_settings,
    clients,
    delete_matching,
    format_table,
    is_memory,
    pin,
    positive,
    public_url,
    refuse_foreign_keys,
    report,
    run_parameters,
    server_version,
    target,
    write_report,
)
from pydantic import BaseModel

from keyspace import Cluster, Key, Repository
from keyspace.compat.redisimnest import deserialize, serialize

DEFAULT_KEYS = 1000
SMOKE_KEYS = 5
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "size.json"
PREFIX = "ksbench:size"
FORMATS = ("keyspace", "redisimnest", "redis-dict")
# Two-letter tags keep the key names of the three formats the same length.
TAGS = {"keyspace": "ks", "redisimnest": "ri", "redis-dict": "rd"}
WORDS = ("admin", "beta", "eu-west", "mobile", "trial", "staff", "vip", "ops", "qa", "paid")


class Account(BaseModel):
    """The model stored in one key."""

    name: str
    email: str
    age: int
    joined: datetime
    tags: list[str]


class Sample(Cluster, prefix="ks:{i}"):
    """keyspace's side: one key of each kind per sample, no expiry."""

    number: Key[int] = Key(default=0)
    text: Key[str] = Key(default="")
    tags: Key[list[str]] = Key(default=[])
    account: Key[Account | None] = Key(default=None)


class Root(Cluster, prefix=PREFIX):
    """The benchmarked keyspace root."""

    ks: Sample


KINDS = {"number": "Key[int]", "text": "Key[str]", "tags": "Key[list[str]]", "account": "model"}


def samples(count: int) -> list[dict[str, Any]]:
    """``count`` deterministic, varied values of each kind."""
    rng = random.Random(42)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    out = []
    for i in range(count):
        name = f"{rng.choice(('Ann', 'Bob', 'Chloe', 'Dmitri', 'Eve'))} {i}"
        out.append(
            {
                "number": rng.randrange(1_000_000),
                "text": f"{name.lower().replace(' ', '.')}@example.com",
                "tags": rng.sample(WORDS, rng.randint(1, 5)),
                "account": Account(
                    name=name,
                    email=f"user{i}@example.com",
                    age=rng.randint(18, 90),
                    joined=start + timedelta(seconds=rng.randrange(10**8)),
                    tags=rng.sample(WORDS, 3),
                ),
            }
        )
    return out


def name(fmt: str, i: int, kind: str) -> str:
    """The Redis name of sample ``i``'s ``kind`` in format ``fmt`` (keyspace's own rendering)."""
    return f"{PREFIX}:{TAGS[fmt]}:{i}:{kind}"


# -- the peers' formats -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def redisimnest_bytes(value: Any) -> bytes:
    """What redisimnest stores for ``value`` (a model as the dict of its fields)."""
    data = serialize(_plain(value))
    assert isinstance(data, bytes)
    return data


def _redis_dict_nested(value: object) -> object:
    # redis-dict's JSON encoder: non-JSON values nested in a dict or list become envelopes.
    if isinstance(value, datetime):
        return {"__type__": "datetime", "value": value.isoformat()}
    raise TypeError(f"redis-dict cannot store {type(value).__name__}")


def redis_dict_bytes(value: Any) -> bytes:
    """What redis-dict stores for ``value``: ``"<type name>:<payload>"``."""
    plain = _plain(value)
    kind = type(plain).__name__
    if isinstance(plain, (list, dict)):
        payload = json.dumps(plain, default=_redis_dict_nested)
    else:
        payload = str(plain)
    return f"{kind}:{payload}".encode()


def _redis_dict_hook(data: dict[str, Any]) -> Any:
    if data.keys() == {"__type__", "value"} and data["__type__"] == "datetime":
        return datetime.fromisoformat(data["value"])
    return data


def redis_dict_value(data: bytes | str) -> Any:
    """Decode a redis-dict string, as redis-dict does, for the round-trip check."""
    text = data.decode() if isinstance(data, bytes) else data
    kind, _, payload = text.partition(":")
    decoders: dict[str, Callable[[str], Any]] = {
        "int": int,
        "str": str,
        "list": json.loads,
        "dict": lambda text: json.loads(text, object_hook=_redis_dict_hook),
    }
    return decoders[kind](payload)


# -- a run --------------------------------------------------------------------------------


@dataclass
class SizeRow:
    """One kind of value in one format: bytes per key."""

    kind: str
    format: str
    example: str
    value_bytes: float
    memory_bytes: float | None
    """Mean MEMORY USAGE per key; ``None`` where the server has no MEMORY command."""
    value_vs_keyspace: float
    memory_vs_keyspace: float | None


@dataclass
class RunResult:
    """The sizes and the server they were measured on."""

    server_version: str
    rows: list[SizeRow]


async def write(
    repo: Repository[Root], client: redis.asyncio.Redis, values: list[dict[str, Any]]
) -> None:
    """Write every sample in the three formats."""
    async with repo.pipeline() as p:
        for i, sample in enumerate(values):
            bound = p.ks(i)
            for kind, value in sample.items():
                getattr(bound, kind).set(value)
    async with client.pipeline(transaction=False) as pipe:
        for i, sample in enumerate(values):
            for kind, value in sample.items():
                pipe.set(name("redisimnest", i, kind), redisimnest_bytes(value))
                pipe.set(name("redis-dict", i, kind), redis_dict_bytes(value))
        await pipe.execute()


async def check(
    repo: Repository[Root], client: redis.asyncio.Redis, values: list[dict[str, Any]]
) -> None:
    """Every format reads back as the value written, decoded the way its library decodes it."""
    for i, sample in enumerate(values):
        snapshot = await repo.ks(i).load()
        for kind, value in sample.items():
            assert getattr(snapshot, kind) == value, (kind, value)
            plain = _plain(value)
            stored = await client.get(name("redisimnest", i, kind))
            assert stored is not None
            assert deserialize(stored) == plain, (kind, stored)
            stored = await client.get(name("redis-dict", i, kind))
            assert stored is not None
            assert redis_dict_value(stored) == plain, (kind, stored)


async def measure_sizes(
    client: redis.asyncio.Redis, count: int
) -> dict[tuple[str, str], tuple[str, float, float | None]]:
    """(kind, format) -> (example stored value, mean STRLEN, mean MEMORY USAGE or None)."""
    sizes = {}
    for kind in KINDS:
        for fmt in FORMATS:
            names = [name(fmt, i, kind) for i in range(count)]
            async with client.pipeline(transaction=False) as pipe:
                for key in names:
                    pipe.strlen(key)
                lengths = await pipe.execute()
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for key in names:
                        pipe.memory_usage(key, samples=0)
                    usage: list[Any] = await pipe.execute()
                memory: float | None = statistics.mean(usage)
            except redis.ResponseError:  # fakeredis has no MEMORY command
                memory = None
            example = await client.get(names[0])
            assert isinstance(example, bytes)
            sizes[kind, fmt] = (example.decode(), statistics.mean(lengths), memory)
    return sizes


def rows_of(sizes: dict[tuple[str, str], tuple[str, float, float | None]]) -> list[SizeRow]:
    """Rows with each format's size relative to keyspace's."""
    rows = []
    for (kind, fmt), (example, value_bytes, memory) in sizes.items():
        _, ks_value, ks_memory = sizes[kind, "keyspace"]
        rows.append(
            SizeRow(
                KINDS[kind],
                fmt,
                example,
                value_bytes,
                memory,
                value_bytes / ks_value,
                None if memory is None or ks_memory is None else memory / ks_memory,
            )
        )
    return rows


async def run(url: str, keys: int) -> RunResult:
    """Write, check and measure every format against ``url``; clients closed on the way out."""
    settings = bench_settings(url)
    values = samples(keys)
    async with clients(settings, "bench_size") as (client, _):
        await refuse_foreign_keys(client, f"{PREFIX}:*")
        repo = Repository(Root, client, settings=settings)
        version = await server_version(client, url)
        try:
            await write(repo, client, values)
            await check(repo, client, values)
            sizes = await measure_sizes(client, keys)
        finally:
            await delete_matching(client, f"{PREFIX}:*")
        return RunResult(version, rows_of(sizes))


# -- reporting and command line -----------------------------------------------------------


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def table(rows: Sequence[SizeRow]) -> str:
    """Bytes per key, each format next to keyspace's."""
    cells = [("type", "format", "STRLEN B", "x ks", "MEMORY USAGE B", "x ks", "example (key 0)")]
    for row in rows:
        cells.append(
            (
                row.kind,
                row.format,
                f"{row.value_bytes:.1f}",
                f"{row.value_vs_keyspace:.2f}",
                "n/a" if row.memory_bytes is None else f"{row.memory_bytes:.1f}",
                "n/a" if row.memory_vs_keyspace is None else f"{row.memory_vs_keyspace:.2f}",
                _shorten(row.example),
            )
        )
    return format_table(cells, left=(0, 1, 6))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Bytes per key: keyspace vs redisimnest's and redis-dict's formats."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--keys", type=positive, default=DEFAULT_KEYS, help="samples per kind")
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_KEYS} samples to check the harness"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.keys = SMOKE_KEYS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table and write the JSON report."""
    args = parse_args(argv)
    cpus = pin(args.cpu)
    with target(args.url) as (url, kind):
        print(
            f"stored size: {args.keys:,} samples per kind; {kind} at {public_url(url)}", flush=True
        )
        run_result = asyncio.run(run(url, args.keys))
    parameters = {"keys": args.keys, **run_parameters(args, cpus, kind, url)}
    print(f"server: {run_result.server_version}")
    print(
        f"key names {name('keyspace', 0, '<type>').replace(':0:', ':{i}:')} (ri, rd for the"
        " peers: the same length); no expiry; MEMORY USAGE includes name and overhead"
    )
    if is_memory(url):
        print("note: memory:// has no MEMORY USAGE; only STRLEN is measured")
    print(table(run_result.rows))
    document = report(
        "size",
        run_result.server_version,
        parameters,
        rows=run_result.rows,
    )
    write_report(args.json, document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
