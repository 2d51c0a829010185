"""New-device notices: a sign-in from a device this account has not used in the last 90
days is announced to the account's owner ("New sign-in to your account": time, device,
IP, and a link to the session list), by email, or by SMS for a phone-only account,
through the outbox like every message.

A browser is known by its device cookie (a long-lived, signed id the browser door keeps;
a missing or tampered one is simply a new device); an API client by its user agent and
its network (/24, /48). Only digests of either are stored. The account's first sign-in
(right after registering) is not announced: it has no devices yet to compare with.

Called by the sign-in pipeline once a sign-in is recorded (``SignInService.after_sign_in``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

from webapp.application.common import Ports, Service
from webapp.application.interfaces import RequestInfo, UniqueConflict, UnitOfWork
from webapp.application.signin import Door, SignIn
from webapp.domain.model import User
from webapp.domain.sessions import KnownDevice, SessionKind, device_key, ip_network

# A known device's last-seen day is written at most this often (most sign-ins only read).
REFRESH_SEEN = timedelta(days=1)


class NewDeviceNotices(Service):
    def __init__(self, ports: Ports, device_label: Callable[[str], str]) -> None:
        super().__init__(ports)
        self.device_label = device_label

    def after_sign_in(self, attempt: SignIn, user: User) -> None:
        info = self.ports.request.current()
        key = self.key_of(attempt, info)
        if key is None:
            return
        # UniqueConflict: the same device's sign-in racing this one recorded it (and told).
        with suppress(UniqueConflict):
            self._remember(user, key, info)

    def key_of(self, attempt: SignIn, info: RequestInfo) -> str | None:
        if attempt.door is Door.BROWSER:
            # A browser door without a device id cannot be told apart: not tracked.
            return device_key(SessionKind.BROWSER, attempt.device) if attempt.device else None
        return device_key(SessionKind.API, f"{info.user_agent}|{ip_network(info.ip)}")

    def _remember(self, user: User, key: str, info: RequestInfo) -> None:
        now = self.now()
        with self.ports.uow() as uow:
            known = uow.devices.get(user.id or 0, key)
            if known is not None and known.is_remembered(now):
                if now - known.last_seen_at >= REFRESH_SEEN:
                    known.last_seen_at = now
                    uow.devices.save(known)
                    uow.commit()
                return
            first = not uow.devices.has_any(user.id or 0)
            if known is None:
                uow.devices.add(KnownDevice(user_id=user.id or 0, key=key,
                                            first_seen_at=now, last_seen_at=now))
            else:
                known.last_seen_at = now
                uow.devices.save(known)
            if not first:
                self._notify(uow, user, info, now)
            uow.commit()

    def _notify(self, uow: UnitOfWork, user: User, info: RequestInfo, now: datetime) -> None:
        device = self.device_label(info.user_agent)
        context = {"when": now.strftime("%Y-%m-%d %H:%M UTC"), "device": device,
                   "ip": info.ip or "unknown", "link": self.policy.link("/account/sessions")}
        if user.email and user.email_verified_at is not None:
            self.send_email(uow, user.email, "new_device", context, user)
        elif user.phone and user.phone_verified_at is not None:
            self.send_sms(uow, user.phone, "new_device", context, user)
        self.audit(uow, "new_device_signin", user, device=device)
