"""Sorted-set keys (``SortedSetKey[T]``): members are the JSON of ``T``, scores are floats.

Members follow the rules of set members (see ``_sets``). Scores must be finite
numbers (``bool``, ``nan`` and infinities raise pydantic's ``ValidationError``);
range bounds may be infinite and exclusive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AllowInfNan, Strict, TypeAdapter

from ._errors import OptionsError
from ._facade import AsyncKey, SyncKey
from ._keys import INHERIT, TTLArg
from ._plan import Batch, Call, Command, Op
from ._sets import CollectionOps, check_count

__all__ = ["AsyncSortedSetKey", "Bound", "SortedSetOps", "SyncSortedSetKey"]

T = TypeVar("T")

Bound = float | str
"""A score bound: a number (``math.inf`` allowed) or text: ``"-inf"``, ``"+inf"``, ``"(2.5"``
(exclusive), ``"3"``."""

_SCORE: TypeAdapter[float] = TypeAdapter(Annotated[float, Strict(), AllowInfNan(False)])


def _score(value: object) -> float:
    """A finite float score; pydantic's ``ValidationError`` for anything else."""
    return _SCORE.validate_python(value)


def _bound(value: object, where: str) -> str:
    """A score bound as Redis reads it: ``-inf``, ``+inf``, ``1.5``, ``(1.5``."""
    exclusive = False
    number: float
    if isinstance(value, str):
        text = value.strip()
        exclusive = text.startswith("(")
        try:
            number = float(text[1:] if exclusive else text)
        except ValueError:
            number = math.nan
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        number = math.nan
    if math.isnan(number):
        raise OptionsError(
            f"{where}: a score bound must be a number, '-inf', '+inf' or '(' and a number"
            f" (exclusive); got {value!r}"
        )
    text = ("+inf" if number > 0 else "-inf") if math.isinf(number) else repr(number)
    return f"({text}" if exclusive else text


def _float_or_none(reply: Any) -> float | None:
    return None if reply is None else float(reply)


def _int_or_none(reply: Any) -> int | None:
    return None if reply is None else int(reply)


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    """WITHSCORES replies: a flat ``[m, s, ...]`` list (RESP2) or ``[[m, s], ...]`` pairs."""
    items = list(reply or ())
    if items and isinstance(items[0], (list, tuple)):
        return [(member, score) for member, score in items]
    return list(zip(items[::2], items[1::2], strict=True))


class SortedSetOps(CollectionOps[T]):
    """The operations of a sorted-set key, as ops (no I/O)."""

    __slots__ = ()

    def _decode_pairs(self) -> Callable[[Any], list[tuple[T, float]]]:
        load = self._loader()
        return lambda reply: [(load(m), float(s)) for m, s in _pairs(reply)]

    def _mapping(self, mapping: Mapping[T, float]) -> dict[bytes, float]:
        """Validated members and scores; a member repeated after validation keeps its last score."""
        if not isinstance(mapping, Mapping):
            raise OptionsError(
                f"{self._node.where}: expected a mapping of members to scores, got {mapping!r}"
            )
        return {self._member(member): _score(score) for member, score in mapping.items()}

    def _zadd(self, scored: dict[bytes, float], nx: bool, xx: bool, gt: bool, lt: bool) -> Command:
        where = self._node.where
        if nx and xx:
            raise OptionsError(f"{where} add: nx and xx exclude each other")
        if gt and lt:
            raise OptionsError(f"{where} add: gt and lt exclude each other")
        if nx and (gt or lt):
            raise OptionsError(f"{where} add: nx excludes gt and lt")
        flags = [word for word, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on]
        pairs = [item for member, score in scored.items() for item in (score, member)]
        return ("ZADD", self.key, *flags, *pairs)

    def _op_get(self) -> Op[dict[T, float]]:
        pairs = self._decode_pairs()
        default = self._default

        def parse(reply: Any) -> dict[T, float]:
            return dict(pairs(reply)) if reply else default()

        return self._read(("ZRANGE", self.key, 0, -1, "WITHSCORES"), parse)

    def _op_set(self, mapping: Mapping[T, float], ttl: TTLArg = INHERIT) -> Batch[None]:
        name = self.key
        scored = self._mapping(mapping)
        self._ttl(ttl)  # a bad ttl= raises even when the mapping is empty
        if not scored:
            return Batch((("DEL", name),), lambda replies: None, name, self._kind)
        zadd = self._zadd(scored, False, False, False, False)
        commands = self._with_ttl(name, (("DEL", name), zadd), ttl)
        return Batch(commands, lambda replies: None, name, self._kind)

    def _op_add(
        self,
        member: T,
        score: float,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Op[bool]:
        scored = {self._member(member): _score(score)}
        return self._write_first((self._zadd(scored, nx, xx, gt, lt),), bool)

    def _op_add_many(
        self,
        mapping: Mapping[T, float],
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Op[int]:
        scored = self._mapping(mapping)
        command = self._zadd(scored, nx, xx, gt, lt)  # checks the options even when empty
        return self._write_first((command,), int) if scored else self._nothing(0)

    def _op_incr(self, member: T, by: float = 1.0) -> Op[float]:
        command = ("ZINCRBY", self.key, _score(by), self._member(member))
        return self._write_first((command,), float)  # float() reads bytes, str and float replies

    def _op_score(self, member: T) -> Op[float | None]:
        return self._read(("ZSCORE", self.key, self._member(member)), _float_or_none)

    def _op_rank(self, member: T, *, reverse: bool = False) -> Op[int | None]:
        word = "ZREVRANK" if reverse else "ZRANK"
        return self._read((word, self.key, self._member(member)), _int_or_none)

    def _by_index(self, start: int, stop: int, reverse: bool, scores: bool) -> Command:
        for value in (start, stop):
            if not isinstance(value, int) or isinstance(value, bool):
                raise OptionsError(f"{self._node.where} range: indexes must be int, got {value!r}")
        return (
            "ZRANGE",
            self.key,
            start,
            stop,
            *(("REV",) if reverse else ()),
            *(("WITHSCORES",) if scores else ()),
        )

    def _by_score(
        self,
        low: Bound,
        high: Bound,
        reverse: bool,
        offset: int | None,
        count: int | None,
        scores: bool,
    ) -> Command:
        where = f"{self._node.where} range_by_score"
        low_text, high_text = _bound(low, where), _bound(high, where)
        limit: tuple[Any, ...] = ()
        if offset is not None or count is not None:
            start = check_count(0 if offset is None else offset, "offset", where)
            size = -1 if count is None else check_count(count, "count", where)
            limit = ("LIMIT", start, size)
        # With REV, Redis takes the bounds high first.
        bounds = (high_text, low_text) if reverse else (low_text, high_text)
        return (
            "ZRANGE",
            self.key,
            *bounds,
            "BYSCORE",
            *(("REV",) if reverse else ()),
            *limit,
            *(("WITHSCORES",) if scores else ()),
        )

    def _op_range(self, start: int = 0, stop: int = -1, *, reverse: bool = False) -> Op[list[T]]:
        command = self._by_index(start, stop, reverse, False)
        return self._read(command, self._decode_list())

    def _op_range_with_scores(
        self, start: int = 0, stop: int = -1, *, reverse: bool = False
    ) -> Op[list[tuple[T, float]]]:
        command = self._by_index(start, stop, reverse, True)
        return self._read(command, self._decode_pairs())

    def _op_range_by_score(
        self,
        min: Bound = "-inf",
        max: Bound = "+inf",
        *,
        reverse: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> Op[list[T]]:
        command = self._by_score(min, max, reverse, offset, count, False)
        return self._read(command, self._decode_list())

    def _op_range_by_score_with_scores(
        self,
        min: Bound = "-inf",
        max: Bound = "+inf",
        *,
        reverse: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> Op[list[tuple[T, float]]]:
        command = self._by_score(min, max, reverse, offset, count, True)
        return self._read(command, self._decode_pairs())

    def _op_remove(self, *members: T) -> Op[int]:
        encoded = self._members(members)
        if not encoded:
            return self._nothing(0)
        return Call(("ZREM", self.key, *encoded), int, self.key, self._kind)

    def _op_length(self) -> Op[int]:
        return self._read(("ZCARD", self.key), int)


class AsyncSortedSetKey(AsyncKey[T], SortedSetOps[T]):
    """A sorted-set key of a :class:`Repository`; every I/O method is a coroutine."""

    __slots__ = ()

    async def get(self) -> dict[T, float]:
        """``{member: score}`` in score order; when missing, a copy of the default (``{}``)."""
        return await self._rt.executor.call(self._op_get())

    async def set(self, mapping: Mapping[T, float], ttl: TTLArg = INHERIT) -> None:
        """Replace the whole sorted set and apply its TTL in one MULTI/EXEC; ``{}`` deletes it.

        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return await self._rt.executor.call(self._op_set(mapping, ttl))

    async def add(
        self,
        member: T,
        score: float,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """Add or update one member (``ZADD``) and apply the TTL; whether it was new.

        ``nx``: only add new members; ``xx``: only update existing ones; ``gt`` /
        ``lt``: only update when the new score is greater / less (Redis >= 6.2).
        """
        return await self._rt.executor.call(self._op_add(member, score, nx=nx, xx=xx, gt=gt, lt=lt))

    async def add_many(
        self,
        mapping: Mapping[T, float],
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> int:
        """Add or update ``{member: score}`` (``ZADD``) and apply the TTL; how many were new.

        The options are those of :meth:`add`.
        """
        return await self._rt.executor.call(self._op_add_many(mapping, nx=nx, xx=xx, gt=gt, lt=lt))

    async def incr(self, member: T, by: float = 1.0) -> float:
        """Add ``by`` to the score (``ZINCRBY``; from 0 if absent), apply the TTL; the new score."""
        return await self._rt.executor.call(self._op_incr(member, by))

    async def score(self, member: T) -> float | None:
        """The member's score (``ZSCORE``); ``None`` when it is not in the set."""
        return await self._rt.executor.call(self._op_score(member))

    async def rank(self, member: T, *, reverse: bool = False) -> int | None:
        """The member's 0-based rank by ascending score, or descending if ``reverse``.

        ``ZRANK`` / ``ZREVRANK``; ``None`` when the member is not in the set.
        """
        return await self._rt.executor.call(self._op_rank(member, reverse=reverse))

    async def range(self, start: int = 0, stop: int = -1, *, reverse: bool = False) -> list[T]:
        """Members by rank, ``start`` to ``stop`` inclusive; negative ranks count from the end.

        ``ZRANGE``; ``reverse`` ranks by descending score.
        """
        return await self._rt.executor.call(self._op_range(start, stop, reverse=reverse))

    async def range_with_scores(
        self, start: int = 0, stop: int = -1, *, reverse: bool = False
    ) -> list[tuple[T, float]]:
        """``(member, score)`` pairs by rank, as :meth:`range` selects them."""
        return await self._rt.executor.call(
            self._op_range_with_scores(start, stop, reverse=reverse)
        )

    async def range_by_score(
        self,
        min: Bound = "-inf",
        max: Bound = "+inf",
        *,
        reverse: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> list[T]:
        """Members with ``min <= score <= max``, ascending (descending if ``reverse``).

        Bounds are numbers (``math.inf`` too), ``"-inf"``, ``"+inf"``, or ``"(x"`` for an
        exclusive bound. ``offset`` and ``count`` page through the result (``LIMIT``).
        ``ZRANGE ... BYSCORE`` (Redis >= 6.2).
        """
        return await self._rt.executor.call(
            self._op_range_by_score(min, max, reverse=reverse, offset=offset, count=count)
        )

    async def range_by_score_with_scores(
        self,
        min: Bound = "-inf",
        max: Bound = "+inf",
        *,
        reverse: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> list[tuple[T, float]]:
        """``(member, score)`` pairs, as :meth:`range_by_score` selects them."""
        return await self._rt.executor.call(
            self._op_range_by_score_with_scores(
                min, max, reverse=reverse, offset=offset, count=count
            )
        )

    async def remove(self, *members: T) -> int:
        """Remove members (``ZREM``); how many were there. The TTL is left as it is."""
        return await self._rt.executor.call(self._op_remove(*members))

    async def length(self) -> int:
        """How many members the sorted set has (``ZCARD``); 0 when missing."""
        return await self._rt.executor.call(self._op_length())


class SyncSortedSetKey(SyncKey[T], SortedSetOps[T]):
    """A sorted-set key of a :class:`SyncRepository`."""

    __slots__ = ()

    def get(self) -> dict[T, float]:
        """``{member: score}`` in score order; when missing, a copy of the default (``{}``)."""
        return self._rt.executor.call(self._op_get())

    def set(self, mapping: Mapping[T, float], ttl: TTLArg = INHERIT) -> None:
        """Replace the whole sorted set and apply its TTL in one MULTI/EXEC; ``{}`` deletes it.

        Raises pydantic's ``ValidationError`` before anything is sent.
        """
        return self._rt.executor.call(self._op_set(mapping, ttl))

    def add(
        self,
        member: T,
        score: float,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """Add or update one member (``ZADD``) and apply the TTL; whether it was new.

        ``nx``: only add new members; ``xx``: only update existing ones; ``gt`` /
        ``lt``: only update when the new score is greater / less (Redis >= 6.2).
        """
        return self._rt.executor.call(self._op_add(member, score, nx=nx, xx=xx, gt=gt, lt=lt))

    def add_many(
        self,
        mapping: Mapping[T, float],
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> int:
        """Add or update ``{member: score}`` (``ZADD``) and apply the TTL; how many were new.

        The options are those of :meth:`add`.
        """
        return self._rt.executor.call(self._op_add_many(mapping, nx=nx, xx=xx, gt=gt, lt=lt))

    def incr(self, member: T, by: float = 1.0) -> float:
        """Add ``by`` to the score (``ZINCRBY``; from 0 if absent), apply the TTL; the new score."""
        return self._rt.executor.call(self._op_incr(member, by))

    def score(self, member: T) -> float | None:
        """The member's score (``ZSCORE``); ``None`` when it is not in the set."""
        return self._rt.executor.call(self._op_score(member))

    def rank(self, member: T, *, reverse: bool = False) -> int | None:
        """The member's 0-based rank by ascending score, or descending if ``reverse``.

        ``ZRANK`` / ``ZREVRANK``; ``None`` when the member is not in the set.
        """
        return self._rt.executor.call(self._op_rank(member, reverse=reverse))

    def range(self, start: int = 0, stop: int = -1, *, reverse: bool = False) -> list[T]:
        """Members by rank, ``start`` to ``stop`` inclusive; negative ranks count from the end.

        ``ZRANGE``; ``reverse`` ranks by descending score.
        """
        return self._rt.executor.call(self._op_range(start, stop, reverse=reverse))

    def range_with_scores(
        self, start: int = 0, stop: int = -1, *, reverse: bool = False
    ) -> list[tuple[T, float]]:
        """``(member, score)`` pairs by rank, as :meth:`range` selects them."""
        return self._rt.executor.call(self._op_range_with_scores(start, stop, reverse=reverse))

    def range_by_score(
        self,
        min: Bound = "-inf",
        max: Bound = "+inf",
        *,
        reverse: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> list[T]:
        """Members with ``min <= score <= max``, ascending (descending if ``reverse``).

        Bounds are numbers (``math.inf`` too), ``"-inf"``, ``"+inf"``, or ``"(x"`` for an
        exclusive bound. ``offset`` and ``count`` page through the result (``LIMIT``).
        ``ZRANGE ... BYSCORE`` (Redis >= 6.2).
        """
        return self._rt.executor.call(
            self._op_range_by_score(min, max, reverse=reverse, offset=offset, count=count)
        )

    def range_by_score_with_scores(
        self,
        min: Bound = "-inf",
        max: Bound = "+inf",
        *,
        reverse: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> list[tuple[T, float]]:
        """``(member, score)`` pairs, as :meth:`range_by_score` selects them."""
        return self._rt.executor.call(
            self._op_range_by_score_with_scores(
                min, max, reverse=reverse, offset=offset, count=count
            )
        )

    def remove(self, *members: T) -> int:
        """Remove members (``ZREM``); how many were there. The TTL is left as it is."""
        return self._rt.executor.call(self._op_remove(*members))

    def length(self) -> int:
        """How many members the sorted set has (``ZCARD``); 0 when missing."""
        return self._rt.executor.call(self._op_length())
