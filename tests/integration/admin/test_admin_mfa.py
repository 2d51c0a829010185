"""Staff and second factors: the user page says whether one is on, "Turn off second
factors" needs a reason (audited, the user is told), the same from the command line, and
MFA_REQUIRED_FOR_STAFF keeps staff without a factor out of the staff pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest

from tests.helpers.app import (
    PASSWORD,
    audit_rows,
    csrf_token,
    log_in,
    make_user,
    reload,
    services,
)
from tests.integration.web.conftest import flashes
from webapp.domain.errors import PermissionDenied


def turn_on_totp(app, user) -> list[str]:
    """An authenticator app on for ``user`` (through MfaService); its recovery codes."""
    with app.app_context():
        mfa = services(app).mfa
        setup = mfa.start_totp(user.id, datetime.now(UTC))
        return mfa.confirm_totp(user.id, pyotp.TOTP(setup.secret).now())


@pytest.fixture
def staff(app, client):
    boss = make_user(app, "boss@example.com", staff=True)
    log_in(client, boss)
    return boss


def emails_to(app, to):
    from tests.conftest import Outbox

    return [m.payload["text"] for m in Outbox(app).all("email", to)]


def test_the_user_page_says_whether_a_second_factor_is_on(app, client, staff):
    user = make_user(app, "jane@example.com")
    page = client.get(f"/admin/users/{user.id}").text
    assert "<dt>Second factor</dt><dd>off</dd>" in page
    assert "Turn off second factors" not in page  # nothing to turn off
    turn_on_totp(app, user)
    page = client.get(f"/admin/users/{user.id}").text
    assert "on (authenticator app; 10 recovery codes left)" in page
    assert f'href="/admin/users/{user.id}/mfa_off"' in page


def test_turning_off_needs_a_reason_then_is_audited_and_the_user_told(app, client, staff):
    user = make_user(app, "jane@example.com")
    turn_on_totp(app, user)
    confirm = client.get(f"/admin/users/{user.id}/mfa_off")
    assert confirm.status_code == 200
    assert "Yes, turn off second factors" in confirm.text and 'name="reason"' in confirm.text
    token = csrf_token(client, f"/admin/users/{user.id}/mfa_off")
    blank = client.post(f"/admin/users/{user.id}/mfa_off",
                        data={"csrf_token": token, "reason": "   "})
    assert blank.status_code == 200 and "Say why" in blank.text
    assert 'aria-invalid="true"' in blank.text
    assert reload(app, user.id).has_second_factor  # nothing happened
    done = client.post(f"/admin/users/{user.id}/mfa_off",
                       data={"csrf_token": token, "reason": "Lost phone; ID checked by video"})
    assert done.status_code == 302 and done.location == f"/admin/users/{user.id}"
    assert flashes(client) == ["Second factors turned off; the user is told."]
    assert not reload(app, user.id).has_second_factor
    event = audit_rows(app, "authz_admin")[-1]
    assert event.actor_id == staff.id and event.data["action"] == "mfa_off"
    assert event.data["reason"] == "Lost phone; ID checked by video"
    off = audit_rows(app, "mfa_turned_off_by_staff")[-1]
    assert off.actor_id == staff.id and off.data == {"reason": "Lost phone; ID checked by video"}
    assert "staff turned off the second factor" in emails_to(app, "jane@example.com")[-1]
    signed_in = app.test_client().post("/api/auth/login/", json={
        "email": "jane@example.com", "password": "correct horse battery staple"})
    assert "tokens" in signed_in.json  # the password alone signs in again


def test_staff_cannot_turn_off_their_own_factors_here(app, client, staff):
    """Removing one's own factors asks for a recent sign-in (/account/security); the staff
    action would skip it, so a stolen staff session could leave the account password-only."""
    turn_on_totp(app, staff)
    token = csrf_token(client, f"/admin/users/{staff.id}/mfa_off")
    answer = client.post(f"/admin/users/{staff.id}/mfa_off",
                         data={"csrf_token": token, "reason": "lost my phone"})
    assert answer.status_code == 302
    assert "your own" in flashes(client)[0]
    assert reload(app, staff.id).has_second_factor
    assert not audit_rows(app, "mfa_turned_off_by_staff")


def test_turning_off_an_account_without_a_factor_is_refused(app, client, staff):
    user = make_user(app, "jane@example.com")
    token = csrf_token(client, f"/admin/users/{user.id}/mfa_off")
    answer = client.post(f"/admin/users/{user.id}/mfa_off",
                         data={"csrf_token": token, "reason": "asked"})
    assert answer.status_code == 302
    assert flashes(client) == ["This account has no second factor on."]
    assert not audit_rows(app, "authz_admin")


def test_the_command_line_turns_second_factors_off_with_a_reason(app, runner):
    user = make_user(app, "jane@example.com")
    turn_on_totp(app, user)
    missing = runner.invoke(args=["users", "mfa-off", "jane@example.com"])
    assert missing.exit_code != 0 and "--reason" in missing.output
    result = runner.invoke(args=["users", "mfa-off", "jane@example.com",
                                 "--reason", "lost phone, ticket 4411"])
    assert result.exit_code == 0, result.output
    assert result.output == "jane@example.com: second factors turned off; the user is told.\n"
    assert not reload(app, user.id).has_second_factor
    event = audit_rows(app, "authz_admin")[-1]
    assert event.actor_id is None and event.data["via"] == "cli"
    assert event.data["reason"] == "lost phone, ticket 4411"
    again = runner.invoke(args=["users", "mfa-off", "jane@example.com", "--reason", "x"])
    assert again.exit_code == 1 and "no second factor on" in again.output
    unknown = runner.invoke(args=["users", "mfa-off", "nobody@example.com", "--reason", "x"])
    assert unknown.exit_code == 1 and "No account for nobody@example.com" in unknown.output


def test_a_blank_reason_is_refused_on_the_command_line(app, runner):
    user = make_user(app, "jane@example.com")
    turn_on_totp(app, user)
    result = runner.invoke(args=["users", "mfa-off", "jane@example.com", "--reason", " "])
    assert result.exit_code == 1 and "Say why" in result.output
    assert reload(app, user.id).has_second_factor


def test_staff_without_a_factor_are_sent_to_set_one_up_when_required(app_factory):
    strict = app_factory(MFA_REQUIRED_FOR_STAFF=True)
    boss = make_user(strict, "boss@example.com", staff=True)
    browser = strict.test_client()
    log_in(browser, boss)
    for path in ("/admin/", "/admin/users", f"/admin/users/{boss.id}"):
        answer = browser.get(path)
        assert answer.status_code == 302 and answer.location == "/account/security", path
    assert "The staff pages need a second factor" in flashes(browser)[0]
    assert browser.get("/account/security").status_code == 200  # where they set it up
    turn_on_totp(strict, boss)
    assert browser.get("/admin/").status_code == 200


def test_without_the_setting_staff_need_no_factor(app, client, staff):
    assert client.get("/admin/").status_code == 200


def test_staff_without_a_factor_cannot_act_as_staff_through_the_api_either(app_factory):
    """MFA_REQUIRED_FOR_STAFF is a rule of the staff powers, not of one door: a password
    alone (what the setting guards against) must not invite a new staff member by API."""
    strict = app_factory(MFA_REQUIRED_FOR_STAFF=True)
    boss = make_user(strict, "boss@example.com", staff=True)
    api = strict.test_client()
    login = api.post("/api/auth/login/", json={"email": "boss@example.com",
                                               "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json['tokens']['access']}"}
    answer = api.post("/api/auth/invitations/", headers=headers,
                      json={"email": "accomplice@example.com", "staff": True})
    assert answer.status_code == 403 and answer.json["code"] == "permission_denied"
    assert "second factor" in answer.json["detail"]
    with strict.app_context():
        assert services(strict).admin.queries.invitations(pending_at=None, limit=10) == []
        with pytest.raises(PermissionDenied):  # every staff action, whatever its door
            services(strict).admin.act(boss.id, boss.id, "send_reset")
    assert audit_rows(strict, "authz_fail")
    turn_on_totp(strict, boss)
    with strict.app_context():
        invitation = services(strict).invitations.invite(boss.id, "colleague@example.com",
                                                         as_staff=True)
    assert invitation.as_staff
