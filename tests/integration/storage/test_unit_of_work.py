"""The SQLAlchemy unit of work keeps the port's promises (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from webapp.application.interfaces import UniqueConflict
from webapp.domain.model import User
from webapp.extensions import db
from webapp.infrastructure.uow import SqlAlchemyUnitOfWork

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def uow() -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(lambda: db.session)


def new_user(email: str) -> User:
    return User(email=email, phone=None, password_hash="x", created_at=NOW)


def test_a_duplicate_insert_is_a_unique_conflict_not_a_database_error(app):
    """What a concurrent registration sees when the other one committed first."""
    with app.app_context():
        with uow() as first:
            first.users.add(new_user("jane@example.com"))
            first.commit()
        with uow() as second, pytest.raises(UniqueConflict):
            second.users.add(new_user("jane@example.com"))
        with uow() as third:  # the session is usable again
            assert third.users.get_by_email("jane@example.com") is not None


def test_leaving_without_commit_rolls_back(app):
    with app.app_context():
        with uow() as work:
            work.users.add(new_user("jane@example.com"))
        with uow() as work:
            assert work.users.get_by_email("jane@example.com") is None


def test_an_insert_comes_after_the_changes_already_pending_in_the_session(app):
    """Rows are inserted without the ORM's flush; a change made before (here, the address
    given up) reaches the database first, so the new row may take that address."""
    from webapp.infrastructure.orm import UserRow

    with app.app_context():
        with uow() as work:
            first = work.users.add(new_user("jane@example.com"))
            work.commit()
        with uow() as work:
            row = db.session.get(UserRow, first.id)
            row.email = "jane.old@example.com"  # pending: not flushed yet
            second = work.users.add(new_user("jane@example.com"))
            work.commit()
        with uow() as work:
            assert work.users.get_by_email("jane@example.com").id == second.id
            assert work.users.get(first.id).email == "jane.old@example.com"


def test_an_inserted_row_keeps_every_field_and_its_column_defaults(app):
    with app.app_context():
        with uow() as work:
            user = work.users.add(User(email="jane@example.com", phone="+14155550123",
                                       password_hash="h", created_at=NOW, first_name="Jane"))
            work.commit()
        with uow() as work:
            stored = work.users.get(user.id)
        assert (stored.email, stored.phone, stored.password_hash, stored.first_name,
                stored.last_name, stored.is_active) == (
            "jane@example.com", "+14155550123", "h", "Jane", "", True)


def test_a_user_looked_up_by_address_phone_or_customer_is_the_whole_row(app):
    with app.app_context():
        with uow() as work:
            user = work.users.add(User(email="jane@example.com", phone="+14155550123",
                                       password_hash="h", created_at=NOW, first_name="Jane",
                                       stripe_customer_id="cus_1", email_verified_at=NOW))
            work.commit()
        with uow() as work:
            found = [work.users.get_by_email("jane@example.com"),
                     work.users.get_by_phone("+14155550123"),
                     work.users.get_by_customer("cus_1"),
                     work.users.get_by_email("jane@example.com", lock=True),
                     work.users.get(user.id, lock=True)]
            assert work.users.get_by_email("nobody@example.com") is None
        assert all(dataclasses.asdict(f) == dataclasses.asdict(found[0]) for f in found)
        assert (found[0].id, found[0].first_name, found[0].email_verified_at,
                found[0].is_active) == (user.id, "Jane", NOW, True)


def test_a_look_up_sees_changes_not_yet_flushed_and_what_it_finds_can_be_saved(app):
    from webapp.infrastructure.orm import UserRow

    with app.app_context():
        with uow() as work:
            user = work.users.add(new_user("jane@example.com"))
            work.commit()
        with uow() as work:
            db.session.get(UserRow, user.id).first_name = "Janet"  # pending, not flushed
            found = work.users.get_by_email("jane@example.com", lock=True)
            assert found.first_name == "Janet"
            found.last_name = "Doe"
            work.users.save(found)
            work.commit()
        with uow() as work:
            stored = work.users.get(user.id)
        assert (stored.first_name, stored.last_name) == ("Janet", "Doe")
