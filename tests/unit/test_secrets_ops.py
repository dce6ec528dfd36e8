"""``SecretKey`` and ``PasswordKey`` without Redis: tokens, hashes and the exact commands."""

from __future__ import annotations

import base64
import copy
import traceback
from typing import Any

import argon2
import fakeredis
import pytest
from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

import keyspace
from keyspace import (
    Cluster,
    CorruptValueError,
    DecryptionError,
    KeyNotFoundError,
    OptionsError,
    PasswordHash,
    PasswordKey,
    RedisSettings,
    SecretKey,
    SettingsError,
    UnsupportedValueError,
    generate_encryption_key,
)
from keyspace import _crypto as crypto
from keyspace._codec import codec_for
from keyspace._crypto import Keyring, decode_key, hash_password
from keyspace._plan import Call, Exec, Sleep, Watch

KEY = generate_encryption_key()
OLD = generate_encryption_key()
PLAIN = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the defaults take a few hundred milliseconds per hash here."""
    cheap = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(crypto, "_hasher_instance", cheap)
    monkeypatch.setattr(crypto, "_dummy_hash", None)


class Card(BaseModel):
    number: str
    cvc: int


class Vault(Cluster, prefix="v:{owner}", ttl=60):
    token: SecretKey[str]
    pin: SecretKey[int] = SecretKey(default=0)
    card: SecretKey[Card | None] = None
    api: SecretKey[SecretStr]
    blob: SecretKey[SecretBytes]
    sliding: SecretKey[str] = SecretKey(ttl=30, sliding=True)
    sliding_forever: SecretKey[str] = SecretKey(ttl=None, sliding=True)
    loose: SecretKey[Any]
    password: PasswordKey
    forever: PasswordKey = PasswordKey(ttl=None)


class Root(Cluster, prefix="sx"):
    vault: Vault


def keyring(current: str | None = KEY, *old: str) -> Keyring:
    return Keyring(SecretStr(current) if current is not None else None, [SecretStr(k) for k in old])


@pytest.fixture
def v() -> Any:
    client = fakeredis.FakeAsyncRedis()
    return keyspace.Repository(Root, client, settings=RedisSettings(encryption_key=KEY)).vault(
        "ann"
    )


# -- keys and tokens ----------------------------------------------------------------


def test_generated_keys_are_32_random_bytes() -> None:
    key = generate_encryption_key()
    assert len(key) == 44
    assert decode_key(key) == base64.urlsafe_b64decode(key)
    assert generate_encryption_key() != key


@pytest.mark.parametrize("text", ["", "short", "a" * 44, base64.b64encode(b"x" * 16).decode()])
def test_invalid_keys_are_refused_without_echo(text: str) -> None:
    with pytest.raises(ValueError, match="32 random bytes") as info:
        decode_key(text)
    assert text not in str(info.value) or not text


def test_token_round_trip_and_format() -> None:
    ring = keyring()
    token = ring.encrypt(b'"s3cret"', "k:1")
    version, kid, _ = token.split(b":")
    assert (version, kid.decode()) == (b"ks1", ring.current_id)
    assert b"s3cret" not in token
    assert ring.decrypt(token, "k:1") == b'"s3cret"'
    assert ring.decrypt(token.decode(), "k:1") == b'"s3cret"'  # decoded replies
    assert ring.encrypt(b'"s3cret"', "k:1") != token  # a fresh nonce every time
    assert ring.key_id(token, "k:1") == ring.current_id


def test_repr_shows_key_ids_only() -> None:
    ring = keyring(KEY, OLD)
    text = repr(ring)
    assert KEY not in text
    assert OLD not in text
    assert str(ring.current_id) in text
    assert keyring(OLD).current_id in text


def test_old_keys_decrypt_and_the_current_key_encrypts() -> None:
    token = keyring(OLD).encrypt(b"1", "k")
    rotated = keyring(KEY, OLD)
    assert rotated.decrypt(token, "k") == b"1"
    assert rotated.key_id(rotated.encrypt(b"1", "k"), "k") == keyring(KEY).current_id
    assert keyring(KEY, KEY).decrypt(keyring(KEY).encrypt(b"2", "k"), "k") == b"2"


def test_unknown_key_names_the_ids() -> None:
    token = keyring(OLD).encrypt(b"1", "k")
    with pytest.raises(DecryptionError, match="REDIS_ENCRYPTION_OLD_KEYS") as info:
        keyring(KEY).decrypt(token, "k")
    message = str(info.value)
    assert "'k'" in message
    assert str(keyring(OLD).current_id) in message
    assert str(keyring(KEY).current_id) in message


def test_no_keys_at_all() -> None:
    token = keyring().encrypt(b"1", "k")
    with pytest.raises(DecryptionError, match="no encryption key is configured"):
        Keyring().decrypt(token, "k")
    with pytest.raises(SettingsError, match="REDIS_ENCRYPTION_KEY"):
        Keyring().encrypt(b"1", "k")
    with pytest.raises(SettingsError, match="REDIS_ENCRYPTION_KEY"):
        keyring(None, OLD).encrypt(b"1", "k")  # old keys only read


def test_a_token_is_bound_to_its_key_name() -> None:
    ring = keyring()
    token = ring.encrypt(b"1", "user:1:token")
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt(token, "user:2:token")
    tampered = token[:-3] + (b"A" if token[-3:-2] != b"A" else b"B") + token[-2:]
    with pytest.raises(DecryptionError, match="authentication failed"):
        ring.decrypt(tampered, "user:1:token")


@pytest.mark.parametrize(
    "stored", [b'"plain json"', b"ks1:abc:xyz", b"ks1:12345678:!!!", b"ks1:12345678:AAAA", b""]
)
def test_what_is_no_token(stored: bytes) -> None:
    with pytest.raises(DecryptionError, match="not an encrypted keyspace value") as info:
        keyring().decrypt(stored, "k")
    assert stored.decode() not in str(info.value) or not stored


# -- passwords -------------------------------------------------------------------------


def test_password_hash_verifies_and_hides() -> None:
    hashed = hash_password(PLAIN)
    assert hashed.encoded.startswith("$argon2id$")
    assert hashed.verify(PLAIN)
    assert hashed.verify(PLAIN.encode())
    assert hashed.verify(SecretStr(PLAIN))
    assert hashed.verify(SecretBytes(PLAIN.encode()))
    assert not hashed.verify("wrong")
    for shown in (repr(hashed), str(hashed), f"{hashed}"):
        assert shown == "<PasswordHash argon2id m=1024 t=1 p=1>"
        assert hashed.encoded not in shown


def test_every_hash_is_salted() -> None:
    one, two = hash_password(PLAIN), hash_password(PLAIN)
    assert one != two
    assert one == PasswordHash(one.encoded)
    assert hash(one) == hash(PasswordHash(one.encoded))
    assert one != one.encoded
    assert copy.deepcopy(one) is one


def test_a_hash_is_hashed_again_when_given_as_a_password() -> None:
    hashed = hash_password(PLAIN)
    again = hash_password(hashed.encoded)
    assert again.encoded != hashed.encoded
    assert again.verify(hashed.encoded)
    assert not again.verify(PLAIN)


def test_needs_rehash_follows_the_current_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = hash_password(PLAIN)
    assert not hashed.needs_rehash
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(crypto, "_hasher_instance", stronger)
    assert hashed.needs_rehash
    assert hashed.verify(PLAIN)  # old parameters still verify


@pytest.mark.parametrize("encoded", ["", "not a hash", "$2b$12$abcdefghijklmnopqrstuv"])
def test_password_hash_needs_an_argon2_hash(encoded: str) -> None:
    with pytest.raises(ValueError, match="not an argon2 password hash"):
        PasswordHash(encoded)


def test_a_password_of_a_wrong_type_is_not_echoed() -> None:
    with pytest.raises(UnsupportedValueError, match="got a int") as info:
        hash_password(123456)
    assert "123456" not in str(info.value)
    with pytest.raises(UnsupportedValueError):
        hash_password(PLAIN).verify(123456)  # type: ignore[arg-type]


# -- declarations ----------------------------------------------------------------------


def test_declaration_reprs_redact_defaults() -> None:
    assert "hunter2" not in repr(SecretKey(default="hunter2"))
    assert "<redacted>" in repr(PasswordKey(default="hunter2"))
    assert repr(SecretKey(ttl=5)) == "SecretKey(template=None, default=MISSING, ttl=5)"
    assert keyspace.Key.secret is False
    assert SecretKey.secret is PasswordKey.secret is True


def test_kinds_and_value_types(v: Any) -> None:
    assert isinstance(v.token, keyspace.AsyncSecretKey)
    assert isinstance(v.password, keyspace.AsyncPasswordKey)
    assert v.token._kind == "SecretKey[str]"
    assert v.card._kind.endswith("Card | None]")
    assert v.password._kind == "PasswordKey"
    keys = Root.describe()["clusters"]["vault"]["keys"]
    assert keys["password"]["type"] == "PasswordHash"
    assert keys["token"]["type"] == "str"


def test_a_password_default_is_hashed_when_declared() -> None:
    class Account(Cluster, prefix="acc"):
        password: PasswordKey = PasswordKey(default="changeme")
        bare: PasswordKey = "letmein"  # type: ignore[assignment]

    keys = Account.describe()["keys"]
    for name, plain in (("password", "changeme"), ("bare", "letmein")):
        default = Account.__keyspace__.keys[name].default
        assert isinstance(default, PasswordHash)
        assert default.verify(plain)
        assert keys[name]["default"] == "<redacted>"  # describe() never shows secrets
        assert plain not in repr(keys)


def test_a_password_default_of_a_wrong_type() -> None:
    with pytest.raises(UnsupportedValueError, match="a password is a str"):

        class Bad(Cluster, prefix="bad"):
            password: PasswordKey = PasswordKey(default=1234)


# -- secret key ops ----------------------------------------------------------------------


def test_set_encrypts_with_the_ttl(v: Any) -> None:
    op = v.token._op_set(PLAIN)
    assert isinstance(op, Call)
    name, token = op.command[1], op.command[2]
    assert op.command[0] == "SET"
    assert op.command[3:] == ("EX", 60)
    assert (name, op.key, op.kind) == ("sx:v:ann:token", "sx:v:ann:token", "SecretKey[str]")
    assert token.startswith(b"ks1:")
    assert PLAIN.encode() not in token
    assert keyring().decrypt(token, name) == b'"correct-horse-battery-staple"'
    assert op.parse(b"OK") is True


def test_set_options(v: Any) -> None:
    assert v.token._op_set("x", nx=True).command[3:] == ("EX", 60, "NX")
    assert v.token._op_set("x", 5, xx=True).command[3:] == ("EX", 5, "XX")
    assert v.token._op_set("x", keepttl=True).command[3:] == ("KEEPTTL",)
    assert v.token._op_set("x", None).command[3:] == ()
    with pytest.raises(OptionsError, match="nx and xx"):
        v.token._op_set("x", nx=True, xx=True)
    with pytest.raises(OptionsError, match="keepttl and ttl"):
        v.token._op_set("x", 5, keepttl=True)


def test_get_decrypts_and_validates(v: Any) -> None:
    token = v.pin._op_set("42").command[2]
    op = v.pin._op_get()
    assert op.command == ("GET", "sx:v:ann:pin")
    assert op.parse(token) == 42
    assert op.parse(token.decode()) == 42
    assert op.parse(None) == 0  # the declared default
    with pytest.raises(KeyNotFoundError, match="sx:v:ann:token"):
        v.token._op_get().parse(None)
    assert v.card._op_get().parse(None) is None
    assert v.pin._op_the_type().parse(token) is int
    assert v.pin._op_the_type().parse(None) is None


def test_sliding_reads_renew(v: Any) -> None:
    assert v.sliding._op_get().command == ("GETEX", "sx:v:ann:sliding", "EX", 30)
    assert v.sliding._op_read().command == ("GET", "sx:v:ann:sliding")
    assert v.sliding_forever._op_get().command == ("GET", "sx:v:ann:sliding_forever")


def test_models_round_trip(v: Any) -> None:
    card = Card(number="4111 1111 1111 1111", cvc=123)
    token = v.card._op_set(card).command[2]
    assert b"4111" not in token
    assert v.card._op_get().parse(token) == card
    assert v.card._op_get().parse(v.card._op_set({"number": "1", "cvc": "7"}).command[2]) == Card(
        number="1", cvc=7
    )


def test_pydantic_secrets_keep_their_value(v: Any) -> None:
    token = v.api._op_set(SecretStr(PLAIN)).command[2]
    api = v.api._op_get().parse(token)
    assert isinstance(api, SecretStr)
    assert api.get_secret_value() == PLAIN
    blob = v.blob._op_get().parse(v.blob._op_set(SecretBytes(b"\xff\x00")).command[2])
    assert blob.get_secret_value() == b"\xff\x00"


def test_a_token_of_another_key_does_not_decrypt(v: Any) -> None:
    token = v.token._op_set(PLAIN).command[2]
    with pytest.raises(DecryptionError, match="sx:v:ann:sliding"):
        v.sliding._op_get().parse(token)


def test_an_invalid_value_raises_without_its_input(v: Any) -> None:
    with pytest.raises(ValidationError) as info:
        v.pin._op_set(PLAIN)
    error = info.value
    assert error.__context__ is None
    assert error.__cause__ is None
    shown = "".join(traceback.format_exception(error)) + repr(error) + str(error.errors())
    assert PLAIN not in shown
    assert error.errors()[0]["type"] == "int_parsing"
    assert "valid integer" in str(error)
    with pytest.raises(ValidationError) as model_info:
        v.card._op_set({"number": PLAIN})
    assert PLAIN not in str(model_info.value)
    assert ("cvc",) in [e["loc"] for e in model_info.value.errors()]


def test_a_stale_declaration_reads_as_corrupt_without_the_value(v: Any) -> None:
    token = keyring().encrypt(b'"not a number"', "sx:v:ann:pin")
    with pytest.raises(CorruptValueError, match="declared type changed") as info:
        v.pin._op_get().parse(token)
    assert "not a number" not in str(info.value)
    assert info.value.__context__ is None
    assert not isinstance(info.value, DecryptionError)
    garbage = keyring().encrypt(b"{not json", "sx:v:ann:loose")
    with pytest.raises(CorruptValueError, match=r"\(ValueError\)"):
        v.loose._op_get().parse(garbage)


def test_rotate_flow(v: Any) -> None:
    old = keyring(OLD).encrypt(b'"x"', "sx:v:ann:token")
    flow = v.token._flow_rotate(3)
    assert next(flow) == Watch(("sx:v:ann:token",))
    read = flow.send(None)
    assert isinstance(read, Call)
    assert read.command == ("GET", "sx:v:ann:token")
    with pytest.raises(DecryptionError):  # this repository does not know the old key
        flow.send(old)


def test_rotate_flow_rewrites_old_tokens_keeping_the_ttl() -> None:
    settings = RedisSettings(encryption_key=KEY, encryption_old_keys=OLD)
    v = keyspace.Repository(Root, fakeredis.FakeAsyncRedis(), settings=settings).vault("ann")
    old = keyring(OLD).encrypt(b'"x"', "sx:v:ann:token")
    flow = v.token._flow_rotate(2)
    next(flow)
    flow.send(None)
    write = flow.send(old)
    assert isinstance(write, Exec)
    ((command, name, token, keep),) = write.commands
    assert (command, name, keep) == ("SET", "sx:v:ann:token", "KEEPTTL")
    assert keyring(KEY).decrypt(token, name) == b'"x"'
    assert isinstance(flow.send(None), Sleep)  # a conflict: wait, then try again
    assert next(flow) == Watch((name,))
    flow.send(None)
    flow.send(old)
    with pytest.raises(StopIteration) as done:
        flow.send([b"OK"])
    assert done.value.value is True
    current = v.token._flow_rotate(1)
    next(current)
    current.send(None)
    with pytest.raises(StopIteration) as skipped:
        current.send(token)
    assert skipped.value.value is False
    lost = v.token._flow_rotate(1)
    next(lost)
    lost.send(None)
    lost.send(old)
    assert isinstance(lost.send(None), Sleep)
    with pytest.raises(keyspace.ConflictError, match="rotate of 'sx:v:ann:token'"):
        lost.send(None)
    with pytest.raises(OptionsError, match="attempts"):
        next(v.token._flow_rotate(0))


# -- password key ops --------------------------------------------------------------------


def test_password_set_always_hashes(v: Any) -> None:
    op = v.password._op_set(PLAIN)
    assert op.command[0:2] == ("SET", "sx:v:ann:password")
    assert op.command[3:] == ("EX", 60)
    stored = op.command[2]
    assert stored.startswith(b"$argon2id$")
    assert PLAIN.encode() not in stored
    hashed = PasswordHash(stored.decode())
    assert hashed.verify(PLAIN)
    looks_like_a_hash = v.password._op_set(stored.decode()).command[2]
    assert looks_like_a_hash != stored
    assert PasswordHash(looks_like_a_hash.decode()).verify(stored.decode())
    assert v.password._op_set(hashed).command[2] == stored  # a PasswordHash is kept
    assert v.forever._op_set(PLAIN).command[3:] == ()


def test_password_get_and_verify(v: Any) -> None:
    stored = v.password._op_set(PLAIN).command[2]
    got = v.password._op_get().parse(stored)
    assert isinstance(got, PasswordHash)
    assert got.encoded == stored.decode()
    assert v.password._op_get().parse(stored.decode()) == got
    with pytest.raises(KeyNotFoundError):
        v.password._op_get().parse(None)
    verify = v.password._op_verify(PLAIN)
    assert verify.command == ("GET", "sx:v:ann:password")
    assert verify.parse(stored) is True
    assert v.password._op_verify("wrong").parse(stored) is False
    assert verify.parse(None) is False
    assert verify.parse(None) is False  # the dummy hash is made once
    assert v.password._op_hash().parse(None) is None
    assert v.password._op_the_type().parse(stored) is PasswordHash


def test_a_corrupt_password_hash(v: Any) -> None:
    with pytest.raises(CorruptValueError, match="not an argon2 password hash") as info:
        v.password._op_get().parse(b"hunter2")
    assert "hunter2" not in str(info.value)
    assert info.value.__context__ is None


def test_a_password_of_a_wrong_type_is_refused_before_sending(v: Any) -> None:
    with pytest.raises(UnsupportedValueError, match="sx:v:ann:password") as info:
        v.password._op_set(987654)
    assert "987654" not in str(info.value)


def test_password_hash_as_a_pydantic_type() -> None:
    codec = codec_for(PasswordHash)
    hashed = hash_password(PLAIN)
    assert codec.validate(hashed) is hashed
    assert codec.validate(PLAIN).verify(PLAIN)  # a Python str is a password
    with pytest.raises(ValidationError):
        codec.validate(None)
    stored = codec.dump(hashed)
    assert stored == b'"' + hashed.encoded.encode() + b'"'
    assert codec.load(stored, key="k") == hashed  # a JSON str is a stored hash
    with pytest.raises(CorruptValueError, match="not an argon2 password hash"):
        codec.load(b'"hunter2"', key="k")
