"""The signed-cookie session skips its signer only when there is no cookie to read."""

from __future__ import annotations

from flask.sessions import SecureCookieSession

from webapp.interface.cookie_session import LazySecureCookieSessionInterface


def test_no_cookie_gives_an_empty_session_and_sets_none(app, client):
    assert isinstance(app.session_interface, LazySecureCookieSessionInterface)
    with app.test_request_context("/api/auth/me/"):
        from flask import request

        session = app.session_interface.open_session(app, request)
        assert isinstance(session, SecureCookieSession) and not session
    response = client.get("/healthz")
    assert "Set-Cookie" not in response.headers


def test_a_cookie_is_still_read_and_a_forged_one_is_not(app, client):
    with client.session_transaction() as session:
        session["probe"] = "kept"
    with client.session_transaction() as session:
        assert session["probe"] == "kept"
    client.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), "forged.value.sig")
    with client.session_transaction() as session:
        assert "probe" not in session


def test_saving_answers_with_the_same_headers_as_flasks_own(app, tokens):  # noqa: ANN001
    """Vary: Cookie when the session was looked at, Set-Cookie only when it changed."""
    from flask.sessions import SecureCookieSessionInterface

    def answers(interface: SecureCookieSessionInterface) -> list:
        app.session_interface = interface
        client = app.test_client()
        bearer = {"Authorization": f"Bearer {tokens['access']}"}
        responses = [client.get("/api/auth/me/", headers=bearer), client.get("/healthz"),
                     client.get("/login"), client.get("/login")]  # the second has the cookie
        return [(r.status_code, r.headers.get("Vary"), "Set-Cookie" in r.headers)
                for r in responses]

    ours = answers(LazySecureCookieSessionInterface())
    assert ours == answers(SecureCookieSessionInterface())
    # The API reads no session (no Vary); the first page sets the cookie.
    assert ours[0][1] is None and "Cookie" in ours[2][1] and ours[2][2]
