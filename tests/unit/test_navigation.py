"""Navigation by attribute: every flavour, the repository and a pipeline reach the same handles.

Each node's handles have a class of their own (made once per node and flavour) with an attribute
per declared key and nested cluster; unknown names still reach ``__getattr__`` and its error.
"""

from __future__ import annotations

import pytest

from keyspace import Cluster, Key, RedisSettings, Repository, SyncRepository
from keyspace._repository import AsyncBoundCluster, SyncBoundCluster


class Prefs(Cluster, prefix="prefs"):
    theme: Key[str] = "light"


class User(Cluster, prefix="user:{user_id}", ttl=120):
    age: Key[int] = 0
    prefs: Prefs


class Shop(Cluster, prefix="shop"):
    user: User
    banner: Key[str] = "none"


def _repos() -> list[Repository[Shop] | SyncRepository[Shop]]:
    settings = RedisSettings(url="memory://navigation")
    return [Repository(Shop, settings=settings), SyncRepository(Shop, settings=settings)]


@pytest.mark.parametrize("repo", _repos(), ids=["async", "sync"])
def test_chained_access_reaches_the_declared_names(
    repo: Repository[Shop] | SyncRepository[Shop],
) -> None:
    flavour = AsyncBoundCluster if isinstance(repo, Repository) else SyncBoundCluster
    user = repo.user(7)

    assert isinstance(user, flavour)
    assert isinstance(user.prefs, flavour)
    assert repr(user) == f"<{flavour.__name__} User 'shop:user:7'>"
    assert user.age.key == "shop:user:7:age"
    assert user.prefs.theme.key == "shop:user:7:prefs:theme"
    assert repo.banner.key == "shop:banner"
    assert type(repo.user(1)) is type(repo.user(2))  # one class per node and flavour
    assert repo.user is repo.user
    assert repo.user(1) is not repo.user(1)


@pytest.mark.parametrize("repo", _repos(), ids=["async", "sync"])
def test_unknown_names_are_errors_naming_the_cluster(
    repo: Repository[Shop] | SyncRepository[Shop],
) -> None:
    with pytest.raises(AttributeError, match=r"cluster User has no key or nested cluster 'agee'"):
        _ = repo.user(1).agee
    with pytest.raises(AttributeError, match=r"cluster Shop has no key .* \(keys: banner;"):
        _ = repo.usr


def test_a_pipeline_navigates_like_its_repository() -> None:
    repo = SyncRepository(Shop, settings=RedisSettings(url="memory://navigation-pipeline"))
    with repo.pipeline() as p:
        age = p.user(3).age.set(30)
        theme = p.user(3).prefs.theme.get()
        banner = p.banner.get()
    assert (age.result, theme.result, banner.result) == (True, "light", "none")
    assert repo.user(3).age.get() == 30
