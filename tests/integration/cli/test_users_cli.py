"""``flask users ...``: the first admin, promote/demote, deactivate/reactivate, invite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers.app import PASSWORD, audit_rows, make_user, ports, reload


def login(app, email, password=PASSWORD):
    return app.test_client().post("/api/auth/login/", json={"email": email,
                                                            "password": password})


@contextmanager
def terminal_audit() -> Iterator[list[logging.LogRecord]]:
    """What reaches a handler on the audit logger (the terminal's, in a real run) while
    the block runs; the logger's own handlers are checked as put back afterwards."""
    seen: list[logging.LogRecord] = []
    terminal = logging.Handler()
    terminal.emit = seen.append  # type: ignore[method-assign]
    audit = logging.getLogger("webapp.audit")
    audit.addHandler(terminal)
    try:
        yield seen
    finally:
        audit.removeHandler(terminal)
    assert terminal not in audit.handlers and audit.handlers  # put back afterwards


def test_create_admin_with_a_password(app, runner):
    result = runner.invoke(args=["users", "create-admin", "Root@Example.com",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Created staff account root@example.com" in result.output
    response = login(app, "root@example.com")
    assert response.status_code == 200  # verified, so login works at once
    user = reload(app, response.json["user"]["id"])
    assert user.is_staff and user.email_verified_at is not None
    assert {"user_created", "user_verified", "authz_change", "authz_admin"} <= {
        e.kind for e in audit_rows(app)}


def test_create_admin_prompts_for_the_password_and_applies_the_rules(app, runner):
    weak = runner.invoke(args=["users", "create-admin", "root@example.com"],
                         input="password\npassword\n")
    assert weak.exit_code != 0 and "common" in weak.output.lower()
    good = runner.invoke(args=["users", "create-admin", "root@example.com"],
                         input=f"{PASSWORD}\n{PASSWORD}\n")
    assert good.exit_code == 0, good.output
    assert PASSWORD not in good.output
    assert login(app, "root@example.com").status_code == 200


def test_create_admin_promotes_an_existing_account(app, runner):
    user = make_user(app, "jane@example.com", verified=False)
    result = runner.invoke(args=["users", "create-admin", "jane@example.com",
                                 "--password", "a whole new passphrase"])
    assert result.exit_code == 0 and "Promoted" in result.output
    assert reload(app, user.id).is_staff and reload(app, user.id).is_verified
    assert login(app, "jane@example.com", "a whole new passphrase").status_code == 200


def test_promote_demote_deactivate_reactivate(app, runner):
    make_user(app, "boss@example.com", staff=True)  # the site keeps a staff member
    user = make_user(app, "jane@example.com")
    assert runner.invoke(args=["users", "promote", "jane@example.com"]).exit_code == 0
    assert reload(app, user.id).is_staff
    assert runner.invoke(args=["users", "demote", "jane@example.com"]).exit_code == 0
    assert not reload(app, user.id).is_staff
    tokens = login(app, "jane@example.com").json["tokens"]
    assert runner.invoke(args=["users", "deactivate", "jane@example.com"]).exit_code == 0
    assert login(app, "jane@example.com").status_code == 401
    assert app.test_client().post("/api/auth/token/refresh/", json={
        "refresh": tokens["refresh"]}).status_code == 401
    assert runner.invoke(args=["users", "reactivate", "jane@example.com"]).exit_code == 0
    assert login(app, "jane@example.com").status_code == 200
    actions = [e.data["action"] for e in audit_rows(app, "authz_admin")]
    assert actions == ["promote", "demote", "deactivate", "reactivate"]
    assert all(e.data["via"] == "cli" for e in audit_rows(app, "authz_admin"))


def test_unknown_account_is_a_clear_error(runner):
    result = runner.invoke(args=["users", "promote", "ghost@example.com"])
    assert result.exit_code == 1 and "No account for ghost@example.com" in result.output


def test_invite_from_the_command_line(runner, outbox):
    result = runner.invoke(args=["users", "invite", "first@example.com", "--staff"])
    assert result.exit_code == 0, result.output
    assert "/invite/" in outbox.last("email", "first@example.com").payload["text"]


def test_worker_refuses_a_batch_below_one_and_a_negative_or_zero_idle_sleep(runner):
    """--batch 0 claimed nothing and exited "0 message(s) tried" (a silent no-op; without
    --burst, a worker that never works); --batch -1 was no LIMIT on SQLite and an error on
    PostgreSQL; --idle-sleep 0 or -1 spun a core. A usage error says which value is wrong."""
    for option in (["--batch", "0"], ["--batch", "-1"], ["--idle-sleep", "0"],
                   ["--idle-sleep", "-1"]):
        result = runner.invoke(args=["worker", "--burst", *option])
        assert result.exit_code == 2, option
        assert f"Invalid value for '{option[0]}'" in result.output, result.output


def test_create_admin_takes_the_address_from_an_account_that_never_proved_it(app, runner):
    """Someone registered the admin's address beside their own (verified) phone: the
    operator gets a new staff account with the address; theirs keeps only the phone."""
    phone = "+14155550123"
    squatter = make_user(app, "admin@example.com", phone=phone, verified=False)
    with app.app_context(), ports(app).uow() as uow:
        held = uow.users.get(squatter.id)
        held.phone_verified_at = held.created_at
        uow.users.save(held)
        uow.commit()
    result = runner.invoke(args=["users", "create-admin", "admin@example.com",
                                 "--password", "a whole new passphrase"])
    assert result.exit_code == 0 and "Created" in result.output, result.output
    left = reload(app, squatter.id)
    assert (left.email, left.phone, left.is_staff) == (None, phone, False)
    response = login(app, "admin@example.com", "a whole new passphrase")
    assert response.status_code == 200 and response.json["user"]["id"] != squatter.id
    assert reload(app, response.json["user"]["id"]).is_staff


def test_create_admin_asks_again_after_a_refused_password(app, runner):
    result = runner.invoke(args=["users", "create-admin", "root@example.com"],
                           input=f"password\npassword\nshort\nshort\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Try another one.") == 2
    assert "too common" in result.output and "at least 8 characters" in result.output
    assert login(app, "root@example.com").status_code == 200


def test_create_admin_gives_up_after_three_refused_passwords(app, runner):
    result = runner.invoke(args=["users", "create-admin", "root@example.com"],
                           input="password\npassword\n" * 3)
    assert result.exit_code == 1
    assert result.output.count("Try another one.") == 2  # the third refusal ends it
    assert result.output.rstrip().endswith(
        "Error: This password is too common. Choose one that is harder to guess.")
    assert login(app, "root@example.com").status_code == 401


def test_a_refused_password_given_as_an_option_is_not_asked_again(app, runner):
    result = runner.invoke(args=["users", "create-admin", "root@example.com",
                                 "--password", "password"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 1 and "Password:" not in result.output


def test_commands_print_one_sentence_and_audit_lines_go_to_the_log_file(app, runner,
                                                                        tmp_path):
    app.instance_path = str(tmp_path / "instance")
    make_user(app, "boss@example.com", staff=True)  # the site keeps a staff member
    with terminal_audit() as seen:
        result = runner.invoke(args=["users", "create-admin", "root@example.com",
                                     "--password", PASSWORD])
        promoted = runner.invoke(args=["users", "demote", "root@example.com"])
    assert result.output.splitlines() == [
        "Created staff account root@example.com (id 2). Log in at /login."]
    assert promoted.output.splitlines() == ["root@example.com: no longer a staff member"]
    assert seen == []  # nothing on the terminal's handlers
    lines = (tmp_path / "instance" / "audit.log").read_text().splitlines()
    assert [line for line in lines if '"event":"authz_admin"' in line][-1].count(
        '"action":"demote"') == 1


def test_mfa_off_and_delete_print_one_sentence_and_audit_to_the_log_file(app, runner,
                                                                          tmp_path):
    """As every other one-off staff command: before, these two printed their audit JSON
    lines on the terminal, between the question and the answer."""
    from tests.integration.admin.test_admin_mfa import turn_on_totp

    app.instance_path = str(tmp_path / "instance")
    turn_on_totp(app, make_user(app, "jane@example.com"))
    make_user(app, "joe@example.com")
    with terminal_audit() as seen:
        off = runner.invoke(args=["users", "mfa-off", "jane@example.com", "--reason",
                                  "lost phone, ticket 4411"])
        gone = runner.invoke(args=["users", "delete", "joe@example.com", "--yes"])
    assert off.exit_code == 0 and gone.exit_code == 0, (off.output, gone.output)
    assert off.output.splitlines() == [
        "jane@example.com: second factors turned off; the user is told."]
    assert len(gone.output.splitlines()) == 1 and "joe@example.com: " in gone.output
    assert seen == []  # nothing on the terminal's handlers
    lines = (tmp_path / "instance" / "audit.log").read_text().splitlines()
    assert any('"action":"mfa_off"' in line for line in lines), lines
    assert any('"event":"account_delete_requested"' in line and '"by_staff":true' in line
               for line in lines), lines


def test_create_admin_refuses_an_account_waiting_for_deletion(app, runner):
    """Made active again, the account would still be erased when its grace ends: a staff
    account that vanishes days later. Refused, as the staff pages' "Reactivate" is."""
    from tests.helpers.app import services

    user = make_user(app, "leaving@example.com")
    with app.app_context():
        assert services(app).account_data.delete_by_staff("leaving@example.com") is not None
    result = runner.invoke(args=["users", "create-admin", "leaving@example.com",
                                 "--password", "a whole new passphrase"])
    assert result.exit_code == 1 and "waiting for deletion" in result.output
    assert not reload(app, user.id).is_active and not reload(app, user.id).is_staff


def test_delete_finds_an_account_written_as_every_other_command_takes_it(app, runner):
    """``users delete`` names the account as ``promote`` and the others do: a phone number
    with spaces, or an address in capitals, is the same account."""
    user = make_user(app, None, phone="+14155550123")
    assert runner.invoke(args=["users", "logout-everywhere", "+1 415 555 0123"]).exit_code == 0
    gone = runner.invoke(args=["users", "delete", "+1 415 555 0123", "--yes"])
    assert gone.exit_code == 0 and "closed; erased at" in gone.output, gone.output
    assert reload(app, user.id).deletion_due_at is not None
    unknown = runner.invoke(args=["users", "delete", "nobody@example.com", "--yes"])
    assert unknown.exit_code == 1
    assert unknown.output == "Error: No account for nobody@example.com.\n"


def test_deactivating_an_account_waiting_for_deletion_is_refused_not_lost(app, runner):
    """Its cancel link puts the account back as it was before the deletion was asked for:
    a deactivation in between would be silently undone by it, so it is refused (as
    reactivating and promoting are), saying what to do instead."""
    user = make_user(app, "leaving@example.com")
    assert runner.invoke(args=["users", "delete", "leaving@example.com", "--yes"]).exit_code == 0
    refused = runner.invoke(args=["users", "deactivate", "leaving@example.com"])
    assert refused.exit_code == 1, refused.output
    assert "waiting for deletion" in refused.output and "deactivate it then" in refused.output
    assert [e.data["action"] for e in audit_rows(app, "authz_admin")] == []
    assert reload(app, user.id).deletion_due_at is not None


def test_the_last_active_staff_member_is_neither_demoted_nor_deactivated(app, runner):
    """One rule for every door: the staff pages never leave the site without active staff
    (nobody acts on themselves there), nor does the command line, which acts as nobody."""
    boss = make_user(app, "boss@example.com", staff=True)
    make_user(app, "gone@example.com", staff=True, active=False)  # inactive staff: no help
    for command in ("demote", "deactivate"):
        refused = runner.invoke(args=["users", command, "boss@example.com"])
        assert refused.exit_code == 1, refused.output
        assert "last staff account" in refused.output and "Traceback" not in refused.output
    assert reload(app, boss.id).is_staff and reload(app, boss.id).is_active
    assert audit_rows(app, "authz_admin") == [] and audit_rows(app, "authz_change") == []
    assert login(app, "boss@example.com").status_code == 200

    helper = make_user(app, "helper@example.com", staff=True)
    assert runner.invoke(args=["users", "demote", "helper@example.com"]).exit_code == 0
    assert runner.invoke(args=["users", "deactivate", "boss@example.com"]).exit_code == 1
    assert runner.invoke(args=["users", "promote", "helper@example.com"]).exit_code == 0
    done = runner.invoke(args=["users", "deactivate", "boss@example.com"])
    assert done.exit_code == 0, done.output
    assert not reload(app, boss.id).is_active and reload(app, helper.id).is_staff
    last = runner.invoke(args=["users", "demote", "helper@example.com"])
    assert last.exit_code == 1 and "last staff account" in last.output
