"""Who is staff, where an invitation stands, and what the staff search box means: rules
that the staff actions, the invitations and the staff pages share."""

from __future__ import annotations

import re

from webapp.application.common import Service
from webapp.application.interfaces import SearchTerms, UnitOfWork
from webapp.domain.errors import Conflict, PermissionDenied, ValidationFailed
from webapp.domain.invitations import Invitation, InvitationState
from webapp.domain.model import User
from webapp.domain.values import Email, Phone

PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{3,}$")
FACTOR_FIRST = "Staff need a second factor on their account: set one up first."
LAST_STAFF = ("This is the last staff account: make someone else staff first, so that "
              "somebody can still run the site.")


def lacks_required_factor(service: Service, user: User) -> bool:
    """MFA_REQUIRED_FOR_STAFF: staff without a second factor have no staff powers (on the
    staff pages, the JSON API or any other door) until they set one up."""
    return service.policy.mfa_required_for_staff and user.is_staff and \
        not user.has_second_factor


def require_staff(
    service: Service, uow: UnitOfWork, actor_id: int | None, action: str
) -> User | None:
    """The acting staff member, read in this transaction (None: the operator's command line).

    Anyone else (staff without the second factor MFA_REQUIRED_FOR_STAFF asks for too) gets
    PermissionDenied, and an ``authz_fail`` event is committed first.
    """
    if actor_id is None:
        return None
    actor = uow.users.get(actor_id)
    if actor is None or not actor.is_active or not actor.is_staff:
        service.audit(uow, "authz_fail", actor, action=action)
        uow.commit_and_raise(PermissionDenied())
    if lacks_required_factor(service, actor):
        service.audit(uow, "authz_fail", actor, action=action, reason="no_second_factor")
        uow.commit_and_raise(PermissionDenied(FACTOR_FIRST))
    return actor


def keep_staff(uow: UnitOfWork, user: User) -> None:
    """The site keeps one active staff member, whatever the door: the last one is not
    demoted, deactivated or deleted. (On the staff pages the acting staff member, who may
    not act on themselves, is another one; the command line acts as nobody.)"""
    if (user.is_staff and user.is_active and user.deletion_due_at is None
            and uow.personal_data.active_staff() <= 1):
        raise Conflict(LAST_STAFF)


def invitation_state(service: Service, uow: UnitOfWork, invitation: Invitation
                     ) -> InvitationState:
    """Where an invitation stands now, its inviter read in this transaction (the rule is
    ``Invitation.state``): what accepting it, resending it and the staff pages go by."""
    inviter = None if invitation.inviter_id is None else uow.users.get(invitation.inviter_id)
    return invitation.state(service.now(), inviter)


def account_for(service: Service, uow: UnitOfWork, identifier: str) -> User | None:
    """The account an operator names by email or phone number (the command line), parsed
    as a sign-in parses it: any way of writing the address (a national or spaced phone
    number, capitals) finds it. Raises ValidationFailed for what is neither."""
    if "@" in identifier:
        return uow.users.get_by_email(Email.parse(identifier).value)
    return uow.users.get_by_phone(Phone.parse(identifier, service.policy.default_region).value)


def search_terms(q: str, default_region: str | None) -> SearchTerms:
    """``@`` means an email; digits mean a phone number; words are names (or email starts)."""
    text = " ".join(q.split()).lower()
    if not text:
        return SearchTerms()
    if "@" in text:
        return SearchTerms(email_prefix=text.replace(" ", ""))
    if PHONE_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        try:
            return SearchTerms(phone_prefix=Phone.parse(text, default_region).value)
        except ValidationFailed:
            return SearchTerms(phone_prefix="+" + digits)
    words = tuple(text.split(" ")[:2])
    return SearchTerms(email_prefix=words[0] if len(words) == 1 else "", name_prefixes=words)
