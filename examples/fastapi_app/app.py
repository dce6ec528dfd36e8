"""A small FastAPI app on keyspace: users, sessions that expire, a visit counter, a leaderboard.

Run it from this folder with ``REDIS_URL=memory:// uvicorn app:app`` (or any ``redis://`` URL);
``keyspace`` reads the ``REDIS_*`` settings when the app starts, not when it is imported.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query, status
from pydantic import BaseModel, Field

from keyspace import (
    Cluster,
    Counter,
    HashKey,
    InvalidParameterError,
    Key,
    KeyNotFoundError,
    Repository,
    SortedSetKey,
)
from keyspace.fastapi import KeyspaceLifespan

SESSION_TTL = 1800  # seconds of inactivity after which a session is gone


# --- the keyspace -----------------------------------------------------------------------------


class Profile(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class User(Cluster, prefix="user:{user_id}"):
    user_id: int  # a typed parameter: "7" and 7 are the same user
    profile: HashKey[Profile]  # one Redis hash per user, a field per model field


class Session(Cluster, prefix="session:{token}", ttl=SESSION_TTL):
    owner: Key[int] = Key(sliding=True)  # every read renews the session's TTL


class Root(Cluster, prefix="demo"):
    next_user_id: Counter
    visits: Counter
    leaderboard: SortedSetKey[int]  # user ids scored by points
    user: User
    session: Session


# --- the app ----------------------------------------------------------------------------------

keyspace = KeyspaceLifespan(Root)
app = FastAPI(title="keyspace example", lifespan=keyspace)

Repo = Annotated[Repository[Root], Depends(keyspace.repository)]


class CreatedUser(Profile):
    id: int


class NewSession(BaseModel):
    user_id: int


class SessionToken(BaseModel):
    token: str
    expires_in: int


class Score(BaseModel):
    user_id: int
    name: str
    points: float


async def current_user(repo: Repo, x_session: Annotated[str, Header()]) -> int:
    """The user of the session named by the ``X-Session`` header; 401 without one."""
    try:
        return await repo.session(x_session).owner.get()
    except (KeyNotFoundError, InvalidParameterError):  # expired, unknown, or not a token at all
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no such session") from None


CurrentUser = Annotated[int, Depends(current_user)]


@app.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(repo: Repo, profile: Profile) -> CreatedUser:
    user_id = await repo.next_user_id.incr()
    await repo.user(user_id).profile.set(profile)
    return CreatedUser(id=user_id, **profile.model_dump())


@app.get("/users/{user_id}")
async def get_user(repo: Repo, user_id: int) -> CreatedUser:
    try:
        profile = await repo.user(user_id).profile.get()
    except KeyNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}") from None
    return CreatedUser(id=user_id, **profile.model_dump())


@app.post("/sessions", status_code=status.HTTP_201_CREATED)
async def log_in(repo: Repo, new: NewSession) -> SessionToken:
    if not await repo.user(new.user_id).profile.exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {new.user_id}")
    token = secrets.token_urlsafe(16)  # letters, digits, "-" and "_": a valid key segment
    await repo.session(token).owner.set(new.user_id)
    return SessionToken(token=token, expires_in=SESSION_TTL)


@app.get("/me")
async def me(repo: Repo, user_id: CurrentUser) -> CreatedUser:
    return await get_user(repo, user_id)


@app.delete(
    "/sessions/current",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(current_user)],  # only a live session can be closed
)
async def log_out(repo: Repo, x_session: Annotated[str, Header()]) -> None:
    await repo.session(x_session).owner.delete()


@app.post("/visits")
async def visit(repo: Repo) -> int:
    return await repo.visits.incr()


@app.get("/visits")
async def visits(repo: Repo) -> int:
    return await repo.visits.get()


@app.post("/leaderboard/me")
async def score(repo: Repo, user_id: CurrentUser, points: float = 1.0) -> float:
    return await repo.leaderboard.incr(user_id, points)


@app.get("/leaderboard")
async def leaderboard(repo: Repo, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[Score]:
    top = await repo.leaderboard.range_with_scores(0, limit - 1, reverse=True)
    async with repo.pipeline() as pipeline:  # every name in one round trip
        names = [pipeline.user(user_id).profile.get_field("name") for user_id, _ in top]
    return [
        Score(user_id=user_id, name=name.result, points=points)
        for (user_id, points), name in zip(top, names, strict=True)
    ]
