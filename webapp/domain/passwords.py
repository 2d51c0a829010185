"""The password rules (NIST SP 800-63B / OWASP): length, common, close to the identity.

No composition rules and no truncation. Passwords are NFKC-normalised so that
the same characters typed on different keyboards hash the same.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher
from functools import lru_cache
from importlib import resources

from webapp.domain.errors import ValidationFailed

MIN_LENGTH = 8
MAX_LENGTH = 128
# What may be typed for a password of MAX_LENGTH characters: decomposed (NFD, as some
# keyboards and input methods send it) one character takes up to 4 code points (a
# Vietnamese or Greek letter with its marks, a Hangul syllable's jamo).
MAX_TYPED = 4 * MAX_LENGTH
MAX_SIMILARITY = 0.7
BREACHED = ("This password has appeared in a data breach and is not safe to use. "
            "Choose another one.")


def normalize_password(raw: str) -> str:
    """The form that is hashed and checked: NFKC, nothing stripped, nothing cut."""
    return unicodedata.normalize("NFKC", raw)


class LineSet:
    """The lines of a text, for membership tests: kept as the one string they came in
    (0.1 MiB for the shipped list, where a frozenset of its 11,611 strings takes 1.1 MiB
    in every process that ever checks a password). A lookup is a substring search of
    about 20 microseconds, next to the argon2 hash that follows it."""

    def __init__(self, text: str) -> None:
        self._text = "\n" + text.replace("\r\n", "\n").strip("\n") + "\n"

    def __contains__(self, word: object) -> bool:
        return (isinstance(word, str) and bool(word) and "\n" not in word
                and f"\n{word}\n" in self._text)

    def __len__(self) -> int:
        return sum(1 for line in self._text.split("\n") if line)


@lru_cache(maxsize=1)
def common_passwords() -> LineSet:
    """The shipped list (zxcvbn's, MIT; see data/COMMON-PASSWORDS-LICENSE.txt)."""
    return LineSet(resources.files("webapp").joinpath("data/common-passwords.txt")
                   .read_text("utf-8"))


def password_problems(raw: str, identities: Iterable[str] = ()) -> list[str]:
    """Every rule the password breaks, as messages for the user; empty when it is acceptable."""
    if len(raw) > MAX_TYPED:  # cheap rejection before any normalisation
        return [f"Use at most {MAX_LENGTH} characters."]
    password = normalize_password(raw)
    length = len(password)  # code points, not bytes
    if length < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters."]
    if length > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    folded = password.casefold()
    # Spaces around a common password add nothing a guesser would not try (as Django's
    # CommonPasswordValidator: "password " is "password"); the password itself keeps them.
    if folded.strip() in common_passwords():
        return ["This password is too common. Choose one that is harder to guess."]
    if any(_too_close(folded, identity) for identity in identities if identity):
        return ["This password is too close to your email address or phone number."]
    return []


def check_new_password(password: str, identities: Iterable[str], field: str = "password",
                       is_breached: Callable[[str], bool] | None = None) -> str:
    """The normalised password, or ValidationFailed with every rule it breaks.

    ``is_breached``: the optional breached-password corpus, asked only about passwords
    that pass the local rules (its failure never blocks: it answers False).
    """
    problems = password_problems(password, identities)
    if problems:
        raise ValidationFailed({field: problems})
    secret = normalize_password(password)
    if is_breached is not None and is_breached(secret):
        raise ValidationFailed({field: [BREACHED]})
    return secret


def _too_close(folded: str, identity: str) -> bool:
    identity = identity.casefold()
    parts = {identity, identity.partition("@")[0], identity.lstrip("+"), _national(identity)}
    for part in parts:
        if len(part) < 3:
            continue
        if len(part) >= 4 and (part in folded or folded in part):
            return True
        if SequenceMatcher(a=folded, b=part).quick_ratio() >= MAX_SIMILARITY and (
            SequenceMatcher(a=folded, b=part).ratio() >= MAX_SIMILARITY
        ):
            return True
    return False


def _national(identity: str) -> str:
    """A phone number as its owner writes it at home (4155550123 for +14155550123: the
    E.164 digits are not inside "call 4155550123"); "" for anything else."""
    if not identity.startswith("+"):
        return ""
    import phonenumbers  # as in values.Phone: loaded on first use

    try:
        return str(phonenumbers.parse(identity).national_number)
    except phonenumbers.NumberParseException:
        return ""
