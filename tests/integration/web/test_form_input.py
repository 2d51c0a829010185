"""No 500 from input: every browser form refuses a file, a list or an over-long value.

The POST routes are taken from ``app.url_map`` (everything outside /api, whose JSON
schemas are tested elsewhere), and the field names from every form class of the pages,
so a form or route added later is covered without editing this test.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask_wtf import FlaskForm

from tests.helpers.app import csrf_token, log_in, make_user
from webapp.interface.form_guard import MAX_FIELD

ARGS = {"int": "1", "default": "x", "string": "x", "path": "x", "any": "resend"}


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def form_fields() -> set[str]:
    """Every field name of every Flask-WTF form of the app, and the raw fields views read."""
    import webapp.interface.admin.forms  # noqa: F401  (loads every form class)
    import webapp.interface.web.forms  # noqa: F401

    names = {"back", "next"}
    for form in _all_subclasses(FlaskForm):
        names |= {name for name in dir(form) if hasattr(getattr(form, name), "field_class")}
    return names


def post_routes(app: Flask) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.rule.startswith("/api"):
            continue
        path = rule.rule
        for argument in rule.arguments:
            converter = type(rule._converters[argument]).__name__.lower()  # noqa: SLF001
            value = next((v for k, v in ARGS.items() if converter.startswith(k)), "x")
            path = path.replace(f"<{argument}>", value)
            for kind in ARGS:
                path = path.replace(f"<{kind}:{argument}>", ARGS[kind])
            if "<" in path:  # converters with arguments: <any(a, b):verb>, <int(min=1):id>
                start = path.index("<")
                path = path[:start] + value + path[path.index(">", start) + 1:]
        paths.append(path)
    return sorted(set(paths))


@pytest.fixture
def staff_client(app: Flask):
    client = app.test_client()
    log_in(client, make_user(app, "staff@example.com", staff=True))
    return client


def test_the_routes_and_fields_are_found(app):
    routes, fields = post_routes(app), form_fields()
    # the main forms of each door: if these go missing, the enumeration is broken
    assert {"/login", "/signup", "/reset", "/admin/invitations"} <= set(routes)
    assert {"identifier", "password", "new_password", "email", "staff", "code"} <= fields


def test_a_file_in_any_field_of_any_form_is_a_400(app, staff_client):
    token = csrf_token(staff_client, "/admin/invitations")
    fields = form_fields()
    for path in post_routes(app):
        for field in fields:
            data = {"csrf_token": token, field: (io.BytesIO(b"x" * 10), "f.txt")}
            response = staff_client.post(path, data=data, content_type="multipart/form-data")
            # 400 from the guard: the CSRF token is good, and no route answers 400 itself
            assert response.status_code == 400, (path, field, response.status_code)


def test_a_list_or_an_overlong_value_in_any_form_is_a_4xx(app, staff_client):
    token = csrf_token(staff_client, "/admin/invitations")
    fields = sorted(form_fields())
    for path in post_routes(app):
        twice = staff_client.post(path, data={"csrf_token": token, fields[0]: ["a", "b"]})
        assert twice.status_code == 400, (path, twice.status_code)
        long = staff_client.post(path, data={"csrf_token": token, "next": "/" * (MAX_FIELD + 1)})
        assert long.status_code == 413, (path, long.status_code)


def test_the_anonymous_login_form_refuses_a_file_as_a_page(client):
    response = client.post("/login", data={"password": (io.BytesIO(b"x"), "a.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("back", ["/admin/queue\r\nSet-Cookie: x=1", "/admin/\nq",
                                  "//evil.example/admin/", "/account"])
def test_the_staff_back_field_falls_back_to_the_queue(app, staff_client, back):
    token = csrf_token(staff_client, "/admin/invitations")
    response = staff_client.post("/admin/queue/1/retry", data={"csrf_token": token,
                                                               "back": back})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/queue"


def test_the_staff_back_field_keeps_a_staff_page(app, staff_client):
    token = csrf_token(staff_client, "/admin/invitations")
    response = staff_client.post("/admin/queue/1/retry", data={
        "csrf_token": token, "back": "/admin/queue?status=failed"})
    assert response.headers["Location"] == "/admin/queue?status=failed"
