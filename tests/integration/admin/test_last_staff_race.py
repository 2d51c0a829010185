"""Two command-line changes on the last two staff at the same moment (PostgreSQL, where
they run in parallel): ``flask users demote A`` while ``flask users demote B`` (or
deactivate, or delete) is in flight. The command line acts as nobody, so only the target
row is locked; each counted two active staff and both went through, leaving none. The
second must count after the first has committed, and be refused."""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from tests.helpers.app import make_user, ports, reload, services
from tests.helpers.locks import came_to_wait
from webapp.application.staff import LAST_STAFF, keep_staff
from webapp.domain.errors import Conflict
from webapp.extensions import db

pytestmark = pytest.mark.postgres


def _remove(app: Flask, action: str, email: str) -> object:
    if action == "delete":  # flask users delete: erased after the grace
        return services(app).account_data.delete_by_staff(email)
    admin = services(app).admin
    return admin.act(None, admin.user_id_for(email), action)


@pytest.mark.parametrize("action", ["demote", "deactivate", "delete"])
def test_of_two_command_line_removals_of_the_last_two_staff_the_second_is_refused(
        app: Flask, action: str) -> None:
    ann = make_user(app, "ann@example.com", staff=True)
    bo = make_user(app, "bo@example.com", staff=True)
    outcome: list[object] = []

    def remove_ann() -> None:
        with app.app_context():
            try:
                outcome.append(_remove(app, action, "ann@example.com"))
            except Conflict as exc:
                outcome.append(exc)
            finally:
                db.session.remove()

    with app.app_context():
        watcher = db.engine.connect()
        thread = threading.Thread(target=remove_ann)
        try:
            # Bo's demotion by the other command, in flight: counted, changed, not committed.
            with ports(app).uow() as uow:
                user = uow.users.get(bo.id, lock=True)
                assert user is not None
                keep_staff(uow, user)
                user.is_staff = False
                uow.users.save(user)
                thread.start()
                waited = came_to_wait(watcher, thread)
                uow.commit()
        finally:
            watcher.close()
            thread.join(timeout=30)
            db.session.remove()

    assert waited, "the second command did not wait for the first to commit"
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert outcome[0].detail == LAST_STAFF
    kept = reload(app, ann.id)
    assert kept.is_staff and kept.is_active and kept.deletion_due_at is None
    assert not reload(app, bo.id).is_staff
