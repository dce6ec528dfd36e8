"""SecretKey and PasswordKey end to end, for both flavours, on memory and a real redis-server."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

import argon2
import pydantic
import pytest
from pydantic import BaseModel, SecretStr

from keyspace import (
    Cluster,
    CorruptValueError,
    DecryptionError,
    Key,
    KeyNotFoundError,
    PasswordHash,
    PasswordKey,
    Repository,
    SecretKey,
    SettingsError,
    UnsupportedValueError,
    generate_encryption_key,
)
from keyspace import _crypto as crypto
from keyspace import _secrets as secrets

KEY = generate_encryption_key()
OLD = generate_encryption_key()
SECRET = "sk-live-0123456789abcdef"
PASSWORD = "correct horse battery staple"
TOKEN = "sc:user:1:token"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the defaults take a few hundred milliseconds per hash here."""
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(crypto, "_hasher_instance", cheap)
    monkeypatch.setattr(crypto, "_dummy_hash", None)


class Card(BaseModel):
    number: str
    cvc: int


class User(Cluster, prefix="user:{user_id}", ttl=60):
    token: SecretKey[str]
    pin: SecretKey[int] = SecretKey(default=0)
    card: SecretKey[Card | None] = None
    api: SecretKey[SecretStr] = SecretKey(ttl=None)
    sliding: SecretKey[str] = SecretKey(ttl=30, sliding=True)
    password: PasswordKey
    initial: PasswordKey = PasswordKey(default="changeme")
    name: Key[str] = "?"


class Root(Cluster, prefix="sc"):
    user: User


@pytest.fixture
def secure(make_repo: Callable[..., Any]) -> Callable[..., Any]:
    """``secure(current=KEY, *old)``: a repository on this test's backend with these keys."""

    def make(current: str | None = KEY, *old: str, **options: Any) -> Any:
        return make_repo(Root, encryption_key=current, encryption_old_keys=old, **options)

    return make


@pytest.fixture
def user(secure: Callable[..., Any]) -> Any:
    return secure().user(1)


# -- SecretKey ---------------------------------------------------------------------------


async def test_round_trip_of_typed_secrets(user: Any) -> None:
    assert await user.token.set(SECRET) is True
    assert await user.token.get() == SECRET
    assert await user.pin.get() == 0  # the default, never written
    await user.pin.set("1234")
    assert await user.pin.get() == 1234
    assert await user.pin.the_type is int
    card = Card(number="4111 1111 1111 1111", cvc=737)
    await user.card.set(card)
    assert await user.card.get() == card
    await user.api.set(SecretStr(SECRET))
    api = await user.api.get()
    assert isinstance(api, SecretStr)
    assert api.get_secret_value() == SECRET
    assert SECRET not in repr(api)


async def test_missing_secrets(user: Any) -> None:
    with pytest.raises(KeyNotFoundError, match=TOKEN):
        await user.token.get()
    assert await user.card.get() is None
    assert await user.token.the_type is None
    assert await user.token.raw() is None
    assert await user.token.rotate() is False


async def test_stored_bytes_hold_no_plaintext(user: Any, raw: Any) -> None:
    await user.token.set(SECRET)
    await user.card.set(Card(number="4111 1111 1111 1111", cvc=737))
    stored = await raw.get(TOKEN)
    assert stored == await user.token.raw()
    assert stored.startswith(b"ks1:")
    assert SECRET.encode() not in stored
    assert b"4111" not in await raw.get("sc:user:1:card")


async def test_ttls_and_options_apply(user: Any, raw: Any) -> None:
    await user.token.set(SECRET)
    assert 55 < await raw.ttl(TOKEN) <= 60
    await user.api.set(SecretStr(SECRET))
    assert await raw.ttl("sc:user:1:api") == -1
    assert await user.token.set("other", nx=True) is False
    assert await user.token.get() == SECRET
    await user.token.set("kept", keepttl=True)
    assert await user.token.get() == "kept"
    await user.sliding.set(SECRET, 5)
    assert await raw.ttl("sc:user:1:sliding") <= 5
    assert await user.sliding.get() == SECRET
    assert await raw.ttl("sc:user:1:sliding") > 5  # renewed by the read (GETEX)


async def test_update_decrypts_and_reencrypts(user: Any, raw: Any) -> None:
    await user.pin.set(1)
    assert await user.pin.update(lambda pin: pin + 1) == 2
    assert await user.pin.get() == 2
    assert (await raw.get("sc:user:1:pin")).startswith(b"ks1:")


async def test_decode_responses_clients(secure: Callable[..., Any]) -> None:
    user = secure(decode_responses=True).user(1)
    await user.token.set(SECRET)
    assert await user.token.get() == SECRET
    await user.password.set(PASSWORD)
    assert await user.password.verify(PASSWORD)


async def test_rotation(secure: Callable[..., Any], raw: Any) -> None:
    before = secure(OLD).user(1)
    await before.token.set(SECRET, 100)
    await before.pin.set(7)
    old_token = await raw.get(TOKEN)
    rotated = secure(KEY, OLD).user(1)
    assert await rotated.token.get() == SECRET  # old keys still decrypt
    await rotated.pin.set(8)  # writes use the new key
    current_id = crypto.Keyring(SecretStr(KEY)).current_id
    assert (await raw.get("sc:user:1:pin")).split(b":")[1].decode() == current_id
    assert await rotated.token.rotate() is True
    new_token = await raw.get(TOKEN)
    assert new_token != old_token
    assert new_token.split(b":")[1].decode() == current_id
    assert 95 < await raw.ttl(TOKEN) <= 100  # the TTL is kept
    assert await rotated.token.rotate() is False  # already under the current key
    assert await secure(KEY).user(1).token.get() == SECRET  # the old key is no longer needed


async def test_a_wrong_key_is_a_clear_error(secure: Callable[..., Any]) -> None:
    await secure(OLD).user(1).token.set(SECRET)
    with pytest.raises(DecryptionError) as info:
        await secure(KEY).user(1).token.get()
    message = str(info.value)
    assert TOKEN in message
    assert "REDIS_ENCRYPTION_OLD_KEYS" in message
    assert SECRET not in message
    assert isinstance(info.value, CorruptValueError)


async def test_no_key_configured_fails_at_use(secure: Callable[..., Any]) -> None:
    keyless = secure(None).user(1)
    assert await keyless.name.set("Ann")  # other keys work without a key
    with pytest.raises(SettingsError, match="REDIS_ENCRYPTION_KEY"):
        await keyless.token.set(SECRET)
    assert await keyless.token.exists() is False
    await secure().user(1).token.set(SECRET)
    with pytest.raises(DecryptionError, match="no encryption key is configured"):
        await keyless.token.get()


async def test_a_token_copied_to_another_key_does_not_decrypt(
    secure: Callable[..., Any], raw: Any
) -> None:
    repo = secure()
    await repo.user(1).token.set(SECRET)
    await raw.set("sc:user:2:token", await raw.get(TOKEN))
    with pytest.raises(DecryptionError, match="authentication failed"):
        await repo.user(2).token.get()


async def test_a_plain_value_is_no_secret(user: Any, raw: Any) -> None:
    await raw.set(TOKEN, b'"written by someone else"')
    with pytest.raises(DecryptionError, match="not an encrypted keyspace value") as info:
        await user.token.get()
    assert "someone else" not in str(info.value)


async def test_invalid_values_raise_without_the_value(user: Any, raw: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        await user.pin.set(SECRET)
    shown = "".join(traceback.format_exception(info.value)) + str(info.value.errors())
    assert SECRET not in shown
    assert await raw.exists("sc:user:1:pin") == 0


async def test_logs_hold_no_values(
    secure: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    user = secure(log_commands=True).user(1)
    caplog.set_level(logging.DEBUG)
    await user.token.set(SECRET)
    await user.token.get()
    await user.token.update(lambda value: value + "!")
    await user.password.set(PASSWORD)
    await user.password.verify(PASSWORD)
    assert {r.getMessage() for r in caplog.records if r.name == "keyspace"} >= {
        f"SET {TOKEN}",
        f"GET {TOKEN}",
        "SET sc:user:1:password",
    }
    logged = caplog.text
    assert SECRET not in logged
    assert PASSWORD not in logged
    assert "ks1:" not in logged
    assert "$argon2" not in logged


async def test_load_and_save(user: Any, raw: Any) -> None:
    await user.save({"token": SECRET, "pin": 5, "password": PASSWORD})
    assert (await raw.get(TOKEN)).startswith(b"ks1:")
    assert (await raw.get("sc:user:1:password")).startswith(b"$argon2id$")
    snapshot = await user.load()
    assert (snapshot.token, snapshot.pin) == (SECRET, 5)
    assert isinstance(snapshot.password, PasswordHash)
    assert snapshot.password.verify(PASSWORD)
    await user.save({"password": snapshot.password})  # a hash read back is kept as it is
    assert await user.password.verify(PASSWORD)


# -- PasswordKey -------------------------------------------------------------------------


async def test_verify(user: Any) -> None:
    assert await user.password.set(PASSWORD) is True
    assert await user.password.verify(PASSWORD) is True
    assert await user.password.verify("wrong") is False
    assert await user.password.verify(SecretStr(PASSWORD)) is True
    assert await user.password.the_type is PasswordHash


async def test_get_never_returns_the_password(user: Any, raw: Any) -> None:
    await user.password.set(PASSWORD)
    hashed = await user.password.get()
    assert isinstance(hashed, PasswordHash)
    stored = await raw.get("sc:user:1:password")
    assert stored == await user.password.raw() == hashed.encoded.encode()
    assert stored.startswith(b"$argon2id$")
    assert PASSWORD.encode() not in stored
    assert PASSWORD not in repr(hashed)
    assert hashed.encoded not in repr(hashed)
    assert 55 < await raw.ttl("sc:user:1:password") <= 60


async def test_a_value_that_looks_like_a_hash_is_hashed(user: Any, raw: Any) -> None:
    await user.password.set(PASSWORD)
    looks_like_a_hash = (await user.password.get()).encoded
    await user.password.set(looks_like_a_hash)
    assert (await raw.get("sc:user:1:password")).decode() != looks_like_a_hash
    assert await user.password.verify(looks_like_a_hash) is True
    assert await user.password.verify(PASSWORD) is False


async def test_missing_passwords(user: Any, raw: Any) -> None:
    assert await user.password.verify(PASSWORD) is False
    with pytest.raises(KeyNotFoundError):
        await user.password.get()
    assert await user.initial.verify("changeme") is True  # the declared default, hashed
    assert await user.initial.verify("wrong") is False
    default = await user.initial.get()
    assert isinstance(default, PasswordHash)
    assert "changeme" not in repr(default)
    assert await raw.exists("sc:user:1:initial") == 0
    await user.initial.set("mine")
    assert await user.initial.verify("changeme") is False


async def test_password_errors_hold_no_values(user: Any, raw: Any) -> None:
    with pytest.raises(UnsupportedValueError) as info:
        await user.password.set(31415926)
    assert "31415926" not in str(info.value)
    await raw.set("sc:user:1:password", PASSWORD.encode())
    with pytest.raises(CorruptValueError, match="not an argon2 password hash") as corrupt:
        await user.password.get()
    assert PASSWORD not in str(corrupt.value)


async def test_rehash_with_new_parameters(
    user: Any, raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await user.password.set(PASSWORD)
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(crypto, "_hasher_instance", stronger)
    assert await user.password.verify(PASSWORD)
    assert (await user.password.get()).needs_rehash
    await user.password.set(PASSWORD, keepttl=True)  # the documented upgrade path
    assert not (await user.password.get()).needs_rehash
    assert await user.password.verify(PASSWORD)
    assert 55 < await raw.ttl("sc:user:1:password") <= 60


async def test_async_hashing_runs_in_a_thread(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    original = secrets.hash_password

    def spy(password: object, where: str = "") -> PasswordHash:
        threads.append(threading.current_thread().name)
        return original(password, where)

    monkeypatch.setattr(secrets, "hash_password", spy)
    repo = Repository(Root, backend.async_client())
    await repo.user(1).password.set(PASSWORD)
    assert threads
    assert threading.main_thread().name not in threads


async def test_secrets_stay_out_of_snapshots_descriptions_events_and_pendings(
    backend: Any, user: Any
) -> None:
    import asyncio

    from keyspace import RedisSettings

    await user.token.set(SECRET)
    await user.pin.set(4242)
    snapshot = await user.load()
    assert snapshot.token == SECRET
    assert SECRET not in repr(snapshot)
    assert "4242" not in repr(snapshot)
    assert "changeme" not in str(Root.describe())

    settings = RedisSettings(encryption_key=KEY)
    writer = Repository(Root, backend.async_client(), settings=settings, publish_events=True)
    reader = Repository(Root, backend.async_client(), settings=settings)

    async def one() -> Any:
        async for event in reader.user(2).events(timeout=5):
            return event
        return None

    task = asyncio.create_task(one())
    await asyncio.sleep(0.2)
    await writer.user(2).token.set(SECRET)
    event = await task
    assert event is not None
    assert (event.key, event.operation, event.value) == ("sc:user:2:token", "set", None)
    async with writer.pipeline() as p:
        read = p.user(2).token.get()
    assert read.result == SECRET
    assert SECRET not in repr(read)
