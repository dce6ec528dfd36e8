"""The quickstart keyspace, run by ``python -m keyspace demo``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from pydantic import BaseModel, ValidationError

from ._cluster import Cluster
from ._keys import Key
from ._repository import Repository
from ._settings import RedisSettings

__all__ = ["Root", "run_demo"]


class Profile(BaseModel):
    """A value type stored as JSON."""

    bio: str = ""
    joined: datetime


class Messages(Cluster, prefix="messages", ttl=50):
    """Messages of one user; each message key has its own placeholder."""

    message: Key[str] = Key("message:{message_id}", default="Unknown Message")


class User(Cluster, prefix="user:{user_id}", ttl=120):
    """One user; the cluster's keys expire after 120 s unless they say otherwise."""

    user_id: int
    age: Key[int] = Key(default=0)
    name: Key[str] = Key(default="Unknown")
    profile: Key[Profile | None] = Key(default=None)
    short: Key[str] = Key(ttl=5)
    forever: Key[str] = Key(ttl=None)
    messages: Messages


class App(Cluster, prefix="app", ttl=80):
    """Application-wide state."""

    tokens: Key[list[str]] = Key(default=[])
    pending_users: Key[set[int]] = Key(default=set())


class Root(Cluster, prefix="demo"):
    """The demo's root: every key starts with ``demo:``."""

    app: App
    user: User
    project_name: Key[str]


async def run_demo(settings: RedisSettings, say: Callable[[str], None]) -> None:
    """Run the quickstart against ``settings`` and report through ``say``."""
    where = "the embedded in-memory Redis" if settings.is_memory else settings.url or "Redis"
    say(f"keyspace demo on {where}\n")
    async with Repository(Root, settings=settings) as repo:
        await repo.clear()

        async def step(code: str, result: object) -> None:
            say(f"  {code:<58} -> {result!r}")

        await step('repo.project_name.set("keyspace")', await repo.project_name.set("keyspace"))
        await step("repo.user(1).age.set(30)", await repo.user(1).age.set(30))
        await step("repo.user[1].age.get()", await repo.user[1].age.get())
        await step('repo.user(user_id="1").age.get()', await repo.user(user_id="1").age.get())
        await step("repo.user(2).age.get()  # the default", await repo.user(2).age.get())
        await step('repo.user(1).name.set("Ann")', await repo.user(1).name.set("Ann"))
        joined = datetime(2024, 1, 1, 12, 30, tzinfo=timezone.utc)
        profile = Profile(bio="likes Redis", joined=joined)
        await step(
            "repo.user(1).profile.set(Profile(...))", await repo.user(1).profile.set(profile)
        )
        await step("repo.user(1).short.set('soon gone')", await repo.user(1).short.set("soon gone"))
        await step("repo.user(1).forever.set('stays')", await repo.user(1).forever.set("stays"))
        msg = repo.user(1).messages.message(5)
        await step('repo.user(1).messages.message(5).set("hi")', await msg.set("hi"))
        await step(
            "repo.user(1).messages.message[6].get()", await repo.user(1).messages.message[6].get()
        )
        await step('repo.app.tokens.set(["a", "b"])', await repo.app.tokens.set(["a", "b"]))
        await step(
            "repo.app.pending_users.set({3, 1, 2})", await repo.app.pending_users.set({3, 1, 2})
        )
        await step("repo.app.tokens.expire(60)", await repo.app.tokens.expire(60))
        await step("repo.project_name.the_type", await repo.project_name.the_type)
        try:
            await repo.user(1).age.set("thirty")
        except ValidationError as exc:
            await step(
                'repo.user(1).age.set("thirty")', f"ValidationError: {exc.errors()[0]['msg']}"
            )

        say("\nKeys as stored in Redis:")
        for key in sorted(await repo.subkeys()):
            raw = await repo.client.get(key)
            ttl = await repo.client.pttl(key)
            expiry = "no expiry" if ttl < 0 else f"ttl {ttl / 1000:.0f}s"
            say(f"  {key:<32} {raw!r:<60} {expiry}")

        say("")
        await step("repo.app.clear()", await repo.app.clear())
        await step("repo.clear()", await repo.clear())
