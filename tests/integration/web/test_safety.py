"""The safety points of the browser pages: CSRF, redirects, cookies, headers, no inline code."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.integration.web.conftest import HTMX, login, own_app, submit, text
from webapp.interface.web.safety import safe_next

BAD_NEXT = [
    "//evil.example", "///evil.example", "////evil.example", "https://evil.example",
    "http://evil.example/account", "HTTPS://evil.example", "http:evil.example",
    "http:/evil.example", "//evil.example/%2F..", "/\\evil.example", "\\\\evil.example",
    "\\/evil.example", "/\\/evil.example", "%2F%2Fevil.example", "/%2F%2Fevil.example",
    "/%2f/evil.example", "%2f%2fevil.example", "/%5Cevil.example", "/%5cevil.example",
    "%5C%5Cevil.example", "/%252F%252Fevil.example", "/%25252F%25252Fevil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/%09/evil.example",
    "/%0a/evil.example", "/%0d%0a/evil.example", "\t//evil.example", " //evil.example",
    "/ /evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x",
    "evil.example", "account", "./account", "/\x00/evil.example", "/%00/evil.example",
    "/\u2215\u2215evil.example", "/\uff0f\uff0fevil.example", "/accoun\u0442",
    "https:/\\evil.example", "/" + "a" * 2001, "",
]
GOOD_NEXT = ["/account", "/account?tab=security", "/verify#code", "/reset/code", "/",
             "/a/b/c?x=1&y=2"]


@pytest.mark.parametrize("target", BAD_NEXT)
def test_safe_next_refuses_other_sites_and_tricks(target):
    assert safe_next(target, "/account") == "/account"


@pytest.mark.parametrize("target", GOOD_NEXT)
def test_safe_next_keeps_paths_on_this_site(target):
    assert safe_next(target, "/fallback") == target


def test_safe_next_without_a_target_is_the_default():
    assert safe_next(None, "/account") == "/account"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example",
                                    "%2F%2Fevil.example", "/\t/evil.example"])
def test_login_never_redirects_off_site(client, verified_user, target):
    email, password = verified_user
    response = login(client, email, password, next_=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"


def test_a_next_too_long_to_follow_never_stops_a_login(client, verified_user):
    # e.g. a long admin search sent to the login page: the hidden next field is not
    # shown, so refusing the form over it was a silent 422 no retry could get past.
    email, password = verified_user
    target = "/admin/users?q=" + "x" * 2100
    response = login(client, email, password, next_=target)
    assert response.status_code == 303, text(response)
    assert response.headers["Location"] == "/account"


def test_login_follows_a_local_next(client, verified_user):
    email, password = verified_user
    response = login(client, email, password, next_="/account?tab=password")
    assert response.headers["Location"] == "/account?tab=password"


def test_login_page_carries_next_from_the_query(client):
    page = text(client.get("/login?next=/account"))
    assert 'name="next" type="hidden" value="/account"' in page


def test_the_account_page_sends_strangers_to_login_with_next(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Faccount"


FORMS = ["/signup", "/login", "/logout", "/verify", "/verify/resend", "/verify/some-token",
         "/reset", "/reset/code", "/reset/some-token", "/account/profile", "/account/password",
         "/account/logout-everywhere"]


@pytest.mark.parametrize("path", FORMS)
def test_every_form_refuses_a_post_without_csrf_token(client, path):
    response = client.post(path, data={"identifier": "jane@example.com", "password": "x"})
    assert response.status_code == 400
    assert "That request did not work" in text(response)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("path", ["/login", "/logout", "/signup"])
def test_a_forged_csrf_token_is_refused(client, path):
    response = client.post(path, data={"csrf_token": "forged", "identifier": "x@example.com"})
    assert response.status_code == 400


def test_logout_without_csrf_keeps_the_session(client, signed_in):
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_session_cookie_is_httponly_and_lax(client, verified_user):
    email, password = verified_user
    response = login(client, email, password)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_outside_development(tmp_path):
    with own_app(tmp_path, APP_ENV="production", APP_BASE_URL="https://accounts.example") as app:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        response = app.test_client().get("/login", base_url="https://accounts.example")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_login_starts_a_fresh_session(client, verified_user):
    email, password = verified_user
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, email, password)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


PAGES = ["/", "/signup", "/login", "/logout", "/verify", "/reset", "/reset/code",
         "/verify/some-token", "/reset/some-token", "/no-such-page"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_the_security_headers(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                      "base-uri 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/verify/some-token", "/reset/some-token"])
def test_token_pages_never_send_their_path_as_referrer(client, path):
    # strict-origin: the token in the path never leaves in a Referer, yet over HTTPS a form
    # posted from the page still names its origin, which Flask-WTF's CSRF check requires.
    assert client.get(path).headers["Referrer-Policy"] == "strict-origin"
    submitted = submit(client, path, page="/login")
    assert submitted.headers["Referrer-Policy"] == "strict-origin"
    assert submitted.headers["Cache-Control"] == "no-store"


HTTPS = "https://localhost"
# What a browser sends as Referer with a same-origin request, by the page's policy.
REFERER_BY_POLICY = {"no-referrer": None, "origin": f"{HTTPS}/", "strict-origin": f"{HTTPS}/",
                     "same-origin": "page", "strict-origin-when-cross-origin": "page"}


def post_from_page(client, path: str, data: dict[str, str], *, htmx: bool = False):
    """POST the form of ``path`` over HTTPS as a browser would, Referer as the page's
    Referrer-Policy allows (Flask-WTF refuses an HTTPS post without a same-origin one)."""
    page = client.get(path, base_url=HTTPS)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(page))
    assert token, text(page)
    referer = REFERER_BY_POLICY[page.headers["Referrer-Policy"]]
    headers = {**(HTMX if htmx else {}),
               **({"Referer": HTTPS + path if referer == "page" else referer} if referer else {})}
    return client.post(path, base_url=HTTPS, headers=headers,
                       data={"csrf_token": token.group(1), **data})


@pytest.mark.parametrize("htmx", [False, True])
def test_the_emailed_links_work_over_https(client, outbox, verified_user, htmx):
    assert submit(client, "/signup", {"email": "new@example.com", "phone": "",
                                      "password": PASSWORD}).status_code == 303
    token = outbox.link_token("new@example.com", "/verify/")
    verified = post_from_page(client, f"/verify/{token}", {}, htmx=htmx)
    assert verified.status_code in (204, 303), text(verified)
    submit(client, "/reset", {"identifier": "jane@example.com"})
    token = outbox.link_token("jane@example.com", "/reset/")
    new = "a brand new passphrase"
    reset = post_from_page(client, f"/reset/{token}",
                           {"new_password": new, "confirm_password": new}, htmx=htmx)
    assert reset.status_code in (204, 303), text(reset)
    assert login(client, "jane@example.com", new).status_code == 303


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.I)
OTHER_HOST = re.compile(r"""(?:src|href)=["'](?:https?:)?//""", re.I)


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_code_and_nothing_from_another_host(client, path):
    page = text(client.get(path))
    assert not INLINE_SCRIPT.search(page)
    assert not INLINE_STYLE.search(page)
    assert not OTHER_HOST.search(page)


def test_the_account_page_has_no_inline_code(client, signed_in):
    page = text(client.get("/account"))
    assert not INLINE_SCRIPT.search(page) and not INLINE_STYLE.search(page)


def test_htmx_is_served_from_this_site_with_its_version_noted(client, app):
    response = client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200
    assert b"htmx" in response.data[:2000]
    response.close()
    version = (app.static_folder + "/vendor/htmx-VERSION.txt")
    with open(version, encoding="utf-8") as handle:
        assert handle.read().startswith("htmx.org 2.")


def test_htmx_config_forbids_eval_and_inline_styles(client):
    page = text(client.get("/login"))
    assert '"allowEval":false' in page and '"includeIndicatorStyles":false' in page


def test_htmx_answers_are_not_cached_by_shared_caches(client):
    response = client.post("/login", data={}, headers=HTMX)
    assert response.status_code == 400  # no CSRF token: refused before anything else
