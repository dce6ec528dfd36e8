"""``keyspace.compat.redisimnest``: redisimnest's API on keyspace's core.

Switch by changing the import lines::

    from redisimnest import BaseCluster, Key                  # before
    from redisimnest.utils import RedisManager, serialize, deserialize

    from keyspace.compat.redisimnest import BaseCluster, Key  # after
    from keyspace.compat.redisimnest import RedisManager, serialize, deserialize

Clusters, keys, binding by call, keyword and ``[x]``, TTL drilling, ``subkeys()``, ``clear()``,
``describe()``, ``get_pipeline()`` and the key methods work as redisimnest documents them, and
values are stored in redisimnest's ``{"__type__": ..., "value": ...}`` envelope, so data
written by either library reads in the other. Where redisimnest contradicts its own
documentation, this follows the documentation: ``root.user[123, 'extra']`` raises, and
clearing ``user(1)`` leaves ``user(10)`` alone. See ``docs/migration/redisimnest.md``.
"""

from .._errors import BindingError, DeclarationError, InvalidParameterError
from ._redisimnest_clusters import BaseCluster, BoundCluster, Pipeline, RedisManager
from ._redisimnest_keys import BoundKey, Key
from ._redisimnest_values import (
    SERIALIZED_TYPE_MAP,
    Legacy,
    RedisimnestValue,
    deserialize,
    serialize,
)

__all__ = [
    "SERIALIZED_TYPE_MAP",
    "BaseCluster",
    "BoundCluster",
    "BoundKey",
    "InvalidPrefixTemplateError",
    "Key",
    "Legacy",
    "MissingParameterError",
    "ParameterValidationError",
    "Pipeline",
    "RedisManager",
    "RedisimnestValue",
    "deserialize",
    "serialize",
]

MissingParameterError = BindingError
"""redisimnest's name for a missing (or wrong) parameter: :class:`keyspace.BindingError`."""
InvalidPrefixTemplateError = DeclarationError
"""redisimnest's name for a bad template: :class:`keyspace.DeclarationError`."""
ParameterValidationError = InvalidParameterError
"""redisimnest's name for a bad parameter value: :class:`keyspace.InvalidParameterError`."""
