"""New-device notices: a sign-in from a device this account has not used in the last 90
days is announced to the account's owner ("New sign-in to your account": time, device,
IP, and a link to the session list), by email, or by SMS for a phone-only account,
through the outbox like every message.

A browser is known by its device cookie (a long-lived, signed id the browser door keeps;
a missing or tampered one is simply a new device); an API client by its user agent and
its network (/24, /48). Only digests of either are stored. The account's first sign-in
(right after registering) is not announced: it has no devices yet to compare with.

The sign-in pipeline records the device with the login, in the login's one write
(``SignInService.device_of``, ``LoginStore.record``), and hands what that write found to
``after_sign_in``: a sign-in from a known device costs no transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from webapp.application.common import Ports, Service
from webapp.application.interfaces import RequestInfo, UnitOfWork
from webapp.application.signin import Door, SignIn
from webapp.domain.model import User
from webapp.domain.sessions import DeviceSeen, DeviceVisit, SessionKind, device_key, ip_network


class NewDeviceNotices(Service):
    def __init__(self, ports: Ports, device_label: Callable[[str], str]) -> None:
        super().__init__(ports)
        self.device_label = device_label

    def device_of(self, attempt: SignIn) -> DeviceVisit | None:
        """The device the login records (``SignInService.device_of``); None: not tracked."""
        key = self.key_of(attempt, self.ports.request.current())
        return None if key is None else DeviceVisit(key, self.now())

    def after_sign_in(self, attempt: SignIn, user: User, seen: DeviceSeen | None) -> None:
        """Announce a device new to an account that had others (the login's own write
        found that out: most sign-ins cost nothing more here)."""
        if seen is None or not seen.worth_a_notice:
            return
        with self.ports.uow() as uow:
            self._notify(uow, user, self.ports.request.current(), seen.visit.at)
            uow.commit()

    def key_of(self, attempt: SignIn, info: RequestInfo) -> str | None:
        if attempt.door is Door.BROWSER:
            # A browser door without a device id cannot be told apart: not tracked.
            return device_key(SessionKind.BROWSER, attempt.device) if attempt.device else None
        return device_key(SessionKind.API, f"{info.user_agent}|{ip_network(info.ip)}")

    def _notify(self, uow: UnitOfWork, user: User, info: RequestInfo, now: datetime) -> None:
        device = self.device_label(info.user_agent)
        context = {"when": now.strftime("%Y-%m-%d %H:%M UTC"), "device": device,
                   "ip": info.ip or "unknown", "link": self.policy.link("/account/sessions")}
        self.tell(uow, user, "new_device", context)
        self.audit(uow, "new_device_signin", user, device=device)
