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
from ._counters import AsyncCounterKey, SyncCounterKey
from ._crypto import PasswordHash, generate_encryption_key
from ._errors import (
    BindingError,
    ConflictError,
    CorruptValueError,
    CrossSlotError,
    DeclarationError,
    DecryptionError,
    InvalidParameterError,
    KeyNotFoundError,
    KeyspaceError,
    OptionsError,
    PipelineError,
    SettingsError,
    TTLError,
    UnsupportedValueError,
    ValueTooLargeError,
    WrongTypeError,
)
from ._events import KeyEvent
from ._hashes import AsyncHashKey, SyncHashKey
from ._keys import (
    INHERIT,
    Counter,
    FloatCounter,
    HashKey,
    Key,
    ListKey,
    PasswordKey,
    SecretKey,
    SetKey,
    SortedSetKey,
)
from ._lists import AsyncListKey, SyncListKey
from ._mapping import KeyspaceDict
from ._mapping_async import AsyncKeyspaceDict
from ._pipeline import AsyncPipeline, Pending, SyncPipeline
from ._repository import (
    AsyncBoundCluster,
    KeyScan,
    Repository,
    SyncBoundCluster,
    SyncRepository,
)
from ._secrets import AsyncPasswordKey, AsyncSecretKey, SyncPasswordKey, SyncSecretKey
from ._sets import AsyncSetKey, SyncSetKey
from ._settings import RedisSettings
from ._sorted_sets import AsyncSortedSetKey, SyncSortedSetKey
from ._strings import AsyncBoundKey, SyncBoundKey

__all__ = [
    "INHERIT",
    "AsyncBoundCluster",
    "AsyncBoundKey",
    "AsyncCounterKey",
    "AsyncHashKey",
    "AsyncKeyspaceDict",
    "AsyncListKey",
    "AsyncPasswordKey",
    "AsyncPipeline",
    "AsyncSecretKey",
    "AsyncSetKey",
    "AsyncSortedSetKey",
    "BindingError",
    "Cluster",
    "ConflictError",
    "CorruptValueError",
    "CrossSlotError",
    "Counter",
    "DeclarationError",
    "DecryptionError",
    "FloatCounter",
    "HashKey",
    "InvalidParameterError",
    "Key",
    "KeyEvent",
    "KeyNotFoundError",
    "KeyspaceDict",
    "KeyScan",
    "KeyspaceError",
    "ListKey",
    "OptionsError",
    "PasswordHash",
    "PasswordKey",
    "Pending",
    "PipelineError",
    "RedisSettings",
    "Repository",
    "SecretKey",
    "SetKey",
    "SettingsError",
    "SortedSetKey",
    "SyncBoundCluster",
    "SyncBoundKey",
    "SyncCounterKey",
    "SyncHashKey",
    "SyncListKey",
    "SyncPasswordKey",
    "SyncPipeline",
    "SyncRepository",
    "SyncSecretKey",
    "SyncSetKey",
    "SyncSortedSetKey",
    "TTLError",
    "UnsupportedValueError",
    "ValueTooLargeError",
    "WrongTypeError",
    "generate_encryption_key",
]

__version__ = "0.1.0"
