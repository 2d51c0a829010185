"""Names refuse invisible characters that change how they read (but keep the joiners that
Persian or Hindi need where they write them); phone numbers refuse an extension instead of
dropping it. Both with a message that says what to change."""

from __future__ import annotations

import pytest

from webapp.domain.errors import ValidationFailed
from webapp.domain.values import Phone, clean_name


@pytest.mark.parametrize("name", ["Jane\u202eeoD", "\u2066Jane\u2069", "Jane\u200f",
                                  "Ja\u061cne"])
def test_a_name_with_bidirectional_controls_is_refused(name: str):
    with pytest.raises(ValidationFailed) as refused:
        clean_name(name, "first_name")
    assert "text-direction" in refused.value.errors["first_name"][0]


@pytest.mark.parametrize("name", ["Ja\u200bne", "Jane\u200d", "\ufeffJane", "Ja\u2060ne",
                                  "Ann\u200ca", "\u200c\u0639\u0644\u06cc", "Ann\u200da",
                                  "\u0645\u200c \u0631"])
def test_a_name_with_zero_width_characters_is_refused(name: str):
    with pytest.raises(ValidationFailed) as refused:
        clean_name(name, "last_name")
    assert "zero-width" in refused.value.errors["last_name"][0]


@pytest.mark.parametrize("name", ["José María", "Zoë O'Brien-Łukasiewicz", "山田 太郎",
                                  "محمد", "  Jane   Doe ",
                                  # Persian Ali-Reza: a non-joiner between joining letters
                                  "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",
                                  # Hindi: a joiner after a virama (a conjunct's half form)
                                  "\u0915\u094d\u200d\u0937\u093f\u0924\u093f\u091c"])
def test_real_names_in_any_script_pass(name: str):
    assert clean_name(name, "first_name") == " ".join(name.split())


@pytest.mark.parametrize(("raw", "extension"), [
    ("+1 415 555 0123 x99", "99"), ("+14155550123 ext. 12", "12"),
    ("(415) 555-0123 ext 7", "7")])
def test_a_phone_number_with_an_extension_is_refused_not_shortened(raw: str, extension: str):
    with pytest.raises(ValidationFailed) as refused:
        Phone.parse(raw, "US")
    message = refused.value.errors["phone"][0]
    assert f"without its extension ({extension})" in message and "text message" in message


def test_a_phone_number_without_an_extension_still_parses():
    assert Phone.parse("(415) 555-0123", "US").value == "+14155550123"
