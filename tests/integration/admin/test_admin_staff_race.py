"""Two staff members demoting each other at the same moment (PostgreSQL, where they run
in parallel): one of them must stay staff, so the site keeps someone to run it."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.helpers.app import make_user, reload, services
from tests.helpers.locks import waits_while_held
from webapp.domain.errors import PermissionDenied
from webapp.extensions import db

pytestmark = pytest.mark.postgres


def test_the_second_of_two_staff_demoting_each_other_is_refused(app: Flask) -> None:
    first = make_user(app, "ann@example.com", staff=True)
    second = make_user(app, "bo@example.com", staff=True)
    assert first.id is not None and second.id is not None and first.id < second.id
    outcome: list[object] = []

    def second_demotes_first() -> None:
        with app.app_context():
            try:
                outcome.append(services(app).admin.act(second.id, first.id, "demote"))
            except PermissionDenied as exc:
                outcome.append(exc)
            finally:
                db.session.remove()

    # The first staff member's demotion of the second, in flight: both rows locked (in
    # id order, as the service takes them), the change not yet committed.
    waited = waits_while_held(app, [
        ("SELECT id FROM users WHERE id IN (:a, :b) ORDER BY id FOR UPDATE",
         {"a": first.id, "b": second.id}),
        ("UPDATE users SET is_staff = false WHERE id = :b", {"b": second.id}),
    ], second_demotes_first, commit=True)
    assert waited, "the second demotion did not wait for the first"
    assert len(outcome) == 1 and isinstance(outcome[0], PermissionDenied), outcome
    assert reload(app, first.id).is_staff and not reload(app, second.id).is_staff
