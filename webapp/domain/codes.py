"""A 6-digit code sent where a link token belongs: the code is right, the shape is not.

Link tokens are long signed strings; six digits are always a code. Accepting a bare code
without its address is not the answer (six digits could then be tried against every
pending code at once), so the caller is told exactly what to send instead.
"""

from __future__ import annotations

import re

from webapp.domain.errors import ValidationFailed

CODE_SHAPE = re.compile(r"\s*\d{6}\s*")


class CodeNeedsAddress(ValidationFailed):
    code = "code_needs_address"

    def __init__(self, addresses: str) -> None:
        message = (f'That is the 6-digit code, not a link token: send it as "code", together '
                   f'with the {addresses} it was sent to '
                   f'(for example {{"email": "jane@example.com", "code": "123456"}}).')
        super().__init__({"token": [message]}, message)


def refuse_code_as_token(token: str | None, addresses: str) -> None:
    """Raise CodeNeedsAddress when ``token`` is six digits (``addresses``: "email", or
    '"email" or "phone"')."""
    if token and CODE_SHAPE.fullmatch(token):
        raise CodeNeedsAddress(addresses)


ENTER_CODE = "Enter the 6-digit code."


def clean_code(code: str) -> str:
    """Six digits, forgiving the spaces and dashes people type.

    Any decimal digits count (full-width from an IME, Arabic-Indic, ...) and are
    rewritten as ASCII; ``isdigit`` would also let superscripts through.
    """
    code = "".join(code.split()).replace("-", "")
    if len(code) != 6 or not code.isdecimal():
        raise ValidationFailed.single("code", ENTER_CODE)
    return f"{int(code):06d}"
