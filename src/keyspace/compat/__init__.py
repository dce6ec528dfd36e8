"""Migration paths from the Redis libraries that keyspace replaces.

Each path lives in its own module, ``keyspace.compat.<name>``, and keeps the
peer's API and storage format on top of keyspace's core, so that switching is
a change of import lines and existing data stays readable:

- :mod:`keyspace.compat.redisimnest`: ``BaseCluster``, ``Key``,
  ``RedisManager``, ``serialize``/``deserialize`` of redisimnest, reading and
  writing its ``{"__type__": ..., "value": ...}`` envelopes.
- :mod:`keyspace.compat.redis_dict`: ``RedisDict`` and ``PythonRedisDict`` of
  redis-dict, reading and writing its ``"<Type>:<payload>"`` strings.
- :mod:`keyspace.compat.redis_pydict`: ``PyRedisDict`` of redis-pydict, its
  one-byte tagged values at ``namespace&&key`` and its key events.

Nothing is imported here: import the module of the path you need.
"""
