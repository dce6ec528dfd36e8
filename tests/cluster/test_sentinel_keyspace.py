"""A repository on a Sentinel URL keeps working through a failover, in both flavours."""

from __future__ import annotations

import pytest
import redis

from keyspace import Cluster, Counter, Key, RedisSettings, Repository, SyncRepository
from servers import SentinelDeployment


class Account(Cluster, prefix="account:{account_id}"):
    balance: Key[int] = 0
    logins: Counter


class Bank(Cluster, prefix="bank"):
    account: Account


pytestmark = pytest.mark.usefixtures("no_redis_env")


async def test_repositories_keep_working_through_a_failover(
    fresh_redis_sentinel: SentinelDeployment,
) -> None:
    deployment = fresh_redis_sentinel
    settings = RedisSettings(url=deployment.url)
    assert settings.is_sentinel
    async with Repository(Bank, settings=settings) as arepo:
        with SyncRepository(Bank, settings=settings) as srepo:
            await arepo.account(1).balance.set(100)
            srepo.account(2).balance.set(200)
            assert await arepo.account(1).logins.incr() == 1
            # The replica has every write before its master goes away.
            assert srepo.client.execute_command("WAIT", 1, 5000) == 1

            deployment.master.stop()
            deployment.wait_for_master(deployment.replica.address)

            # The same repositories find the promoted replica through the sentinel: their
            # clients reconnect and retry (REDIS_RETRIES) instead of failing the call.
            assert await arepo.account(2).balance.get() == 200
            assert srepo.account(1).balance.get() == 100
            assert await arepo.account(1).balance.update(lambda balance: balance - 30) == 70
            assert srepo.account(1).logins.incr() == 2
            with srepo.pipeline(transaction=True) as p:
                p.account(3).balance.set(5)
                snapshot = p.account(1).load()
            assert (snapshot.result.balance, snapshot.result.logins) == (70, 2)
            assert sorted([a.get_full_prefix() async for a in arepo.account.instances()]) == [
                "bank:account:1",
                "bank:account:2",
                "bank:account:3",
            ]
    with redis.Redis(*deployment.replica.address, decode_responses=True) as promoted:
        assert promoted.get("bank:account:1:balance") == "70"
        assert promoted.get("bank:account:3:balance") == "5"
