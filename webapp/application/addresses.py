"""Who may hold an address: the rules of claiming an address that an account never proved.

Shared by the operator's ``create-admin`` and by invitations, which both prove an email
by other means (the operator typing it, the link emailed to it), and by address changes;
and where an address change's notices go.
"""

from __future__ import annotations

from typing import Any

from webapp.application.common import Service
from webapp.application.interfaces import UnitOfWork
from webapp.domain.model import User
from webapp.domain.values import Channel


def claim_unproven_email(service: Service, uow: UnitOfWork, user: User, *, via: str) -> User | None:
    """Someone who proves they own ``user.email`` (the operator typing it, an invitee by
    the link emailed to it) claims it from an account that never proved it; nothing else
    on that account is theirs (open registration: anyone may register an address first).

    Beside a verified phone, the account is the phone owner's: the address leaves it, as
    a registration takes it back, and the claimant gets a new account (None). With
    nothing verified, the claimant finishes that sign-up (the account is returned), but
    without the phone number its registrant typed in, which is not the claimant's.
    """
    channel = Channel.EMAIL if user.is_verified else Channel.PHONE
    if user.address(channel) is None:
        return user
    release(service, uow, user, [channel], via=via)
    return None if channel is Channel.EMAIL else user


def release(service: Service, uow: UnitOfWork, user: User, channels: list[Channel],
            **audited: str) -> None:
    """``user`` loses these addresses, which it never proved, to whoever did (audited)."""
    for channel in channels:
        user.drop_address(channel)
    uow.users.save(user)
    service.audit(uow, "unverified_address_released", user,
                  channels=[channel.value for channel in channels], **audited)


def other_holder(service: Service, uow: UnitOfWork, user: User, channel: Channel, value: str,
                 *, take: bool) -> User | None:
    """Another account that holds ``value`` for real, if any: an address such an account
    holds unproven beside a proven one proves nothing (whoever typed it in may not own
    it), so it is not in the way, as for a registration. With ``take`` (``user`` proved
    the address), it leaves that account."""
    find = uow.users.get_by_email if channel is Channel.EMAIL else uow.users.get_by_phone
    holder = find(value, lock=take)
    if holder is None or holder.id == user.id:
        return None
    if not holder.is_active or holder.vouches_for(channel):
        return holder
    if take:
        release(service, uow, holder, [channel], via="address_change")
    return None


def tell_previous(service: Service, uow: UnitOfWork, user: User, channel: Channel,
                  template: str, context: dict[str, Any]) -> None:
    """A notice about ``channel``'s address to that address when it was proven, else to
    the account's other proven address (nothing proven there: whoever typed it may not
    own it)."""
    if user.verified_at(channel) is not None:
        tell_at(service, uow, user, channel, user.address(channel), template, context)
        return
    other = next((c for c in Channel if c is not channel and user.verified_at(c)), None)
    if other is not None:
        tell_at(service, uow, user, other, user.address(other), template, context)


def tell_at(service: Service, uow: UnitOfWork, user: User, channel: Channel, to: str | None,
            template: str, context: dict[str, Any], *, prepaid: bool = False) -> None:
    """A notice to ``to``, by email or SMS as ``channel`` says (nothing when empty);
    ``prepaid``: the SMS's unit of the daily cap was taken up front (``before_messages``)."""
    if not to:
        return
    if channel is Channel.EMAIL:
        service.send_email(uow, to, template, context, user)
    else:
        service.send_sms(uow, to, template, context, user, prepaid=prepaid)


def tell_taken(service: Service, uow: UnitOfWork, owner: User, channel: Channel,
               value: str) -> None:
    """An address change asked for ``owner``'s address: they hear that someone tried; the
    asker sees nothing different (a pending change, but no code is ever sent: nothing can
    confirm it)."""
    context = {"reset_link": service.policy.link("/reset")} if channel is Channel.EMAIL else {}
    tell_at(service, uow, owner, channel, value, "address_taken", context, prepaid=True)
