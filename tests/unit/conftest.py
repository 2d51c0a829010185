"""Unit-test fixtures: a fresh in-memory world per test (no Flask, no database).
The helpers that build on it are in tests/helpers/world.py."""

from __future__ import annotations

import pytest

from tests.fakes import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()
