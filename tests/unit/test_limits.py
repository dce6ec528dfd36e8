"""The size limits every command passes before it is sent, short and long commands alike."""

from __future__ import annotations

import pytest

from keyspace import ValueTooLargeError
from keyspace._execute import Limits

LIMITS = Limits(max_key_bytes=64, max_value_bytes=100)
NAMES = [f"ks:user:{i}:age" for i in range(40)]


@pytest.mark.parametrize("count", [1, 16, 17, 40])
def test_commands_within_the_limits_pass(count: int) -> None:
    LIMITS.check_one(("UNLINK", *NAMES[:count]))
    LIMITS.check_one(("ZADD", "ks:board", *[part for i in range(count) for part in (i, f"m{i}")]))


@pytest.mark.parametrize("count", [1, 16, 17, 40])
def test_an_oversized_name_is_refused_wherever_it_stands(count: int) -> None:
    long_name = "ks:" + "x" * 62  # 65 bytes
    for position in (0, count // 2, count):
        names = [*NAMES[:count]]
        names.insert(position, long_name)
        with pytest.raises(ValueTooLargeError, match="key name is 65 bytes"):
            LIMITS.check_one(("UNLINK", *names))


@pytest.mark.parametrize("count", [1, 17, 40])
def test_an_oversized_value_among_numbers_is_refused(count: int) -> None:
    members = [part for i in range(count) for part in (i, f"m{i}")]
    with pytest.raises(ValueTooLargeError, match="a value is 101 bytes"):
        LIMITS.check_one(("ZADD", "ks:board", *members, 1.5, "é" * 50 + "x"))


def test_multibyte_text_is_measured_in_utf8_bytes() -> None:
    LIMITS.check_one(("UNLINK", *NAMES[:20], "ks:" + "é" * 30))  # 63 bytes: within
    with pytest.raises(ValueTooLargeError, match="key name is 65 bytes"):
        LIMITS.check_one(("UNLINK", *NAMES[:20], "ks:" + "é" * 31))
