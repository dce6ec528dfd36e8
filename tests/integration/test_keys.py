"""Key operations end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from keyspace import (
    BindingError,
    CorruptValueError,
    InvalidParameterError,
    KeyNotFoundError,
    OptionsError,
    TTLError,
)

from .models import Profile


async def test_set_and_get_typed_values(repo: Any, raw: Any) -> None:
    assert await repo.user(1).age.set(30) is True
    assert await repo.user(1).age.get() == 30
    assert await raw.get("root:user:1:age") == b"30"
    await repo.app.tokens.set(["a", "b"])
    assert await raw.get("root:app:tokens") == b'["a","b"]'
    assert await repo.app.tokens.get() == ["a", "b"]
    await repo.user(1).name.set("Ann")
    assert await raw.get("root:user:1:name") == b'"Ann"'
    joined = datetime(2024, 1, 1, 12, 30, tzinfo=timezone.utc)
    await repo.user(1).profile.set(Profile(bio="hi", joined=joined))
    assert await repo.user(1).profile.get() == Profile(bio="hi", joined=joined)
    await repo.app.pending_users.set({3, 1})
    assert await repo.app.pending_users.get() == {1, 3}


async def test_binding_forms_reach_the_same_key(repo: Any) -> None:
    await repo.user(1).age.set(30)
    assert await repo.user[1].age.get() == 30
    assert await repo.user(user_id=1).age.get() == 30
    assert await repo.user("1").age.get() == 30
    assert repo.user(1).age.key == repo.user["1"].age.key == "root:user:1:age"
    message = repo.user(1).messages.message
    await message(5).set("hi")
    assert await message[5].get() == "hi"
    assert await message(message_id=5).get() == "hi"
    assert message(5).key == "root:user:1:messages:message:5"
    assert await message(6).get() == "Unknown Message"


async def test_inherited_placeholder_takes_the_ancestor_value(repo: Any) -> None:
    await repo.user(7).settings.theme.set("light")
    assert repo.user(7).settings.theme.key == "root:user:7:settings:7:theme"
    assert await repo.user(7).settings.theme.get() == "light"


async def test_typed_parameters_are_canonical(repo: Any) -> None:
    await repo.account("007").balance.set(5)
    assert repo.account(7).balance.key == "root:account:7:balance"
    assert await repo.account(7).balance.get() == 5
    with pytest.raises(InvalidParameterError, match="account_id"):
        repo.account("seven")


async def test_handles_never_alias(repo: Any) -> None:
    a = repo.user(1).age
    b = repo.user(2).age
    await a.set(10)
    await b.set(20)
    assert (await a.get(), await b.get()) == (10, 20)
    assert (a.key, b.key) == ("root:user:1:age", "root:user:2:age")


async def test_missing_key_returns_a_fresh_default_never_written(repo: Any, raw: Any) -> None:
    tokens = await repo.app.tokens.get()
    assert tokens == []
    tokens.append("mutated")
    assert await repo.app.tokens.get() == []
    assert await raw.exists("root:app:tokens") == 0
    with pytest.raises(KeyNotFoundError, match="root:project_name"):
        await repo.project_name.get()


async def test_invalid_value_raises_and_writes_nothing(repo: Any, raw: Any) -> None:
    await repo.user(1).age.set(30)
    with pytest.raises(pydantic.ValidationError):
        await repo.user(1).age.set("thirty")
    assert await repo.user(1).age.get() == 30
    with pytest.raises(pydantic.ValidationError):
        await repo.user(2).age.set([1])
    assert await raw.exists("root:user:2:age") == 0


async def test_lax_and_strict_validation(repo: Any) -> None:
    await repo.user(1).age.set("31")
    assert await repo.user(1).age.get() == 31
    with pytest.raises(pydantic.ValidationError):
        await repo.user(1).strict_age.set("31")
    await repo.user(1).strict_age.set(31)
    assert await repo.user(1).strict_age.get() == 31


async def test_ttl_resolution(repo: Any) -> None:
    user = repo.user(1)
    await user.age.set(1)  # the cluster's 120 s
    assert 115 < await user.age.ttl() <= 120
    await user.short.set("x")  # the key's own 5 s
    assert 0 < await user.short.ttl() <= 5
    await user.forever.set("x")  # ttl=None: no expiry
    assert await user.forever.ttl() is None
    await user.messages.message(1).set("x")  # the nested cluster's 50 s
    assert 45 < await user.messages.message(1).ttl() <= 50
    await user.age.set(2, ttl=timedelta(hours=1))  # the call's
    assert 3590 < await user.age.ttl() <= 3600
    await user.age.set(3, ttl=None)
    assert await user.age.ttl() is None
    await repo.project_name.set("no ttl anywhere")
    assert await repo.project_name.ttl() is None


async def test_settings_default_ttl_applies_last(make_repo: Any) -> None:
    repo = make_repo(default_ttl=30)
    await repo.project_name.set("x")
    assert 25 < await repo.project_name.ttl() <= 30
    await repo.user(1).age.set(1)
    assert await repo.user(1).age.ttl() > 100  # the cluster's TTL wins


async def test_sub_second_ttls_use_milliseconds(repo: Any, raw: Any) -> None:
    await repo.user(1).brief.set("gone soon")
    pttl = await raw.pttl("root:user:1:brief")
    assert 0 < pttl <= 250
    await repo.user(1).age.set(1, ttl=0.3)
    assert 0 < await raw.pttl("root:user:1:age") <= 300
    await repo.user(1).forever.set("x")
    assert await repo.user(1).forever.expire(timedelta(milliseconds=1500)) is True
    assert 1000 < await raw.pttl("root:user:1:forever") <= 1500


async def test_expiry_really_happens(repo: Any) -> None:
    await repo.user(1).age.set(5, ttl=0.05)
    await asyncio.sleep(0.2)
    assert await repo.user(1).age.exists() is False
    assert await repo.user(1).age.get() == 0


@pytest.mark.parametrize("ttl", [0, -1, "5", float("nan")])
async def test_bad_ttl_is_an_error_and_writes_nothing(repo: Any, raw: Any, ttl: Any) -> None:
    with pytest.raises(TTLError, match="age"):
        await repo.user(1).age.set(1, ttl=ttl)
    assert await raw.exists("root:user:1:age") == 0
    with pytest.raises(TTLError):
        await repo.user(1).age.expire(ttl)
    with pytest.raises(TTLError, match="persist"):
        await repo.user(1).age.expire(None)


async def test_nx_xx_keepttl(repo: Any) -> None:
    age = repo.user(1).age
    assert await age.set(1, xx=True) is False
    assert await age.exists() is False
    assert await age.set(1, nx=True) is True
    assert await age.set(2, nx=True) is False
    assert await age.get() == 1
    assert await age.set(3, xx=True) is True
    await age.expire(1000)
    assert await age.set(4, keepttl=True) is True
    assert 990 < await age.ttl() <= 1000
    with pytest.raises(OptionsError):
        await age.set(5, nx=True, xx=True)
    with pytest.raises(OptionsError):
        await age.set(5, ttl=10, keepttl=True)
    assert await age.get() == 4


async def test_delete_exists_expire_persist_ttl(repo: Any) -> None:
    name = repo.project_name
    assert await name.exists() is False
    assert await name.delete() is False
    assert await name.expire(10) is False
    with pytest.raises(KeyNotFoundError):
        await name.ttl()
    await name.set("keyspace")
    assert await name.exists() is True
    assert await name.ttl() is None
    assert await name.persist() is False
    assert await name.expire(10) is True
    assert 9 < await name.ttl() <= 10
    assert await name.persist() is True
    assert await name.ttl() is None
    assert await name.delete() is True
    assert await name.exists() is False


async def test_the_type_and_raw(repo: Any) -> None:
    assert await repo.project_name.the_type is None
    assert await repo.project_name.raw() is None
    await repo.project_name.set("keyspace")
    assert await repo.project_name.the_type is str
    assert await repo.project_name.raw() == b'"keyspace"'
    await repo.user(1).profile.set(None)
    assert await repo.user(1).profile.the_type is type(None)
    await repo.anything.set(datetime(2024, 1, 1))
    assert await repo.anything.the_type is datetime
    await repo.anything.set((1, "a"))
    assert await repo.anything.get() == (1, "a")
    await repo.anything.set(math.inf)
    assert await repo.anything.get() == math.inf


async def test_corrupt_stored_value_names_key_and_type(repo: Any, raw: Any) -> None:
    await raw.set("root:user:1:age", b"not json")
    with pytest.raises(CorruptValueError, match="root:user:1:age") as info:
        await repo.user(1).age.get()
    assert "int" in str(info.value)
    await raw.set("root:user:1:age", b'"thirty"')
    with pytest.raises(CorruptValueError, match="root:user:1:age"):
        await repo.user(1).age.get()


async def test_binding_errors_name_cluster_template_and_parameter(repo: Any) -> None:
    with pytest.raises(BindingError, match=r"User \(template 'user:\{user_id\}'\).*'user_id'"):
        repo.user.age  # noqa: B018 - navigating into an unbound cluster
    with pytest.raises(BindingError, match="'user_id'"):
        repo.user.messages  # noqa: B018
    with pytest.raises(BindingError, match="takes 1 parameter"):
        repo.user(1, 2)
    with pytest.raises(BindingError, match="no parameter 'uid'"):
        repo.user(uid=1)
    with pytest.raises(BindingError, match="missing parameter 'user_id'"):
        repo.user()
    with pytest.raises(BindingError, match="tuple"):
        repo.user[1, 2]
    with pytest.raises(BindingError, match="exactly one parameter"):
        repo.pair[1]
    with pytest.raises(BindingError, match=r"App \(template 'app'\) has no parameters"):
        repo.app[1]
    with pytest.raises(BindingError, match="has no parameters"):
        repo.user(1).age(1)
    with pytest.raises(BindingError, match="'message_id'"):
        await repo.user(1).messages.message.get()
    with pytest.raises(BindingError, match="already bound"):
        repo.user(1)(2)
    with pytest.raises(AttributeError, match="no key or nested cluster 'agee'"):
        repo.user(1).agee  # noqa: B018
    assert repo.pair(1, 2).value.key == "root:pair:1:2:value"
    assert repo.pair(b=2, a=1).value.key == "root:pair:1:2:value"


@pytest.mark.parametrize("value", ["1:2", "*", "1*", "?", "[1]", "a\\b", "{1}", ""])
async def test_hostile_parameters_are_rejected_before_io(repo: Any, raw: Any, value: str) -> None:
    with pytest.raises(InvalidParameterError, match="user_id"):
        repo.user(value)
    with pytest.raises(InvalidParameterError, match="message_id"):
        repo.user(1).messages.message(value)
    assert await raw.dbsize() == 0


async def test_caller_client_that_decodes_responses(make_repo: Any, raw: Any) -> None:
    repo = make_repo(decode_responses=True)
    await repo.user(1).age.set(30)
    assert await repo.user(1).age.get() == 30
    assert await repo.user(1).age.raw() == b"30"
    assert await repo.user(1).age.the_type is int
    await repo.app.tokens.set(["x"])
    assert sorted(await repo.subkeys()) == ["root:app:tokens", "root:user:1:age"]
    assert await repo.clear() == 2
    assert await raw.dbsize() == 0
