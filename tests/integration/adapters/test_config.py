"""Settings.load: the contract's defaults, validation with every problem listed, the dev key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from webapp.config import ConfigError, Settings

PROD = {"APP_ENV": "production", "SECRET_KEY": "s" * 40,
        "APP_BASE_URL": "https://accounts.example.com"}


def load(tmp_path: Path, environ: dict[str, str] | None = None, **overrides) -> Settings:
    return Settings.load(environ or {}, overrides or None, tmp_path / "instance")


def problems(tmp_path: Path, environ: dict[str, str] | None = None, **overrides) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ, **overrides)
    return str(caught.value)


def test_defaults_match_the_contract(tmp_path):
    settings = load(tmp_path)
    assert settings.APP_ENV == "development"
    database_url = settings.DATABASE_URL
    assert database_url == f"sqlite:///{tmp_path / 'instance' / 'app.db'}"
    assert settings.APP_BASE_URL == "http://localhost:5000"
    assert settings.MAIL_SERVER == ""  # console + dev outbox page
    assert settings.SMS_BACKEND == "console"
    assert settings.STRIPE_SECRET_KEY == "" and settings.STRIPE_WEBHOOK_SECRET == ""
    assert settings.STRIPE_API_BASE == ""
    assert settings.REDIS_URL == ""
    assert (settings.JWT_ACCESS_TTL, settings.JWT_REFRESH_TTL) == (900, 1_209_600)
    assert settings.RATELIMIT_ENABLED is True
    assert settings.TRUSTED_PROXIES == 0
    assert settings.PWNED_PASSWORDS_URL == ""
    assert settings.REGISTRATION == "open"
    assert settings.DELIVERY == "inline"
    assert (settings.ARGON2_MEMORY_COST, settings.ARGON2_TIME_COST,
            settings.ARGON2_PARALLELISM) == (19456, 2, 1)
    assert len(settings.SECRET_KEY) == 64


def test_environment_values_are_converted(tmp_path):
    settings = load(tmp_path, {"JWT_ACCESS_TTL": "60", "RATELIMIT_ENABLED": "false",
                               "MAIL_USE_TLS": "Yes", "TRUSTED_PROXIES": "2",
                               "REGISTRATION": "invite", "DELIVERY": "worker"})
    assert settings.JWT_ACCESS_TTL == 60 and settings.TRUSTED_PROXIES == 2
    assert settings.RATELIMIT_ENABLED is False and settings.MAIL_USE_TLS is True
    assert (settings.REGISTRATION, settings.DELIVERY) == ("invite", "worker")


def test_string_overrides_are_converted_like_the_environment(tmp_path):
    settings = load(tmp_path, JWT_ACCESS_TTL="60", RATELIMIT_ENABLED="false")
    assert settings.JWT_ACCESS_TTL == 60 and settings.RATELIMIT_ENABLED is False


def test_unknown_overrides_are_kept_as_extra(tmp_path):
    assert load(tmp_path, WTF_CSRF_ENABLED=False).extra == {"WTF_CSRF_ENABLED": False}


def test_production_refuses_a_missing_secret_key_with_a_clear_message(tmp_path):
    message = problems(tmp_path, {**PROD, "SECRET_KEY": ""})
    assert "SECRET_KEY is required in production" in message
    assert "secrets.token_hex" in message  # says how to make one
    assert not (tmp_path / "instance" / "secret_key").exists()  # nothing generated


def test_production_refuses_a_short_secret_key(tmp_path):
    assert "SECRET_KEY must be at least 32 characters" in problems(
        tmp_path, {**PROD, "SECRET_KEY": "short"})


def test_production_with_good_settings_loads(tmp_path):
    settings = load(tmp_path, PROD)
    assert settings.is_production and settings.SECRET_KEY == "s" * 40


def test_production_needs_https_links(tmp_path):
    assert "APP_BASE_URL must use https" in problems(
        tmp_path, {**PROD, "APP_BASE_URL": "http://accounts.example.com"})


def test_the_passkey_rp_id_must_be_the_sites_host_or_a_parent_domain(tmp_path):
    assert load(tmp_path, {**PROD, "WEBAUTHN_RP_ID": "example.com"}).WEBAUTHN_RP_ID
    assert load(tmp_path, {**PROD, "WEBAUTHN_RP_ID": "accounts.example.com"})
    for wrong in ("evil.com", "ample.com", "other.example.com"):
        assert "WEBAUTHN_RP_ID must be" in problems(tmp_path, {**PROD, "WEBAUTHN_RP_ID": wrong})


def test_every_problem_is_listed_together_once(tmp_path):
    error_text = problems(tmp_path, {
        "JWT_ACCESS_TTL": "fifteen", "TRUSTED_PROXIES": "1.5", "RATELIMIT_ENABLED": "maybe",
        "SMS_BACKEND": "pigeon", "REGISTRATION": "closed", "DELIVERY": "later",
        "APP_ENV": "staging", "APP_BASE_URL": "localhost:5000",
    })
    for name in ("JWT_ACCESS_TTL", "TRUSTED_PROXIES", "RATELIMIT_ENABLED", "SMS_BACKEND",
                 "REGISTRATION", "DELIVERY", "APP_ENV", "APP_BASE_URL"):
        assert error_text.count(name) == 1, (name, error_text)
    assert "'fifteen'" in error_text and "'pigeon'" in error_text
    assert "must be true or false" in error_text
    assert "must be a whole number" in error_text


def test_problems_are_a_list_on_the_exception(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"JWT_REFRESH_TTL": "0", "SMS_BACKEND": "http"})
    assert caught.value.problems == [
        "SMS_BACKEND=http needs SMS_HTTP_URL.",
        "JWT_REFRESH_TTL must be a positive number.",
    ]


def test_sms_backends_need_their_settings(tmp_path):
    assert "TWILIO_ACCOUNT_SID" in problems(tmp_path, {"SMS_BACKEND": "twilio"})
    assert load(tmp_path, {"SMS_BACKEND": "http",
                           "SMS_HTTP_URL": "http://127.0.0.1:9/sms"}).SMS_BACKEND == "http"


def test_the_dev_secret_key_is_generated_once_private_and_reused(tmp_path):
    first = load(tmp_path)
    path = tmp_path / "instance" / "secret_key"
    assert path.read_text() == first.SECRET_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load(tmp_path).SECRET_KEY == first.SECRET_KEY
    assert load(tmp_path, {"APP_ENV": "testing"}).SECRET_KEY == first.SECRET_KEY
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no stray temp files


def test_an_explicit_secret_key_is_not_written_anywhere(tmp_path):
    assert load(tmp_path, {"SECRET_KEY": "x" * 40}).SECRET_KEY == "x" * 40
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_an_empty_kept_secret_key_is_refused_not_used(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    path.parent.mkdir()
    path.write_text("")
    assert "secret_key" in problems(tmp_path)


def test_create_app_refuses_production_without_a_secret_key(monkeypatch, tmp_path):
    from webapp import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY is required in production"):
        create_app({"APP_BASE_URL": "https://accounts.example.com",
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_log_level_and_phone_region_are_checked(tmp_path):
    message = problems(tmp_path, {"LOG_LEVEL": "LOUD", "PHONE_DEFAULT_REGION": "USA"})
    assert "LOG_LEVEL" in message and "PHONE_DEFAULT_REGION" in message
    settings = load(tmp_path, {"LOG_LEVEL": "debug", "PHONE_DEFAULT_REGION": "gb"})
    assert (settings.LOG_LEVEL, settings.PHONE_DEFAULT_REGION) == ("DEBUG", "GB")
    assert load(tmp_path, {"PHONE_DEFAULT_REGION": ""}).PHONE_DEFAULT_REGION == ""


def test_phone_regions_are_phonenumbers_own_without_importing_it():
    # The start-up check looks for the library's metadata files instead of importing it.
    import string

    import phonenumbers

    from webapp.config import _is_phone_region

    codes = {a + b for a in string.ascii_uppercase for b in string.ascii_uppercase}
    assert {c for c in codes if _is_phone_region(c)} == set(phonenumbers.SUPPORTED_REGIONS)
    assert not any(_is_phone_region(c) for c in ("001", "800", "us", "", "G", "GBR", "../X"))


def test_production_refuses_debug(tmp_path):
    assert "FLASK_DEBUG must be off in production" in problems(
        tmp_path, {**PROD, "FLASK_DEBUG": "1"})
    assert load(tmp_path, {"FLASK_DEBUG": "1"}).FLASK_DEBUG is True  # fine in development


def test_every_default_rate_is_one_the_limits_library_reads():
    # The configuration checks only rates that differ from these (config_sources.py):
    # a default that the library refused would otherwise pass unnoticed.
    from limits import parse_many

    from webapp.application.throttling import DEFAULT_LIMITS

    for name, rate in DEFAULT_LIMITS.items():
        assert parse_many(rate), name


def test_a_rate_that_is_not_the_default_is_still_checked(tmp_path):
    with pytest.raises(ConfigError) as caught:
        Settings.load({"RATELIMIT_ENABLED": "false", "RATELIMIT_REGISTER": "10/fortnight"},
                      {"RATELIMITS": {"login": "often"}}, tmp_path)
    assert sorted(p.split(" ")[0] for p in caught.value.problems) == [
        "RATELIMIT_LOGIN", "RATELIMIT_REGISTER"]


@pytest.mark.parametrize("key", ["not-a-key", "c2hvcnQ=", "é" * 44,
                                 "A" * 43 + "=,bad"])
def test_a_bad_mfa_encryption_key_stops_the_app_at_start(tmp_path, key):
    assert "MFA_ENCRYPTION_KEY must be Fernet keys" in problems(
        tmp_path, MFA_ENCRYPTION_KEY=key)


def test_fernet_keys_are_accepted_newest_first(tmp_path):
    from cryptography.fernet import Fernet

    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"
    stored = load(tmp_path, MFA_ENCRYPTION_KEY=keys).MFA_ENCRYPTION_KEY
    assert stored == keys


@pytest.mark.parametrize("sender", ["Acme, Inc. <no-reply@example.com>", "no-reply",
                                    "a@example.com, b@example.com", ""])
def test_the_sender_must_be_one_address(tmp_path, sender):
    """An unquoted comma makes two addresses: every email would go out From "Acme"."""
    assert f"MAIL_DEFAULT_SENDER must be one address such as 'Accounts <no-reply@example.com>'" \
        f" (a name with a comma in double quotes: '\"Acme, Inc.\" <no-reply@example.com>'), " \
        f"not {sender!r}." in problems(tmp_path, {"MAIL_DEFAULT_SENDER": sender})


@pytest.mark.parametrize("sender", ['"Acme, Inc." <no-reply@example.com>', "no-reply@localhost",
                                    "Accounts <no-reply@example.com>",
                                    "Ünited <no-reply@bücher.example>"])
def test_a_sender_that_reads_as_one_address_is_taken(tmp_path, sender):
    settings = load(tmp_path, {"MAIL_DEFAULT_SENDER": sender})
    assert sender == settings.MAIL_DEFAULT_SENDER
