"""Helpers that tests in several folders share.

- ``world``: set-up and look-ups over the in-memory fakes (unit tests).
- ``app``: accounts made straight through the repositories, staff sign-in, audit rows
  (integration and end-to-end tests, and the staff search benchmark).
- ``feeds``: a change feed for the user cache, driven by hand.
"""
