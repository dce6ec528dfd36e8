"""``keyspace.compat.redis_dict``: redis-dict's API on keyspace's mapping core.

Switch by changing the import line::

    from redis_dict import RedisDict, PythonRedisDict                    # before
    from keyspace.compat.redis_dict import RedisDict, PythonRedisDict    # after

Entries stay where redis-dict keeps them (one string per entry at ``<namespace>:<key>``) and in
its ``"<TypeName>:<payload>"`` format, so data written by either library reads in the other.
Every ``dict`` method and redis-dict's extras work as redis-dict documents them, on top of
:class:`keyspace.KeyspaceDict`: SCAN with per-iterator cursors, atomic ``pop()`` and
``setdefault()``, and ``expire_at()`` / ``pipeline()`` local to the current thread. See
``docs/migration/redis-dict.md`` for what differs.
"""

from ._redis_dict_core import RedisDict
from ._redis_dict_ordered import PythonRedisDict
from ._redis_dict_values import DecodeFunc, EncodeFunc, RedisDictCodec

__all__ = ["DecodeFunc", "EncodeFunc", "PythonRedisDict", "RedisDict", "RedisDictCodec"]
