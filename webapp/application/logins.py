"""The LoginStore over the unit of work and its repositories: SQLite and the test fakes.

PostgreSQL has its own, with one prepared statement per step (see
webapp/infrastructure/logins.py); this one is the reference for what both do.
"""

from __future__ import annotations

from webapp.application.common import find_user
from webapp.application.interfaces import SuccessfulLogin, UnitOfWorkFactory
from webapp.domain.model import User
from webapp.domain.values import Email, Phone


class UnitOfWorkLogins:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def find_user(self, email: Email | None, phone: Phone | None) -> User | None:
        with self._uow() as uow:  # a read of its own, rolled back before the hash
            return find_user(uow, email, phone)

    def record(self, login: SuccessfulLogin) -> bool:
        with self._uow() as uow:
            user = uow.users.get(login.user.id or 0, lock=True)
            if user is None or not login.still_applies_to(user):
                return False
            # Only what a login changes: anything else may have moved since the read.
            user.last_login_at = login.user.last_login_at
            user.password_hash = login.user.password_hash
            uow.users.save(user)
            if login.family is not None:
                uow.families.add(login.family)
            uow.audit.add(login.event)
            uow.commit()
            return True
