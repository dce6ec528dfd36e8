"""keyspace: a typed keyspace ORM for Redis.

Declare your Redis keyspace once, as pydantic models, and get validated,
TTL-aware handles on it for asyncio (:class:`Repository`) and sync code
(:class:`SyncRepository`)::

    class User(Cluster, prefix="user:{user_id}", ttl=120):
        age: Key[int] = 0

    class Root(Cluster, prefix="root"):
        user: User

    repo = Repository(Root)
    await repo.user(1).age.set(30)      # SET root:user:1:age 30 EX 120
"""

from ._cluster import Cluster
from ._errors import (
    BindingError,
    CorruptValueError,
    DeclarationError,
    InvalidParameterError,
    KeyNotFoundError,
    KeyspaceError,
    OptionsError,
    SettingsError,
    TTLError,
    UnsupportedValueError,
)
from ._keys import INHERIT, Key
from ._repository import (
    AsyncBoundCluster,
    KeyScan,
    Repository,
    SyncBoundCluster,
    SyncRepository,
)
from ._settings import RedisSettings
from ._strings import AsyncBoundKey, SyncBoundKey

__all__ = [
    "INHERIT",
    "AsyncBoundCluster",
    "AsyncBoundKey",
    "BindingError",
    "Cluster",
    "CorruptValueError",
    "DeclarationError",
    "InvalidParameterError",
    "Key",
    "KeyNotFoundError",
    "KeyScan",
    "KeyspaceError",
    "OptionsError",
    "RedisSettings",
    "Repository",
    "SettingsError",
    "SyncBoundCluster",
    "SyncBoundKey",
    "SyncRepository",
    "TTLError",
    "UnsupportedValueError",
]

__version__ = "0.1.0"
