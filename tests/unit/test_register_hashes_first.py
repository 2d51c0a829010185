"""Registration hashes the password before its unit of work opens (issue 18).

On SQLite the unit of work's first statement takes the database's write lock (BEGIN
IMMEDIATE): a hash made inside it (tens of milliseconds of argon2) would make every other
worker's write wait for it, and registrations would no longer run in parallel."""

from __future__ import annotations

import pytest

from tests.helpers.world import EMAIL, register, verified


def units_of_work_open_at_each_hash(world, monkeypatch) -> list[int]:
    seen: list[int] = []
    real = world.hasher.hash

    def hash_and_note(password: str) -> str:
        seen.append(len(world.uows))
        return real(password)

    monkeypatch.setattr(world.hasher, "hash", hash_and_note)
    return seen


@pytest.mark.parametrize("taken", [False, True], ids=["new address", "taken address"])
def test_the_hash_is_made_before_any_unit_of_work_of_the_registration(world, monkeypatch,
                                                                       taken):
    if taken:
        verified(world)
    before = len(world.uows)
    seen = units_of_work_open_at_each_hash(world, monkeypatch)

    register(world, email=EMAIL, password="another fine passphrase")

    assert seen == [before]  # hashed exactly once, and before the first unit of work
    assert len(world.uows) > before
    if not taken:
        assert world.user(EMAIL).password_hash.endswith("another fine passphrase")
