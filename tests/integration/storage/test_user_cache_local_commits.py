"""A commit in this process evicts the users it changed from this process's user caches
at once, before any notification comes back (on SQLite too: the hook is the ORM's)."""

from __future__ import annotations

from flask import Flask

from tests.helpers.feeds import FakeFeed
from webapp.application.services import Services
from webapp.domain.model import User
from webapp.infrastructure.user_cache import UserCache


def test_a_committed_change_evicts_the_user_and_a_rolled_back_one_does_not(
        app: Flask, tokens: dict[str, str]) -> None:
    services: Services = app.extensions["services"]
    cache = UserCache(FakeFeed())
    reads: list[int] = []

    def load() -> User | None:
        reads.append(1)
        with app.app_context(), app.extensions["ports"].uow() as uow:
            return uow.users.get(1)

    cache.get(1, load), cache.get(1, load)
    assert len(reads) == 1 and len(cache) == 1
    with app.app_context(), app.extensions["ports"].uow() as uow:  # changed, then rolled back
        user = uow.users.get(1)
        assert user is not None
        user.first_name = "Not saved"
        uow.users.save(user)
    assert len(cache) == 1
    with app.app_context():
        services.tokens.revoke_all(1)
    assert len(cache) == 0
    cache.get(1, load)
    assert len(reads) == 2
