"""Breached passwords via a Have I Been Pwned–compatible range API (k-anonymity).

Only the first 5 hex characters of the password's SHA-1 leave the process; the
rest is matched locally against the answer. Any failure (timeout, error,
garbage) answers "not breached": the check never blocks a signup.
"""

from __future__ import annotations

import hashlib
import logging

import requests

log = logging.getLogger(__name__)


class PwnedPasswords:
    def __init__(self, url: str, timeout: float = 2.0,
                 session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def is_breached(self, password: str) -> bool:
        # SHA-1 because the API is keyed on it; no security property rests on it here.
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        try:
            response = self.session.get(
                f"{self.url}/{prefix}", timeout=self.timeout,
                headers={"Add-Padding": "true", "User-Agent": "webapp-accounts"})
            response.raise_for_status()
            return _listed(response.text, suffix)
        except (requests.RequestException, ValueError) as exc:
            log.warning("breached-password check unavailable (%s); not blocking",
                        type(exc).__name__)
            return False


def _listed(body: str, suffix: str) -> bool:
    for line in body.splitlines():
        candidate, _, count = line.strip().partition(":")
        # Padding entries (Add-Padding) have a count of 0.
        if candidate.upper() == suffix and int(count or "0") > 0:
            return True
    return False
