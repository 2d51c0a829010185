"""Staff actions that message a user: a new verification code, a password reset.

Each is queued after the staff member's transaction commits, so the page says "queued".
An SMS also needs a unit of the site's daily SMS cap (``sms_global_daily``): the action
takes it first, and with the cap spent it is refused, saying that nothing was sent and
when the cap has room again, rather than "queued" for an SMS that would be dropped.
"""

from __future__ import annotations

from datetime import timedelta

from webapp.application.common import Service
from webapp.application.interfaces import UnitOfWork
from webapp.application.password_reset import PasswordResetService
from webapp.application.verification import VerificationService
from webapp.domain.errors import ActionRefused
from webapp.domain.model import User
from webapp.domain.values import Channel

SMS_CAP = ("No SMS was sent: the site's daily SMS cap is reached (it has room again on "
           "{at:%-d %B, %H:%M} UTC). The user's current code still works.")


def resend_verification(service: Service, uow: UnitOfWork, user: User,
                        verification: VerificationService) -> str:
    """A new code (and link, by email) for the account's first unverified address."""
    if not user.is_active:
        raise ActionRefused("The account is deactivated.")
    for channel in user.channels():
        if user.verified_at(channel) is None:
            if channel is Channel.PHONE:
                prepay_sms(service, uow, user, "verify")
            verification.send_verification(uow, user, channel, prepaid=True)
            return ("A new verification email is queued." if channel is Channel.EMAIL
                    else "A new verification SMS is queued.")
    raise ActionRefused("Every address of this account is already verified.")


def send_reset(service: Service, uow: UnitOfWork, actor: User | None, user: User,
               resets: PasswordResetService) -> str:
    """A password reset, to the address that may reset (``User.notice_channel``)."""
    if not user.is_active:
        raise ActionRefused("The account is deactivated; reactivate it first.")
    channel = user.notice_channel()
    if channel is None:
        raise ActionRefused("This account has no address to send a reset to.")
    if channel is Channel.PHONE:
        prepay_sms(service, uow, user, "reset")
    resets.send_reset(uow, user, channel, prepaid=True)
    service.audit(uow, "authn_password_reset_requested", user, actor=actor,
                  channel=channel.value)
    return "A password reset message is queued."


def prepay_sms(service: Service, uow: UnitOfWork, user: User, template: str) -> None:
    """One SMS of the site's daily cap, taken before anything is sent (the text then goes
    ``prepaid``). With the cap spent the action is refused, audited ``sms_cap_reached``:
    no code is issued, so the user's live one still works."""
    wait = service.ports.throttle.take_sms()
    if wait:
        service.audit(uow, "sms_cap_reached", user, template=template)
        uow.commit_and_raise(ActionRefused(SMS_CAP.format(
            at=service.now() + timedelta(seconds=wait))))
