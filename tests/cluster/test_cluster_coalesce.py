"""Coalesced reads on a real three-primary Redis Cluster: redis-py's cluster pipeline splits
the batch by node, and every caller still gets its own result or error."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.cluster import ClusterNode, RedisCluster

from keyspace import Cluster, Key, ListKey, RedisSettings, Repository, WrongTypeError
from servers import ClusterDeployment


class Item(Cluster, prefix="item:{item_id}"):
    price: Key[int] = 0
    history: ListKey[int]


class Shop(Cluster, prefix="shop"):
    item: Item


async def test_concurrent_reads_across_every_primary_share_one_pipeline(
    clean_redis_cluster: ClusterDeployment,
) -> None:
    nodes = [ClusterNode(host, port) for host, port in clean_redis_cluster.nodes]
    with RedisCluster(startup_nodes=nodes) as raw:
        for i in range(30):
            raw.set(f"shop:item:{i}:price", str(i))
        raw.delete("shop:item:5:price")
        raw.rpush("shop:item:5:price", "a list")
        primaries = {node.port for node in raw.get_primaries()}
        owners = {raw.get_node_from_key(f"shop:item:{i}:price").port for i in range(30)}
    assert owners == primaries  # the batch reaches every primary
    settings = RedisSettings(url=clean_redis_cluster.url, coalesce_reads=True)
    repo = Repository(Shop, settings=settings)
    sent: list[str] = []
    client: Any = repo.client
    make_pipeline = client.pipeline
    execute_command = client.execute_command

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        sent.append("pipeline")
        return make_pipeline(*args, **kwargs)

    async def command(*args: Any, **kwargs: Any) -> Any:
        sent.append(str(args[0]))
        return await execute_command(*args, **kwargs)

    client.pipeline, client.execute_command = pipeline, command
    try:
        results = await asyncio.gather(
            *(repo.item(i).price.get() for i in range(32)),
            repo.item(9).history.length(),
            return_exceptions=True,
        )
    finally:
        del client.pipeline, client.execute_command
        await repo.aclose()

    error = results.pop(5)
    assert results == [*range(5), *range(6, 30), 0, 0, 0]
    assert isinstance(error, WrongTypeError)
    assert "holds a Redis list" in str(error)
    assert sent == ["pipeline", "pipeline"]  # the batch, then the TYPE of the failed key
