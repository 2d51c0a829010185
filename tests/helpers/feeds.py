"""A change feed for the user cache (infrastructure/user_cache.py), driven by hand."""

from __future__ import annotations


class FakeFeed:
    def __init__(self) -> None:
        self.listening = False
        self.pending: list[str] = []
        self.fail_connect = False
        self.connects = 0
        self.forgotten = False

    def connect(self) -> None:
        if self.fail_connect:
            raise ConnectionError("no database")
        self.connects += 1
        self.listening = True

    def drain(self) -> list[str] | None:
        if not self.listening:
            return None
        payloads, self.pending = self.pending, []
        return payloads

    def close(self) -> None:
        self.listening = False

    def forget(self) -> None:
        self.forgotten = True
        self.listening = False

    def announce(self, payload: str) -> None:
        self.pending.append(payload)
