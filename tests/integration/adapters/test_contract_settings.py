"""Contract variables that no other test reads end to end: each default, and each value
from the environment, reaches the part of the app that uses it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from webapp.bootstrap import sms_from
from webapp.config import Settings


@pytest.mark.parametrize("environ,reauth,grace", [
    ({}, timedelta(seconds=300), timedelta(days=7)),
    ({"REAUTH_MAX_AGE": "60", "ACCOUNT_DELETION_GRACE": "0"}, timedelta(seconds=60),
     timedelta(0)),
])
def test_reauth_max_age_and_deletion_grace_reach_the_services(app_factory, environ, reauth,
                                                               grace):
    policy = app_factory(**environ).extensions["ports"].policy
    assert (policy.reauth_max_age, policy.account_deletion_grace) == (reauth, grace)


@pytest.mark.parametrize("environ,use_ssl,use_tls", [
    ({}, False, False),
    ({"MAIL_USE_SSL": "true", "MAIL_PORT": "465"}, True, False),
    ({"MAIL_USE_TLS": "true", "MAIL_PORT": "587"}, False, True),
])
def test_flask_mail_gets_the_tls_settings(app_factory, environ, use_ssl, use_tls):
    from flask_mail import Mail

    app = app_factory(MAIL_SERVER="smtp.example.com", **environ)
    mail = Mail().init_mail(app.config)  # what the first email's Flask-Mail is built from
    assert (mail.use_ssl, mail.use_tls, mail.server) == (use_ssl, use_tls, "smtp.example.com")


@pytest.mark.parametrize("token,authorization", [("s3cret", "Bearer s3cret"), ("", None)])
def test_the_http_sms_gateway_gets_its_json_and_the_optional_bearer_token(
        tmp_path, monkeypatch, token, authorization):
    import requests

    sent = {}

    class Answer:
        def raise_for_status(self) -> None:
            return None

    def post(url, json, headers, timeout):  # noqa: ANN001, ANN202, A002
        sent.update(url=url, json=json, authorization=headers.get("Authorization"))
        return Answer()

    monkeypatch.setattr(requests, "post", post)
    settings = Settings.load({"SMS_BACKEND": "http", "SMS_HTTP_URL": "http://gw/sms",
                              "SMS_HTTP_TOKEN": token}, None, tmp_path / "instance")
    sms_from(settings).send("+14155550123", "Your code is 123456", "message-1")
    assert sent == {"url": "http://gw/sms", "authorization": authorization,
                    "json": {"to": "+14155550123", "body": "Your code is 123456"}}


@pytest.mark.parametrize("environ,access,refresh", [
    ({}, 900, 1_209_600),
    ({"JWT_ACCESS_TTL": "60", "JWT_REFRESH_TTL": "3600"}, 60, 3600),
])
def test_token_lifetimes_are_the_ones_configured(app_factory, environ, access, refresh):
    import jwt

    from tests.conftest import PASSWORD

    app = app_factory(**environ)
    with app.app_context():
        services = app.extensions["services"]
        services.admin.create_admin("root@example.com", PASSWORD)
    pair = app.test_client().post("/api/auth/token/", json={"email": "root@example.com",
                                                             "password": PASSWORD}).json
    lifetimes = [(claims["exp"] - claims["iat"]) for claims in (
        jwt.decode(pair[kind], options={"verify_signature": False})
        for kind in ("access", "refresh"))]
    assert lifetimes == [access, refresh]
