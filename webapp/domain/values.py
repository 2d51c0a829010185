"""Value objects: canonical email addresses, E.164 phone numbers, passwords.

Parsing is delegated to email-validator and phonenumbers (pure libraries, no
framework); the domain decides what is canonical.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from webapp.domain.errors import ValidationFailed
from webapp.domain.names import unprintable_problem

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100


class Channel(StrEnum):
    """Where an address takes messages: an email address or a phone number (SMS).

    The value is also the name of the User field that holds the address."""

    EMAIL = "email"
    PHONE = "phone"

    @property
    def messages(self) -> str:
        """The folder of this channel's message templates (``email/``, ``sms/``)."""
        return "email" if self is Channel.EMAIL else "sms"


@dataclass(frozen=True, slots=True)
class Email:
    """A syntactically valid address, trimmed, NFKC-normalised and lower-cased."""

    value: str

    @classmethod
    def parse(cls, raw: str, field: str = "email", *, new: bool = False) -> Email:
        """``new``: an address being given to an account (registration, a change of
        address, an invitation), which must be able to receive the email that verifies it.
        Characters outside ASCII before the @-sign need SMTPUTF8 end to end, which the mail
        path (Flask-Mail, and most relays) does not offer: such an address is refused with
        a clear error, not accepted and then never sent to. A domain in any script is
        fine (sent as its ASCII form). Look-ups of addresses already held stay lenient."""
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            raise ValidationFailed.single(field, "Enter an email address.")
        if len(text) > MAX_EMAIL_LENGTH:
            raise ValidationFailed.single(field, "This email address is too long.")
        try:
            info = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationFailed.single(field, f"Enter a valid email address ({exc}).") from exc
        if new and not info.local_part.isascii():
            others = "".join(dict.fromkeys(c for c in info.local_part if not c.isascii()))
            raise ValidationFailed.single(
                field, f"We can't send email to an address with {others!r} before the "
                       "@-sign. Use an address with only plain letters, digits and "
                       "punctuation (ASCII) before the @.")
        # Case-insensitive uniqueness: the whole address is compared folded.
        return cls(info.normalized.lower())

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Phone:
    """A valid phone number in E.164 form (``+14155550123``)."""

    value: str

    @classmethod
    def parse(cls, raw: str, default_region: str | None, field: str = "phone") -> Phone:
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text:
            raise ValidationFailed.single(field, "Enter a phone number.")
        if len(text) > 32:
            raise ValidationFailed.single(field, "Enter a valid phone number.")
        # Imported on first use: the library (about 1 MiB per process) is not needed by the
        # requests that never parse a phone number, such as logins by email.
        import phonenumbers

        try:
            number = phonenumbers.parse(text, default_region or None)
        except phonenumbers.NumberParseException as exc:
            raise ValidationFailed.single(
                field, "Enter a valid phone number, in international form such as +14155550123."
            ) from exc
        if not phonenumbers.is_valid_number(number):
            raise ValidationFailed.single(field, "Enter a valid phone number.")
        if number.extension:  # a text message cannot reach an extension: say so, keep nothing
            raise ValidationFailed.single(
                field, f"Enter the number without its extension ({number.extension}): "
                "codes come by text message, which cannot reach an extension.")
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def __str__(self) -> str:
        return self.value


def mask_email(email: str) -> str:
    """``jane@example.com`` -> ``j***@example.com``, for places that must not show it whole."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}***{phone[-2:]}"


def mask_address(channel: Channel, value: str) -> str:
    """An address as a message shows it: masked, for messages carry no text a user typed
    whole (empty stays empty)."""
    if not value:
        return ""
    return mask_email(value) if channel is Channel.EMAIL else mask_phone(value)


def clean_name(value: str | None, field: str) -> str:
    """A first or last name as stored: white space folded, no control characters."""
    name = " ".join((value or "").split())
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed.single(field, f"Use at most {MAX_NAME_LENGTH} characters.")
    if problem := unprintable_problem(name):
        raise ValidationFailed.single(field, problem)
    return name
