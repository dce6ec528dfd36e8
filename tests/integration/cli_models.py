"""A keyspace for the command-line tests: every key kind, TTLs, a sliding key, nesting."""

from __future__ import annotations

from pydantic import BaseModel

from keyspace import Cluster, Counter, FloatCounter, HashKey, Key, ListKey, SetKey, SortedSetKey


class Item(BaseModel):
    name: str
    price: float = 0.0


class Stock(BaseModel):
    count: int = 0
    warehouse: str = "main"


class Review(Cluster, prefix="review:{review_id}"):
    text: Key[str]


class Product(Cluster, prefix="product:{product_id}", ttl=600):
    product_id: int
    info: Key[Item]
    stock: HashKey[Stock]
    views: Counter
    rating: FloatCounter
    tags: SetKey[str]
    history: ListKey[int] = ListKey(ttl=None)
    weight: Key[float] = 0.0
    reviews: Review


class Shop(Cluster, prefix="shop"):
    name: Key[str]
    ranking: SortedSetKey[str]
    session: Key[str] = Key(default="", ttl=30, sliding=True)
    product: Product


class Tenant(Cluster, prefix="tenant:{tenant_id}"):
    name: Key[str]


class Catalog:
    """A namespace: ``MODULE:Catalog.Shop`` names a cluster class inside it."""

    shop = Shop


NOT_A_CLUSTER = 42
