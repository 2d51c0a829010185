"""Characters a person's name may not hold: the invisible ones that change how it reads.

A right-to-left override or an isolate can make "Jane" followed by other text display as
something else on the staff pages, and zero-width characters make two names that look the
same differ. Refused with a message that says which, never silently dropped.

Except where a script needs them: the zero-width non-joiner and joiner are part of how
Persian, Urdu, Hindi, Bengali and other scripts are written (U+200C keeps two letters
apart that would join, as in the Persian name Ali-Reza; U+200D after a virama picks a
conjunct's form). They are accepted exactly where the IDNA standard accepts them in a
domain name (RFC 5892's CONTEXTJ rules, as the idna library applies them): next to letters
that join, or after a virama; anywhere else (between Latin letters, at either end) they
only hide a difference, and are refused.
"""

from __future__ import annotations

import unicodedata

from idna import valid_contextj

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
JOINERS = frozenset("\u200c\u200d")  # zero width, but part of how some scripts are written


def invisible_characters_problem(name: str) -> str | None:
    """The message for a name with bidirectional controls or zero-width characters."""
    if any(char in BIDI_CONTROLS for char in name):
        return ("Remove the invisible text-direction characters (such as U+202E): they can "
                "make a name display as something else.")
    if any(char in ZERO_WIDTH and not (char in JOINERS and valid_contextj(name, position))
           for position, char in enumerate(name)):
        return ("Remove the invisible zero-width characters (such as U+200B): type the name "
                "as it is written.")
    return None


def unprintable_problem(text: str) -> str | None:
    """The message for a name a person gave (their own, a passkey's) holding control
    characters (PostgreSQL refuses NUL in text) or invisible ones; None when it has none."""
    if any(unicodedata.category(char) == "Cc" for char in text):
        return "Remove the control characters."
    return invisible_characters_problem(text)
