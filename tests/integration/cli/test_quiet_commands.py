"""What a one-off ``flask`` command prints: its own sentence, not the start-up line saying
where the rate limits count (what serves, gunicorn, ``flask run`` and ``worker``, still
says it), and a refused configuration as an error, not a traceback."""

from __future__ import annotations

import logging

import click
import pytest

from tests.conftest import make_app
from tests.integration.cli.conftest import dispose

LIMITS_LINE = "rate limits per client address"


def test_one_off_commands_print_their_sentence_and_not_the_limits_line(flask_command):
    done = flask_command("users", "invite", "new@example.com")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Invitation #1 queued for new@example.com.\n"
    assert LIMITS_LINE not in done.stderr
    refused = flask_command("users", "demote", "nobody@example.com")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == "Error: No account for nobody@example.com.\n"


def test_warnings_still_reach_a_one_off_commands_terminal(flask_command):
    done = flask_command("users", "demote", "nobody@example.com", APP_ENV="production",
                         APP_BASE_URL="https://example.com")
    assert "ARGON2_MEMORY_COST below OWASP's 19 MiB in production" in done.stderr
    assert LIMITS_LINE not in done.stderr


def test_a_worker_says_where_the_limits_count(flask_command):
    done = flask_command("worker", "--burst")
    assert done.returncode == 0, done.stderr
    assert LIMITS_LINE in done.stderr


@pytest.mark.parametrize(("command", "said"), [("run", True), ("flask", False)])
def test_flask_run_says_it_when_it_builds_the_app(tmp_path, caplog, monkeypatch, command,
                                                   said):
    """``flask run`` builds the app inside its own command; the others while looking up
    theirs (under the ``flask`` group)."""
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    with caplog.at_level(logging.INFO, logger="webapp.limits"), \
            click.Context(click.Command(command), info_name=command):
        dispose(make_app(tmp_path, RATELIMIT_ENABLED=True))
    assert any(LIMITS_LINE in r.getMessage() for r in caplog.records) is said


@pytest.mark.parametrize("args", [("users", "demote", "jane@example.com"), ("db", "upgrade")])
def test_a_refused_configuration_is_said_without_a_traceback(flask_command, args):
    done = flask_command(*args, APP_ENV="production", APP_BASE_URL="http://example.com")
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("Error: Invalid configuration:\n"
                                "  - APP_BASE_URL must use https in production.\n")


@pytest.mark.parametrize("args", [("users", "promote", "jane@example.com"), ("mfa-reseal",),
                                  ("billing", "backfill")])
def test_a_database_without_the_schema_is_said_without_a_traceback(flask_command, tmp_path,
                                                                   args):
    """The operator forgot ``db upgrade`` (or points at the wrong database): told so, in
    the health check's words, with exit status 1."""
    done = flask_command(*args, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}",
                         STRIPE_SECRET_KEY="sk_test_x")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.endswith("Error: The database lacks this release's tables: run "
                                "`flask --app wsgi db upgrade`.\n")
