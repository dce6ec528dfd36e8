"""keyspace, raw redis-py and peer libraries, side by side: typed set, get and save+get.

Run ``python benchmarks/bench_peers.py --help``; ``benchmarks/README.md`` explains the method.
The peers come with the ``bench`` extra (``python -m pip install -e '.[bench]'``); the ones that
are not installed are left out, and the report says so.

Every library stores the same pydantic-typed data of user ``i``: a small ``Profile`` model and
an ``age`` int, the way its users write it. Each operation is measured for every library in the
same interleaved rounds, against raw redis-py of the same flavour (async or sync) doing the same
work by hand: ``SET``/``GET`` with the pydantic JSON of a ``TypeAdapter``. Round trips and
commands are counted on the client side, on whichever clients a library talks through. Two
line-ups without I/O show what binding ``user(i).age`` and ``user(i).prefs.theme`` costs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from _harness import (
    Lineup,
    LineupResult,
    Side,
    Timer,
    add_common_arguments,
    bench_settings,
    clients,
    delete_matching,
    dist_version,
    evaluate_lineups,
    lineup_table,
    positive,
    refuse_foreign_keys,
    report,
    run_on_target,
    server_version,
    timed_async,
    timed_sync,
    write_report,
)
from pydantic import BaseModel, TypeAdapter

from keyspace import Cluster, Key, Repository, SyncRepository

DEFAULT_ROUNDS = 15
DEFAULT_OPS = 2000
SMOKE_ROUNDS = 2
SMOKE_OPS = 20
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "peers.json"

PATTERN = "ksbench:*"
RAW = "raw redis-py"
PEERS = {"redisimnest": "redisimnest", "redis-dict": "redis_dict", "redis-om": "redis_om"}
"""The peer libraries by distribution name, with the module each is imported as."""

OPERATIONS = {  # line-up name -> the steps one operation takes
    "set profile": ("set profile",),
    "get profile": ("get profile",),
    "save+get profile": ("set profile", "get profile"),
    "save+get age": ("set age", "get age"),
}


class Profile(BaseModel):
    """The model every library stores for user ``i``."""

    name: str
    email: str
    age: int
    joined: datetime


def profile(i: int) -> Profile:
    """User ``i``'s profile."""
    joined = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=i)
    return Profile(name=f"Ann {i}", email=f"ann.{i}@example.com", age=20 + i % 60, joined=joined)


@dataclass(frozen=True)
class Data:
    """What user ``i`` has, for ``i`` below the operations per round."""

    profiles: list[Profile]
    ages: list[int]

    @classmethod
    def of(cls, ops: int) -> Data:
        """The data of users ``0..ops-1``."""
        profiles = [profile(i) for i in range(ops)]
        return cls(profiles, [p.age for p in profiles])


PROFILE: TypeAdapter[Profile] = TypeAdapter(Profile)
AGE: TypeAdapter[int] = TypeAdapter(int)
"""The raw side's codecs: the pydantic JSON keyspace stores."""


class Prefs(Cluster, prefix="prefs"):
    """A nested cluster, one hop deeper than the user's keys."""

    theme: Key[str] = Key(default="light")


class User(Cluster, prefix="user:{user_id}"):
    """keyspace's declaration: ``ksbench:ks:user:{user_id}:profile`` and ``...:age``."""

    age: Key[int] = Key(default=0)
    profile: Key[Profile]
    prefs: Prefs


class Root(Cluster, prefix="ksbench:ks"):
    """The root of keyspace's side."""

    user: User


# -- how each library does the operations ------------------------------------------------

Step = Callable[[int], Any]
"""One step for user ``i``: a coroutine function for the async flavour, a plain one for sync."""


@dataclass(frozen=True)
class Way:
    """How one library does the steps (the keys of ``steps`` and ``code`` are step names)."""

    name: str
    steps: dict[str, Step]
    code: dict[str, str]
    clients: tuple[Any, ...]


def keyspace_way(repo: Repository[Root] | SyncRepository[Root], client: Any, data: Data) -> Way:
    """keyspace, async or sync: the same code, awaited or not."""
    profiles, ages = data.profiles, data.ages
    prefix = "await " if isinstance(repo, Repository) else ""
    return Way(
        "keyspace",
        {
            "set profile": lambda i: repo.user(i).profile.set(profiles[i]),
            "get profile": lambda i: repo.user(i).profile.get(),
            "set age": lambda i: repo.user(i).age.set(ages[i]),
            "get age": lambda i: repo.user(i).age.get(),
        },
        {
            "set profile": f"{prefix}repo.user(i).profile.set(p)",
            "get profile": f"{prefix}repo.user(i).profile.get()",
            "set age": f"{prefix}repo.user(i).age.set(age)",
            "get age": f"{prefix}repo.user(i).age.get()",
        },
        (client,),
    )


def raw_async_way(r: redis.asyncio.Redis, data: Data) -> Way:
    """Hand-written redis.asyncio code with pydantic ``TypeAdapter`` JSON."""
    profiles, ages = data.profiles, data.ages

    async def set_profile(i: int) -> None:
        await r.set(f"ksbench:raw:user:{i}:profile", PROFILE.dump_json(profiles[i]))

    async def get_profile(i: int) -> Profile:
        return PROFILE.validate_json(await r.get(f"ksbench:raw:user:{i}:profile"))  # type: ignore[arg-type]

    async def set_age(i: int) -> None:
        await r.set(f"ksbench:raw:user:{i}:age", AGE.dump_json(ages[i]))

    async def get_age(i: int) -> int:
        data = await r.get(f"ksbench:raw:user:{i}:age")
        return 0 if data is None else AGE.validate_json(data)

    return _raw_way((set_profile, get_profile, set_age, get_age), "await ", r)


def raw_sync_way(r: redis.Redis, data: Data) -> Way:
    """Hand-written sync redis-py code with pydantic ``TypeAdapter`` JSON."""
    profiles, ages = data.profiles, data.ages

    def set_profile(i: int) -> None:
        r.set(f"ksbench:raw:user:{i}:profile", PROFILE.dump_json(profiles[i]))

    def get_profile(i: int) -> Profile:
        return PROFILE.validate_json(r.get(f"ksbench:raw:user:{i}:profile"))  # type: ignore[arg-type]

    def set_age(i: int) -> None:
        r.set(f"ksbench:raw:user:{i}:age", AGE.dump_json(ages[i]))

    def get_age(i: int) -> int:
        data = r.get(f"ksbench:raw:user:{i}:age")
        return 0 if data is None else AGE.validate_json(data)

    return _raw_way((set_profile, get_profile, set_age, get_age), "", r)


def _raw_way(steps: Sequence[Step], prefix: str, client: Any) -> Way:
    name = 'f"ksbench:raw:user:{i}:profile"'
    age = name.replace("profile", "age")
    return Way(
        RAW,
        dict(zip(("set profile", "get profile", "set age", "get age"), steps, strict=True)),
        {
            "set profile": f"{prefix}r.set({name}, PROFILE.dump_json(p))",
            "get profile": f"PROFILE.validate_json({prefix}r.get({name}))",
            "set age": f"{prefix}r.set({age}, AGE.dump_json(age))",
            "get age": f"data = {prefix}r.get({age})"
            "; 0 if data is None else AGE.validate_json(data)",
        },
        (client,),
    )


def redisimnest_root(client: redis.asyncio.Redis) -> Any:
    """redisimnest's declaration of the same keys (``ksbench:ri:user:{user_id}:...``), bound to
    ``client``; redisimnest is async only."""
    import redisimnest.utils.logging
    from redisimnest import BaseCluster
    from redisimnest import Key as RiKey

    # redisimnest prints a coloured line per call unless SHOW_METHOD_DISPATCH_LOGS is off (a
    # setting of its settings file); production code turns it off, and so does the benchmark.
    redisimnest.utils.logging.SHOW_METHOD_DISPATCH_LOGS = False  # type: ignore[attr-defined]

    class RiPrefs:
        __prefix__ = "prefs"
        theme = RiKey("theme", "light")

    class RiUser:
        __prefix__ = "user:{user_id}"
        age = RiKey("age", 0)
        profile = RiKey("profile")
        prefs = RiPrefs

    class RiRoot(BaseCluster):
        __prefix__ = "ksbench:ri"
        user = RiUser

    return RiRoot(redis_client=client)


def redisimnest_way(client: redis.asyncio.Redis, data: Data) -> Way:
    """redisimnest: it stores JSON types, not models, so a profile goes in as the dict of its
    fields and comes back through ``Profile.model_validate``."""
    root = redisimnest_root(client)
    profiles, ages = data.profiles, data.ages

    async def get_profile(i: int) -> Profile:
        return Profile.model_validate(await root.user(i).profile.get())

    return Way(
        "redisimnest",
        {
            "set profile": lambda i: root.user(i).profile.set(profiles[i].model_dump(mode="json")),
            "get profile": get_profile,
            "set age": lambda i: root.user(i).age.set(ages[i]),
            "get age": lambda i: root.user(i).age.get(),
        },
        {
            "set profile": 'await root.user(i).profile.set(p.model_dump(mode="json"))',
            "get profile": "Profile.model_validate(await root.user(i).profile.get())",
            "set age": "await root.user(i).age.set(age)",
            "get age": "await root.user(i).age.get()",
        },
        (client,),
    )


def redis_dict_way(client: redis.Redis, data: Data) -> Way:
    """redis-dict (sync only), with ``Profile`` registered as a custom type (pydantic JSON)."""
    from redis_dict import RedisDict

    d = RedisDict(namespace="ksbench:rd", redis=client)
    d.extends_type(Profile, encode=Profile.model_dump_json, decode=Profile.model_validate_json)
    profiles, ages = data.profiles, data.ages

    def set_profile(i: int) -> None:
        d[f"user:{i}:profile"] = profiles[i]

    def set_age(i: int) -> None:
        d[f"user:{i}:age"] = ages[i]

    return Way(
        "redis-dict",
        {
            "set profile": set_profile,
            "get profile": lambda i: d[f"user:{i}:profile"],
            "set age": set_age,
            "get age": lambda i: d[f"user:{i}:age"],
        },
        {
            "set profile": 'd[f"user:{i}:profile"] = p',
            "get profile": 'd[f"user:{i}:profile"]',
            "set age": 'd[f"user:{i}:age"] = age',
            "get age": 'd[f"user:{i}:age"]',
        },
        (client,),
    )


def redis_om_way(client: redis.Redis | redis.asyncio.Redis, data: Data) -> Way:
    """redis-om: the profile as a ``HashModel`` (``HSET``/``HGETALL`` of ``ksbench:om:{pk}``),
    from ``aredis_om`` on an asyncio client, ``redis_om`` on a sync one. It stores models only,
    so it has no age line-up."""
    is_async = isinstance(client, redis.asyncio.Redis)
    hash_model: Any = importlib.import_module("aredis_om" if is_async else "redis_om").HashModel

    class OmProfile(hash_model, index=True):  # type: ignore[misc, call-arg]
        name: str
        email: str
        age: int
        joined: datetime

        class Meta:
            global_key_prefix = "ksbench"
            model_key_prefix = "aom" if is_async else "om"
            database = client

    models = [OmProfile(pk=str(i), **p.model_dump()) for i, p in enumerate(data.profiles)]
    prefix = "await " if is_async else ""
    return Way(
        "redis-om",
        {
            "set profile": lambda i: models[i].save(),
            "get profile": lambda i: OmProfile.get(str(i)),
        },
        {
            "set profile": f"{prefix}m.save()",
            "get profile": f"{prefix}OmProfile.get(str(i))",
        },
        (client,),
    )


# -- line-ups -----------------------------------------------------------------------------


def timer(steps: Sequence[Step], is_async: bool) -> Timer:
    """A timer running the ``steps`` for users ``0..n-1``."""
    if is_async:

        async def run_async(n: int) -> None:
            for i in range(n):
                for step in steps:
                    await step(i)

        return timed_async(run_async)

    def run_sync(n: int) -> None:
        for i in range(n):
            for step in steps:
                step(i)

    return timed_sync(run_sync)


def lineups(flavour: str, ways: Sequence[Way]) -> list[Lineup]:
    """One line-up per operation, with every way that can do all of its steps."""
    result = []
    for operation, step_names in OPERATIONS.items():
        sides = tuple(
            Side(
                way.name,
                "; ".join(way.code[step] for step in step_names),
                timer([way.steps[step] for step in step_names], flavour == "async"),
                way.clients,
            )
            for way in ways
            if all(step in way.steps for step in step_names)
        )
        result.append(Lineup(f"{flavour} {operation}", sides, RAW))
    return result


def binding_lineups(repo: Repository[Root], root: Any | None) -> list[Lineup]:
    """Binding one and two hops deep without I/O: keyspace, redisimnest (when installed), and
    formatting the name by hand."""

    def bind(get: Callable[[int], object]) -> Timer:
        def run(n: int) -> None:
            for i in range(n):
                get(i)

        return timed_sync(run)

    depth_1: list[Side] = [
        Side("keyspace", "repo.user(i).age", bind(lambda i: repo.user(i).age)),
        Side(RAW, 'f"ksbench:raw:user:{i}:age"', bind(lambda i: f"ksbench:raw:user:{i}:age")),
    ]
    depth_2: list[Side] = [
        Side("keyspace", "repo.user(i).prefs.theme", bind(lambda i: repo.user(i).prefs.theme)),
        Side(
            RAW,
            'f"ksbench:raw:user:{i}:prefs:theme"',
            bind(lambda i: f"ksbench:raw:user:{i}:prefs:theme"),
        ),
    ]
    if root is not None:
        depth_1.append(Side("redisimnest", "root.user(i).age", bind(lambda i: root.user(i).age)))
        depth_2.append(
            Side(
                "redisimnest",
                "root.user(i).prefs.theme",
                bind(lambda i: root.user(i).prefs.theme),
            )
        )
    return [
        Lineup("bind user(i).age (no I/O)", tuple(depth_1), RAW),
        Lineup("bind user(i).prefs.theme (no I/O)", tuple(depth_2), RAW),
    ]


# -- a run --------------------------------------------------------------------------------


def installed_peers() -> list[str]:
    """The peers that can be imported here."""
    return [name for name, module in PEERS.items() if importlib.util.find_spec(module)]


async def call(way: Way, step: str, i: int, flavour: str) -> Any:
    """Run one step of ``way`` for user ``i``, awaited in the async flavour."""
    outcome = way.steps[step](i)
    return await outcome if flavour == "async" else outcome


async def check(flavour: str, ways: Sequence[Way]) -> None:
    """Every way must read back what it wrote, before anything is measured."""
    expected = {"get profile": profile(0).model_dump(), "get age": profile(0).age}
    for way in ways:
        for step in ("set profile", "set age"):
            if step in way.steps:
                await call(way, step, 0, flavour)
        for step, want in expected.items():
            if step not in way.steps:
                continue
            got = await call(way, step, 0, flavour)
            if isinstance(got, BaseModel):
                got = got.model_dump(exclude={"pk"})
            if got != want:
                raise SystemExit(f"{way.name} ({flavour}) read {got!r} back, wrote {want!r}")


async def populate(flavour: str, ways: Sequence[Way], ops: int) -> None:
    """Write every key the get line-ups read, each library through its own code."""
    for way in ways:
        for step in ("set profile", "set age"):
            if step in way.steps:
                for i in range(ops):
                    await call(way, step, i, flavour)


@dataclass
class RunResult:
    """Everything a run measured, the server, and the peers it measured or could not."""

    server_version: str
    peers: list[str]
    lineups: list[LineupResult]


async def run(url: str, rounds: int, ops: int, peers: Sequence[str]) -> RunResult:
    """Measure every line-up against ``url``; the clients are closed on the way out.

    keyspace and raw redis-py share one client per flavour. The peers talk through a second
    pair built from the same settings with ``decode_responses=True``, which is how each of them
    builds its own client (redis-dict even sets it on the client it is given).
    """
    settings = bench_settings(url)
    decoding = settings.model_copy(update={"decode_responses": True})
    async with (
        clients(settings, "bench_peers") as (async_client, sync_client),
        clients(decoding, "bench_peers") as (peer_async, peer_sync),
    ):
        version = await server_version(async_client, url)
        await refuse_foreign_keys(async_client, PATTERN)
        repo = Repository(Root, async_client, settings=settings)
        sync_repo = SyncRepository(Root, sync_client, settings=settings)
        data = Data.of(ops)
        async_ways = [keyspace_way(repo, async_client, data), raw_async_way(async_client, data)]
        sync_ways = [keyspace_way(sync_repo, sync_client, data), raw_sync_way(sync_client, data)]
        if "redisimnest" in peers:
            async_ways.append(redisimnest_way(peer_async, data))
        if "redis-dict" in peers:
            sync_ways.append(redis_dict_way(peer_sync, data))
        if "redis-om" in peers:
            async_ways.append(redis_om_way(peer_async, data))
            sync_ways.append(redis_om_way(peer_sync, data))
        root = redisimnest_root(peer_async) if "redisimnest" in peers else None
        try:
            for flavour, ways in (("async", async_ways), ("sync", sync_ways)):
                await check(flavour, ways)
                await populate(flavour, ways, ops)
            measured = [
                *lineups("async", async_ways),
                *lineups("sync", sync_ways),
                *binding_lineups(repo, root),
            ]
            results = await evaluate_lineups(measured, rounds, ops)
        finally:
            await delete_matching(async_client, PATTERN)
        return RunResult(version, list(peers), results)


# -- reporting ----------------------------------------------------------------------------


def binding_summary(results: Sequence[LineupResult]) -> str:
    """What binding costs each library, and what the second hop adds."""
    binds = [result for result in results if not result.io]
    if len(binds) != 2:
        return ""
    lines = []
    for one, two in zip(binds[0].sides, binds[1].sides, strict=True):
        us_1, us_2 = one.timing.median_us_per_op, two.timing.median_us_per_op
        lines.append(
            f"binding, {one.name}: {one.code} {us_1:.2f} us, {two.code} {us_2:.2f} us"
            f" (one more hop: {us_2 - us_1:+.2f} us)"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="keyspace vs raw redis-py and peer libraries: typed set, get and save+get,"
        " async and sync, side by side."
    )
    add_common_arguments(parser, DEFAULT_JSON)
    parser.add_argument("--rounds", type=positive, default=DEFAULT_ROUNDS, help="rounds per case")
    parser.add_argument("--ops", type=positive, default=DEFAULT_OPS, help="operations per round")
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=sorted(PEERS),
        help="the peers to measure (default: every one installed; none: keyspace and raw only)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_ROUNDS} rounds x {SMOKE_OPS} ops) to check the harness",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.ops = SMOKE_ROUNDS, SMOKE_OPS
    installed = installed_peers()
    if args.peers is None:
        args.peers = installed
    missing = sorted(set(args.peers) - set(installed))
    if missing:
        parser.error(f"not installed: {', '.join(missing)}; python -m pip install -e '.[bench]'")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON report."""
    args = parse_args(argv)
    left_out = [name for name in PEERS if name not in args.peers]
    run_result, run_params = run_on_target(
        args,
        f"keyspace vs raw redis-py and {', '.join(args.peers) or 'no peers'}: {args.rounds}"
        f" rounds x {args.ops} ops,",
        lambda url: asyncio.run(run(url, args.rounds, args.ops, args.peers)),
    )
    parameters = {
        "rounds": args.rounds,
        "ops_per_round": args.ops,
        "warmup_ops_per_side": args.ops,
        "peers": args.peers,
        "peers_left_out": left_out,
        "peer_versions": {name: dist_version(name) for name in args.peers},
        **run_params,
    }
    if left_out:
        print(f"left out (not installed or not asked for): {', '.join(left_out)}")
    print(lineup_table(run_result.lineups))
    print("x base, paired: time per operation over raw redis-py's of the same flavour")
    print(binding_summary(run_result.lineups))
    write_report(
        args.json,
        report("peers", run_result.server_version, parameters, lineups=run_result.lineups),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
