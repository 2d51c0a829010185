"""Abuse limits in one table, and the per-account / per-destination checks of the use cases.

Every limit of the application is named in ``DEFAULT_LIMITS`` (allauth-style
strings, ``"3/hour"`` or ``"20/minute;200/hour"``), each overridable with an
environment variable ``RATELIMIT_<NAME>``. Two kinds:

- per client address, enforced at the doors by Flask-Limiter (webapp/interface/limits.py):
  ``login``, ``refresh``, ``register``, ``resend``, ``reset``, ``code``, ``invite``;
- per account or destination, enforced here in the services, so that the JSON API
  and the browser pages get them alike: keyed on the canonical address
  (``Email.parse``/``Phone.parse``), so ``Jane@Example.COM`` and ``jane@example.com``
  share one budget.

The login lockout is progressive (after 5, 10, 20 failures: 1, 5, 30 minutes by
default), counted per identifier whether or not an account has it, so that a
locked answer says nothing about existence; failures are forgotten a day after
the first one, a successful login, a password reset (of an account with no second
factor: only a proven factor forgets wrong codes) or an accepted invitation.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from types import MappingProxyType

from webapp.application.interfaces import RateLimiter
from webapp.domain.errors import Throttled
from webapp.domain.sessions import limited_network
from webapp.domain.values import Email, Phone

log = logging.getLogger(__name__)

DEFAULT_LIMITS: Mapping[str, str] = MappingProxyType({
    # --- per client address (Flask-Limiter decorators on the views) --------------------
    "login": "20/minute;200/hour",        # login and token: a password guess each
    "refresh": "60/minute;600/hour",
    "register": "10/minute;50/hour",
    "resend": "10/minute;50/hour",         # verification email/SMS resend
    "reset": "10/minute;50/hour",          # password reset request
    "code": "30/minute;300/hour",          # typing a verification or reset code/link
    "invite": "10/minute;50/hour",         # sending an invitation (API)
    # --- per account or destination (the services, both doors) ------------------------
    "login_failed_per_account": "10/minute",
    "refresh_per_account": "30/minute",
    "verify_per_destination": "3/hour",    # verification messages (register and resend)
    "reset_per_destination": "3/hour",     # reset messages
    "invite_per_destination": "3/hour",    # invitations by users who are not staff
    "invite_per_user": "20/day",           # ... and all the invitations of one such user
    "sms_global_daily": "1000/day",        # every SMS the site sends
    # Requests that anyone may make and that text a number (sign-up, resend, reset), one
    # each whether or not an account has the number: strangers can never spend the whole
    # global budget (keep this below it), and where its end comes tells nothing.
    "sms_anonymous_daily": "800/day",
    "sms_per_client": "10/hour;30/day",    # ... and from one client address
    "export_per_account": "5/hour",        # downloads of one's data (a heavy read)
})

DEFAULT_LOCKOUT = "5:60,10:300,20:1800"
FAILURE_MEMORY = 24 * 3600
# A password check holds its identifier's slot for at most this long: one that never
# finished (its worker killed, its database gone) frees the identifier after it.
CHECK_SLOT_TTL = 10


def parse_lockout(text: str) -> tuple[tuple[int, int], ...]:
    """``"5:60,10:300"`` -> ((5, 60), (10, 300)): after N failures, lock for S seconds."""
    steps = []
    for part in text.split(","):
        failures, _, seconds = part.strip().partition(":")
        steps.append((int(failures), int(seconds)))
    if not steps or any(n < 1 or s < 1 for n, s in steps):
        raise ValueError("each step is FAILURES:SECONDS, both positive")
    return tuple(sorted(steps))


@dataclass(frozen=True)
class ThrottlePolicy:
    limits: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    lockout: tuple[tuple[int, int], ...] = parse_lockout(DEFAULT_LOCKOUT)
    failure_memory: int = FAILURE_MEMORY

    def lock_seconds(self, failures: int) -> int:
        """The lock that ``failures`` consecutive failures earn (0: none yet)."""
        return max((s for n, s in self.lockout if failures >= n), default=0)


def _key(kind: str, value: str) -> str:
    # Addresses are not stored in the limiter's storage in clear.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class Throttle:
    """The services' view of the limits. ``limiter=None`` (RATELIMIT_ENABLED=false): all off."""

    def __init__(self, limiter: RateLimiter | None = None,
                 policy: ThrottlePolicy | None = None) -> None:
        self.limiter = limiter
        self.policy = policy or ThrottlePolicy()

    @property
    def enabled(self) -> bool:
        return self.limiter is not None

    def limit(self, rule: str) -> str:
        return self.policy.limits.get(rule) or DEFAULT_LIMITS[rule]

    # --- budgets ------------------------------------------------------------------

    def spend(self, rule: str, value: str) -> None:
        """Count one event of ``rule`` for ``value``; Throttled when the budget is spent."""
        if self.limiter is None:
            return
        wait = self.limiter.hit(self.limit(rule), _key(rule, value))
        if wait:
            raise Throttled(wait)

    def before_messages(self, rule: str, email: Email | None, phone: Phone | None, *,
                        client: str) -> None:
        """Spend the destinations' message budgets, before looking anything up.

        Counted for every request, whether or not an account has the address, so the
        4th request in the hour is a 429 for everybody and tells nothing. A request that
        may text a number also spends the client address's and the strangers' SMS
        budgets, and takes its one SMS from the site's daily cap (the same way for every
        number: how near the cap is shows in no answer). Its text is then sent
        ``prepaid``; with the cap spent it is refused here, before a new code could
        replace the live one that no SMS would replace.
        """
        if phone is not None:
            self.spend("sms_per_client", limited_network(client))
            self.spend("sms_anonymous_daily", "all")
        for destination in (email, phone):
            if destination is not None:
                self.spend(rule, destination.value)
        if phone is not None and (wait := self.take_sms()):
            raise Throttled(wait)

    def take_sms(self) -> int:
        """One SMS counted against the site's daily cap: 0, or when the cap is spent (the
        SMS must not be sent), the seconds until it has room again."""
        if self.limiter is None:
            return 0
        return self.limiter.hit(self.limit("sms_global_daily"), "sms:all")

    # --- login lockout ------------------------------------------------------------

    def before_login(self, account: str) -> None:
        """Throttled while the identifier is locked, over its failure budget, or while
        another guess at it is being checked.

        One password check per identifier at a time, everywhere (a slot taken with an
        atomic count in the shared counters, given back by ``record_failure`` or
        ``forget_failures``): so parallel guesses cannot all pass before the failure that
        locks is recorded, and exactly as many passwords as the lockout allows are ever
        checked. The lock is read after the slot is taken, so a guess that waited for
        the one before sees the lock that one set, and the per-minute failure budget that
        the failures before it spent.
        """
        if self.limiter is None:
            return
        slot = _key("checking", account)
        if self.limiter.count(slot, CHECK_SLOT_TTL) > 1:
            raise Throttled(1)  # another guess at this identifier is being checked
        # The failure budget is read here and spent by record_failure: an attempt cut off
        # by a fault (the database restarting) leaves nothing behind that a retry pays for.
        wait = self.limiter.held_for(_key("lock", account)) or self.limiter.peek(
            self.limit("login_failed_per_account"), _key("login_failed_per_account", account))
        if wait:
            self.limiter.drop(slot)
            raise Throttled(wait)

    def before_logins(self, *accounts: str) -> None:
        """``before_login`` for each identifier of one account (a guess at its second
        factor or at its current password counts toward all of them): every slot is
        taken, or none (a refusal gives back the slots taken before it)."""
        taken: list[str] = []
        try:
            for account in accounts:
                self.before_login(account)
                taken.append(account)
        except BaseException:
            for account in taken:
                with suppress(Exception):
                    self.done_checking(account)
            raise

    def record_failure(self, account: str) -> tuple[int, int]:
        """Count a failed login: (failures so far, seconds of the lock this started or 0)."""
        if self.limiter is None:
            return 0, 0
        self.limiter.hit(self.limit("login_failed_per_account"),
                         _key("login_failed_per_account", account))
        failures = self.limiter.count(_key("failures", account), self.policy.failure_memory)
        seconds = self.policy.lock_seconds(failures)
        if seconds:
            self.limiter.hold(_key("lock", account), seconds)
        self.limiter.drop(_key("checking", account))  # after the lock: see before_login
        return failures, seconds

    def done_checking(self, account: str) -> None:
        """The password was right but the sign-in goes on (a second factor is due): the
        slot is given back, the failures stay until the factor is proven."""
        if self.limiter is not None:
            self.limiter.drop(_key("checking", account))

    def forget_failures(self, *accounts: str | None) -> None:
        """A successful login or password reset: the lockout is lifted."""
        if self.limiter is None:
            return
        for account in filter(None, accounts):
            assert account is not None
            self.limiter.drop(_key("failures", account))
            self.limiter.drop(_key("lock", account))
            self.limiter.drop(_key("checking", account))
            self.limiter.reset(self.limit("login_failed_per_account"),
                               _key("login_failed_per_account", account))
