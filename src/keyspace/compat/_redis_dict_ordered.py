"""``PythonRedisDict``: redis-dict's insertion-ordered mapping.

The order lives where redis-dict keeps it, in the sorted set
``redis-dict-insertion-order-<namespace>`` whose members are the entries' Redis keys, scored
by insertion time. Every write sends its entries and their order in one MULTI/EXEC (a plain
pipeline on Redis Cluster, where the order key is on another slot).

Expiry does not reach the sorted set, so it can name entries that are gone. Every walk of the
order (iteration, ``len()``, the views, ``popitem()``) skips them and prunes them: it removes
the members, then checks the keys again and restores any member whose key a writer recreated
meanwhile, so that a live entry never loses its place. An entry written again after it expired
is a new insertion and moves to the end, like a key deleted and set again in a ``dict``
(inside ``pipeline()`` it keeps its old place until the next write outside one).
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from typing_extensions import TypeVar

from .. import _plan as plan
from .._execute import SyncClient
from .._keys import INHERIT, TTLArg
from .._mapping_core import _UNSET, glob_escape
from .._plan import Batch, Call, Command, Emit, Flow, Op
from .._settings import RedisSettings
from ._redis_dict_core import Expire, RedisDict

__all__ = ["PythonRedisDict"]

K = TypeVar("K", default=str)
V = TypeVar("V", default=Any)

_TICK = 1e-6  # apart enough to stay distinct doubles at today's epoch seconds
_clock_lock = threading.Lock()
_last_score = 0.0


def _scores(count: int) -> builtins.list[float]:
    """Insertion scores (epoch seconds), increasing within this process even when the clock
    does not move, so that one ``update()`` keeps its pairs' order."""
    global _last_score
    with _clock_lock:
        start = max(time.time(), _last_score + _TICK)
        _last_score = start + (count - 1) * _TICK
    return [start + i * _TICK for i in range(count)]


def _score_pairs(reply: Any) -> builtins.list[tuple[bytes, float]]:
    """``ZRANGE ... WITHSCORES`` as (member, score): flat (RESP2) or paired (RESP3) replies."""
    if reply and isinstance(reply[0], (list, tuple)):
        return [(plan.as_bytes(member), float(score)) for member, score in reply]
    it = iter(reply)
    return [(plan.as_bytes(member), float(score)) for member, score in zip(it, it, strict=True)]


def _not_part(name: str) -> NotImplementedError:
    return NotImplementedError(f"{name}() is not part of PythonRedisDict")


class PythonRedisDict(RedisDict[K, V]):
    """redis-dict's ``PythonRedisDict``: a :class:`RedisDict` that keeps insertion order,
    pops the last inserted entry, and raises ``KeyError`` when deleting a missing key.

    Iteration, ``len()`` and the views follow the recorded order and count only entries that
    exist. Entries written by other programs without recording their order are readable
    (``d[k]``, ``in``) but not iterated. ``multi_get()``, ``multi_dict()``, ``multi_del()`` and
    ``multi_chain_get()`` raise ``NotImplementedError``, as in redis-dict.
    """

    def __init__(
        self,
        namespace: str = "main",
        expire: Expire = None,
        preserve_expiration: bool | None = False,
        redis: SyncClient | None = None,
        *,
        settings: RedisSettings | None = None,
        **redis_kwargs: Any,
    ) -> None:
        super().__init__(
            namespace,
            expire,
            preserve_expiration,
            redis,
            raise_key_error_delete=True,
            settings=settings,
            **redis_kwargs,
        )
        self._order = f"redis-dict-insertion-order-{namespace}"

    # -- writes -------------------------------------------------------------------

    def _write(self, op: Op[Any] | None) -> None:
        if op is not None and (op := self._queued(op)) is not None:
            self._reinsert(self._executor.call(op))

    def _reinsert(self, stale: builtins.list[str] | None) -> None:
        """Move entries recreated over a stale order member to the end (no flag: a walk may
        have pruned the member meanwhile)."""
        if stale:
            scores = _scores(len(stale))
            pairs = [part for pair in zip(scores, stale, strict=True) for part in pair]
            self._executor.call(Call(("ZADD", self._order, *pairs), plan.truthy))

    def _ordered_write(self, entries: dict[str, bytes], ttl: TTLArg) -> Op[builtins.list[str]]:
        """SET the entries and record new ones at the end, in one round trip; the result names
        the entries that were new although a (stale) order member remained."""
        names = builtins.list(entries)
        count = len(names)
        exists = tuple(("EXISTS", name) for name in names)
        sets = tuple(
            c for name, data in entries.items() for c in self._set_commands(name, data, ttl)
        )
        zadds = tuple(
            ("ZADD", self._order, "NX", score, name)
            for name, score in zip(names, _scores(count), strict=True)
        )

        def parse(replies: builtins.list[Any]) -> builtins.list[str]:
            existed, added = replies[:count], replies[-count:]
            return [
                name
                for name, was, new in zip(names, existed, added, strict=True)
                if not plan.truthy(was) and not plan.truthy(new)
            ]

        return Batch(exists + sets + zadds, parse, atomic=self._atomic)

    def _op_set(self, key: K, value: V, ttl: TTLArg = INHERIT) -> Op[Any]:
        return self._ordered_write({self._name(key): self._codec.dump(value)}, ttl)

    def _op_update(self, pairs: Iterable[tuple[Any, Any]]) -> Op[Any] | None:
        entries = {self._name(key): self._codec.dump(value) for key, value in pairs}
        return self._ordered_write(entries, INHERIT) if entries else None

    def setdefault(self, key: K, default: Any = None, /) -> Any:
        """The value of ``key``; if missing, store ``default`` first (atomically, recording
        its order) and return it."""
        name = self._name(key)
        value = self._codec.validate(default)
        ms, _ = self._expiry(INHERIT)
        expiry = () if ms is None else plan.ex_px(ms)
        [score] = _scores(1)
        commands: tuple[Command, ...] = (
            ("SET", name, self._codec.dump(value), "NX", *expiry),
            ("GET", name),
            ("ZADD", self._order, "NX", score, name),
        )
        load = self._load

        def parse(replies: builtins.list[Any]) -> tuple[Any, builtins.list[str]]:
            if not plan.truthy(replies[0]):
                return load(replies[1], name), []
            return value, [] if plan.truthy(replies[2]) else [name]

        op = Batch(commands, parse, name, self._kind, atomic=self._atomic)
        result, stale = self._executor.call(self._after_buffer(op))
        self._reinsert(stale)
        return result

    # -- removals -----------------------------------------------------------------

    def __delitem__(self, key: K) -> None:
        self._write(self._op_remove(key))

    def delete(self, key: K) -> None:
        """``del d[key]``: ``KeyError`` when missing (outside ``pipeline()``)."""
        self._write(self._op_remove(key))

    def _op_remove(self, key: K) -> Op[None]:
        name = self._name(key)
        buffered = self._batch() is not None  # inside pipeline(): existence is unknown

        def parse(replies: builtins.list[Any]) -> None:
            if not buffered and not int(replies[0]):
                raise KeyError(key)

        commands = (("DEL", name), ("ZREM", self._order, name))
        return Batch(commands, parse, atomic=self._atomic)

    def _op_pop(self, key: K, default: Any) -> Op[Any]:
        name = self._name(key)
        load = self._load

        def parse(replies: builtins.list[Any]) -> Any:
            if replies[0] is not None:
                return load(replies[0], name)
            if default is _UNSET:
                raise KeyError(key)
            return default

        commands = (("GETDEL", name), ("ZREM", self._order, name))
        return self._after_buffer(Batch(commands, parse, name, self._kind, atomic=self._atomic))

    def _flow_popitem(self) -> Flow[tuple[K, V]]:
        return self._flow_after_buffer(self._pop_latest())

    def _pop_latest(self) -> Flow[tuple[K, V]]:
        """GETDEL the last recorded entry; members that are gone or no entries are skipped."""
        skipped = 0  # members at the end that are not entries of this mapping
        while True:
            members = yield ("ZREVRANGE", self._order, skipped, skipped)
            if not members:
                raise KeyError("popitem(): dictionary is empty")
            raw = plan.as_bytes(members[0])
            name = raw.decode("utf-8", "backslashreplace")
            key = self._key_of(name)
            if key is _UNSET:
                skipped += 1
                continue
            data, _ = yield [("GETDEL", raw), ("ZREM", self._order, raw)]
            if isinstance(data, Exception):
                raise data
            if data is not None:
                return key, self._load(data, name)

    def _flow_clear(self) -> Flow[int]:
        return self._flow_after_buffer(self._clear_ordered())

    def _clear_ordered(self) -> Flow[int]:
        # The order first: a write racing with clear() may leave a stale member (pruned
        # later), never an entry without one.
        yield ("DEL", self._order)
        pattern = f"{glob_escape(self._head)}*"
        return (yield from plan.scan_unlink(pattern, self._accepts, self._count, self._chunk))

    # -- walking the order --------------------------------------------------------

    def _flow_keys(self) -> Flow[None]:
        yield from self._walk(lambda key, _: key, values=False)

    def _flow_len(self) -> Flow[int]:
        return (yield from self._walk(None, values=False))

    def _flow_items(self, pick: Callable[[Any, V], Any] = lambda k, v: (k, v)) -> Flow[None]:
        yield from self._walk(pick, values=True)

    def _walk(self, pick: Callable[[Any, Any], Any] | None, *, values: bool) -> Flow[int]:
        """Emit ``pick(key, value)`` for each live entry in insertion order; how many.

        Pages by score (not by rank), so that removals during the walk skip nothing; the
        members already seen at the page's last score are skipped by offset.
        """
        low, offset, count = float("-inf"), 0, 0
        seen: builtins.set[bytes] = builtins.set()
        while True:
            bound = "-inf" if low == float("-inf") else repr(low)
            reply = yield (
                "ZRANGEBYSCORE", self._order, bound, "+inf",
                "WITHSCORES", "LIMIT", offset, self._count,
            )  # fmt: skip
            page = _score_pairs(reply)
            if not page:
                return count
            last = page[-1][1]
            tied = sum(1 for _, score in page if score == last)
            low, offset = (low, offset + len(page)) if last == low else (last, tied)
            entries = []
            for raw, score in page:
                if raw not in seen:
                    seen.add(raw)
                    key = self._key_of(raw.decode("utf-8", "backslashreplace"))
                    if key is not _UNSET:
                        entries.append((raw, key, score))
            if not entries:
                continue
            names = [raw for raw, _, _ in entries]
            replies = yield (self._fetch(names) if values else [("EXISTS", n) for n in names])
            stale: builtins.list[tuple[bytes, float]] = []
            for (raw, key, score), data in zip(entries, replies, strict=True):
                if isinstance(data, Exception):  # not a string (WRONGTYPE, Redis Cluster)
                    continue
                if data is None or (not values and not plan.truthy(data)):
                    stale.append((raw, score))
                    continue
                count += 1
                if pick is not None:
                    value = self._load(data, raw.decode("utf-8", "replace")) if values else None
                    yield Emit(pick(key, value))
            if stale:
                yield from self._prune(stale)

    def _prune(self, stale: builtins.list[tuple[bytes, float]]) -> Flow[None]:
        """Remove the order members of entries that are gone, then put back, at their old
        place, those a writer recreated meanwhile."""
        names = [raw for raw, _ in stale]
        replies = yield [("ZREM", self._order, *names), *(("EXISTS", n) for n in names)]
        back = [
            (score, raw)
            for (raw, score), exists in zip(stale, replies[1:], strict=True)
            if plan.truthy(exists)
        ]
        if back:
            yield ("ZADD", self._order, "NX", *(part for pair in back for part in pair))

    # -- redis-dict leaves these out of PythonRedisDict ---------------------------

    def multi_get(self, key: str) -> builtins.list[Any]:
        """Not part of PythonRedisDict: raises ``NotImplementedError``."""
        raise _not_part("multi_get")

    def multi_chain_get(self, keys: builtins.list[str]) -> builtins.list[Any]:
        """Not part of PythonRedisDict: raises ``NotImplementedError``."""
        raise _not_part("multi_chain_get")

    def multi_dict(self, key: str) -> dict[str, Any]:
        """Not part of PythonRedisDict: raises ``NotImplementedError``."""
        raise _not_part("multi_dict")

    def multi_del(self, key: str) -> int:
        """Not part of PythonRedisDict: raises ``NotImplementedError``."""
        raise _not_part("multi_del")
