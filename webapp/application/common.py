"""Pieces every use case shares: the Ports bundle, the Service base (codes, messages,
audit), identifier parsing and user look-up."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from webapp.application.audit_log import redacted, write_json_line
from webapp.application.interfaces import (
    BreachedPasswords,
    Clock,
    CodeHasher,
    LinkSigner,
    MessageRenderer,
    PasswordHasher,
    ReadOnlyUnitOfWork,
    ReadOnlyUnitOfWorkFactory,
    RequestContext,
    UnitOfWork,
    UnitOfWorkFactory,
)
from webapp.application.policy import Policy
from webapp.application.throttling import Throttle
from webapp.domain.errors import InvalidToken, ReauthenticationRequired, ValidationFailed
from webapp.domain.model import (
    MAX_CODE_ATTEMPTS,
    AuditEvent,
    CodePurpose,
    MessageKind,
    OneTimeCode,
    OutboxMessage,
    User,
)
from webapp.domain.passwords import check_new_password
from webapp.domain.values import Channel, Email, Phone

T = TypeVar("T")
log = logging.getLogger(__name__)

# The one answer to every refused code: wrong, expired, spent, locked, or for no account.
INVALID_CODE = ("The code is wrong or no longer valid. Check it, or request a new code "
                f"(codes expire, and stop working after {MAX_CODE_ATTEMPTS} wrong tries).")


@dataclass
class Ports:
    """The ports and policy that the services are built from (``wire_services``)."""

    uow: UnitOfWorkFactory
    clock: Clock
    passwords: PasswordHasher
    codes: CodeHasher
    signer: LinkSigner
    renderer: MessageRenderer
    request: RequestContext
    policy: Policy
    throttle: Throttle = field(default_factory=Throttle)  # default: no limits
    breached: BreachedPasswords | None = None  # optional breached-password check
    # The per-request checks; a full unit of work when no cheaper reader is given.
    reader: ReadOnlyUnitOfWorkFactory | None = None

    def read(self) -> ReadOnlyUnitOfWork:
        return (self.reader or self.uow)()


def new_code() -> str:
    """Six random digits from the OS's CSPRNG."""
    return f"{secrets.randbelow(1_000_000):06d}"


def invalid_code() -> InvalidToken:
    return InvalidToken(INVALID_CODE, code="invalid_code")


def parse_identifier(
    email: str | None, phone: str | None, default_region: str | None
) -> tuple[Email | None, Phone | None]:
    """Exactly one of email or phone, parsed; a ValidationFailed otherwise."""
    if email and phone:
        raise ValidationFailed({"email": ["Give an email address or a phone number, not both."]})
    if email:
        return Email.parse(email), None
    if phone:
        return None, Phone.parse(phone, default_region)
    raise ValidationFailed(
        {"email": ["Give an email address or a phone number."],
         "phone": ["Give an email address or a phone number."]}
    )


def collect(errors: dict[str, list[str]], check: Callable[[], T]) -> T | None:
    """Run one field's check; a ValidationFailed is merged into ``errors`` instead of raised."""
    try:
        return check()
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            errors.setdefault(field, []).extend(messages)
        return None


def find_user(uow: UnitOfWork, email: Email | None, phone: Phone | None, *,
              lock: bool = False) -> User | None:
    if email is not None:
        return uow.users.get_by_email(email.value, lock=lock)
    if phone is not None:
        return uow.users.get_by_phone(phone.value, lock=lock)
    return None


class Service:
    """Base of the use-case services: the ports, and the helpers every use case shares
    (one-time codes, messages into the outbox, audit events)."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.policy = ports.policy

    def now(self) -> datetime:
        return self.ports.clock.now()

    def require_recent(self, auth_time: datetime | None) -> None:
        """Sensitive changes need a factor proven within ``policy.reauth_max_age``."""
        if auth_time is None or self.now() - auth_time > self.policy.reauth_max_age:
            raise ReauthenticationRequired()

    def new_password(self, password: str, identities: list[str],
                     field: str = "password") -> str:
        """The normalised password under the domain's rules, the breached-password
        corpus included when one is configured; ValidationFailed otherwise."""
        breached = self.ports.breached
        return check_new_password(password, identities, field,
                                  breached.is_breached if breached is not None else None)

    # --- one-time codes -------------------------------------------------------------

    def issue_code(
        self, uow: UnitOfWork, user: User, purpose: CodePurpose, destination: str, ttl: timedelta
    ) -> str:
        """A new code for this purpose; older ones die because only the newest counts."""
        code = new_code()
        now = self.now()
        uow.codes.add(
            OneTimeCode(
                user_id=user.id or 0, purpose=purpose, destination=destination,
                code_hash=self.ports.codes.hash(code), expires_at=now + ttl, created_at=now,
            )
        )
        return code

    def check_code(
        self, uow: UnitOfWork, user: User | None, purposes: Sequence[CodePurpose], code: str,
        *, consume: bool, since: datetime | None = None, to: str | None = None,
    ) -> OneTimeCode:
        """The matching live code, or InvalidToken (see ``match_code``); spent when ``consume``.

        The caller must commit even when this raises, so that wrong tries stick.
        """
        record = self.match_code(uow, user, purposes, code, to=to)
        self.use_code(uow, record, consume=consume, since=since)
        return record

    def match_code(
        self, uow: UnitOfWork, user: User | None, purposes: Sequence[CodePurpose], code: str,
        *, to: str | None = None,
    ) -> OneTimeCode:
        """The newest code record of ``purposes`` when ``code`` is its code; it may be spent
        or expired (``use_code`` checks that). Otherwise ``invalid_code()``; so too when
        it was sent elsewhere than ``to`` (an address the account has since left).

        A wrong try is counted (and saved) on every record, spent and expired ones too, so
        that no code can be guessed without limit; after MAX_CODE_ATTEMPTS even the right
        code is refused until a new one is issued. The answer is the same for an unknown
        account, a wrong code and a locked code, and each costs one comparison: the lock
        must not tell whether an address has an account.
        """
        # For no account too (no row has id 0), and a refusal writes once either way (the
        # count, or this audit row): the time tells nobody which addresses have accounts.
        record = uow.codes.latest((user.id or 0) if user is not None else 0, purposes)
        right = self.ports.codes.matches(code, record.code_hash if record else "0" * 64)
        if record is None or record.locked:
            self.audit(uow, "authn_code_fail", user, purpose=str(purposes[0]))
            raise invalid_code()
        if not right:
            record.attempts += 1
            uow.codes.save(record)
            raise invalid_code()
        if to is not None and record.destination != to:
            raise invalid_code()
        return record

    def use_code(self, uow: UnitOfWork, record: OneTimeCode, *, consume: bool,
                 since: datetime | None = None) -> None:
        """A matched record counts only while ``is_usable`` (``since``: see there); spent
        if ``consume``."""
        now = self.now()
        if not record.is_usable(now, since=since):
            raise invalid_code()
        if consume:
            record.consumed_at = now
            uow.codes.save(record)

    # --- messages and audit ---------------------------------------------------------

    def send_email(
        self, uow: UnitOfWork, to: str, template: str, context: dict[str, Any],
        user: User | None = None,
    ) -> None:
        """Render now, record in the outbox; delivered after the commit.

        ``user`` is only the outbox row's owner, never part of the message: messages go to
        addresses nobody has proven yet, and anyone can register any address with any
        name, so no text a user typed (names) may be placed in a genuine message.
        """
        rendered = self.ports.renderer.render(
            f"email/{template}", {"site_name": self.policy.site_name, **context}
        )
        self.enqueue(uow, MessageKind.EMAIL, user, {
            "to": to, "template": template, "subject": rendered.subject,
            "text": rendered.text, "html": rendered.html,
        })

    def tell(self, uow: UnitOfWork, user: User, template: str, context: dict[str, Any]) -> None:
        """A notice to the account's owner at ``user.notice_channel()`` (email or SMS)."""
        channel = user.notice_channel()
        if channel is Channel.EMAIL and user.email:
            self.send_email(uow, user.email, template, context, user)
        elif channel is Channel.PHONE and user.phone:
            self.send_sms(uow, user.phone, template, context, user)

    def send_sms(
        self, uow: UnitOfWork, to: str, template: str, context: dict[str, Any],
        user: User | None = None, *, prepaid: bool = False,
    ) -> None:
        """Into the outbox, unless the site's daily SMS cap is spent (``sms_slot``)."""
        if not self.sms_slot(uow, user, template, prepaid=prepaid):
            return
        rendered = self.ports.renderer.render(
            f"sms/{template}", {"site_name": self.policy.site_name, **context}
        )
        self.enqueue(uow, MessageKind.SMS, user, {
            "to": to, "template": template, "body": rendered.text.strip(),
        })

    def sms_slot(self, uow: UnitOfWork, user: User | None, template: str, *,
                 prepaid: bool = False) -> bool:
        """One SMS of the site's daily cap (``prepaid``: the request took it already, see
        ``Throttle.before_messages``); False, audited, when it is spent. Taken before a
        code is issued: a code that cannot be sent must not replace the live one."""
        if prepaid or not self.ports.throttle.take_sms():
            return True
        log.warning("daily SMS cap reached; %s message not sent", template)
        self.audit(uow, "sms_cap_reached", user, template=template)
        return False

    def rehearse(self, channel: str, template: str, context: dict[str, Any]) -> None:
        """The work of a message that is not sent (an address without an account, or one
        that needs nothing): a code hashed and the message rendered, then dropped, so the
        answer takes as long as a real one."""
        self.ports.codes.hash(new_code())
        self.ports.renderer.render(f"{channel}/{template}", {
            "site_name": self.policy.site_name, "code": "000000",
            "link": self.policy.link(f"/{template}/{self.ports.signer.dumps(template, {})}"),
            **context,
        })

    def enqueue(
        self, uow: UnitOfWork, kind: MessageKind, user: User | None, payload: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> None:
        now = self.now()
        uow.outbox.add(
            OutboxMessage(
                kind=kind, payload=payload, created_at=now, next_attempt_at=now,
                user_id=user.id if user else None, idempotency_key=idempotency_key,
            )
        )

    def audit(
        self, uow: UnitOfWork, kind: str, user: User | None = None, *,
        actor: User | None = None, **data: Any,
    ) -> None:
        event = self.audit_event(kind, user, actor=actor, **data)
        uow.audit.add(event)
        write_json_line(event)

    def audit_event(
        self, kind: str, user: User | None = None, *, actor: User | None = None, **data: Any,
    ) -> AuditEvent:
        """The event, not yet recorded (``audit`` records it and writes its log line)."""
        info = self.ports.request.current()
        return AuditEvent(
            kind=kind, created_at=self.now(), user_id=user.id if user else None,
            actor_id=actor.id if actor else None, ip=info.ip, user_agent=info.user_agent,
            request_id=info.request_id, data=redacted(data),
        )
