"""The keyspace the integration tests run against (DESIGN's example, plus edge cases)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from keyspace import Cluster, Key


class Profile(BaseModel):
    bio: str = ""
    joined: datetime


class Messages(Cluster, prefix="messages", ttl=50):
    message: Key[str] = Key("message:{message_id}", default="Unknown Message")


class Settings(Cluster, prefix="settings:{user_id}"):
    theme: Key[str] = "dark"


class User(Cluster, prefix="user:{user_id}", ttl=120):
    age: Key[int] = 0
    name: Key[str] = "Unknown"
    profile: Key[Profile | None] = None
    short: Key[str] = Key(ttl=5)
    brief: Key[str] = Key(ttl=0.25)
    forever: Key[str] = Key(ttl=None)
    strict_age: Key[int] = Key(default=0, strict=True)
    messages: Messages
    settings: Settings


class Account(Cluster, prefix="account:{account_id}"):
    account_id: int
    balance: Key[int] = 0


class Pair(Cluster, prefix="pair:{a}:{b}"):
    value: Key[Any] = None


class App(Cluster, prefix="app", ttl=80):
    tokens: Key[list[str]] = []
    pending_users: Key[set[int]] = set()
    session: Key[str] = Key(default="", ttl=30, sliding=True)


class Root(Cluster, prefix="root"):
    app: App
    user: User
    account: Account
    pair: Pair
    project_name: Key[str]
    anything: Key[Any] = None
