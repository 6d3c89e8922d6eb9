"""Verified API keys kept per process (imagegen.keys.KeyCache): read once per TTL, a removed
key refused once its TTL has passed, an unknown key never kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from imagegen import keys
from imagegen.records import ApiKey
from imagegen.storage.sqlite import SqliteRepository


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingRepository(SqliteRepository):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = 0

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        self.reads += 1
        return super().find_api_key(key_hash)


@pytest.fixture
def repo(tmp_path: Path) -> CountingRepository:
    return CountingRepository(tmp_path / "imagegen.sqlite3")


def _remove(repo: SqliteRepository, key: str) -> None:
    """What revoking a key would do: its record is gone."""
    with sqlite3.connect(repo._path) as db:
        db.execute("DELETE FROM api_keys WHERE key_hash = ?", (keys.hash_key(key),))


def test_a_verified_key_is_read_once_per_ttl(repo: CountingRepository) -> None:
    clock = Clock()
    cache = keys.KeyCache(repo, ttl_seconds=5, clock=clock)
    key = keys.create_key(repo, "tenant-a", "user-1")
    for _ in range(3):
        found = cache.authenticate(key)
        assert found is not None and (found.tenant_id, found.user_id) == ("tenant-a", "user-1")
    assert repo.reads == 1
    clock.now += 5
    assert cache.authenticate(key) is not None
    assert repo.reads == 2


def test_a_removed_key_is_refused_once_its_ttl_has_passed(repo: CountingRepository) -> None:
    clock = Clock()
    cache = keys.KeyCache(repo, ttl_seconds=5, clock=clock)
    key = keys.create_key(repo, "tenant-a", "user-1")
    assert cache.authenticate(key) is not None
    _remove(repo, key)
    clock.now += 4.9
    assert cache.authenticate(key) is not None  # within the TTL: still trusted
    clock.now += 0.1
    assert cache.authenticate(key) is None
    clock.now += 100
    assert cache.authenticate(key) is None


def test_an_unknown_key_is_not_kept_so_a_new_key_works_at_once(
    repo: CountingRepository,
) -> None:
    cache = keys.KeyCache(repo, clock=Clock())
    key = keys.new_key()
    assert cache.authenticate(key) is None
    keys.create_key(repo, "tenant-a", "user-1", key=key)
    assert cache.authenticate(key) is not None
    assert cache.authenticate("igk_made_up_" + "x" * 40) is None
    assert cache.authenticate("igk_made_up_" + "x" * 40) is None
    assert repo.reads == 4  # both misses read the repository each time


def test_at_most_max_keys_are_kept_the_oldest_forgotten_first(
    repo: CountingRepository,
) -> None:
    cache = keys.KeyCache(repo, max_keys=2, clock=Clock())
    first, second, third = (keys.create_key(repo, "tenant-a", f"user-{i}") for i in range(3))
    for key in (first, second, third):
        cache.authenticate(key)
    assert repo.reads == 3
    cache.authenticate(third)
    cache.authenticate(second)
    assert repo.reads == 3  # still kept
    cache.authenticate(first)
    assert repo.reads == 4  # forgotten, read again
