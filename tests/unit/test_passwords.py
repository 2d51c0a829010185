"""The password rules of webapp/domain/passwords.py (NIST SP 800-63B / OWASP)."""

from __future__ import annotations

import unicodedata

import pytest

from webapp.domain.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    LineSet,
    common_passwords,
    normalize_password,
    password_problems,
)

VIETNAMESE = ("Người Hà Nội thường uống trà đá vỉa hè mỗi buổi chiều, "
              "nhưng tôi thích cà phê sữa đá hơn nhiều vì trời nóng quá")
GOOD = "correct horse battery staple"


def test_a_good_passphrase_is_accepted():
    assert password_problems(GOOD, ["jane@example.com", "+14155550123"]) == []


@pytest.mark.parametrize("password", ["a" * 7 + "", "short", "", "sev3n!!"])
def test_fewer_than_eight_code_points_is_refused(password):
    assert password_problems(password) == [f"Use at least {MIN_LENGTH} characters."]


def test_exactly_eight_and_exactly_128_are_allowed():
    assert password_problems("zq8#vrt2") == []
    assert password_problems("zq8#vrt2" * 16) == []  # 128
    assert password_problems("zq8#vrt2" * 16 + "x") == [f"Use at most {MAX_LENGTH} characters."]


def test_length_counts_code_points_not_bytes_or_graphemes():
    # Eight emoji: 32 bytes in UTF-8, 8 code points: allowed.
    assert password_problems("\U0001f600\U0001f60e\U0001f680\U0001f30d"
                             "\U0001f355\U0001f3b8\U0001f40d\U0001f511") == []
    # Seven emoji are seven code points: too short, however many bytes.
    assert password_problems("\U0001f600" * 7) != []
    # q + combining acute has no precomposed form, so NFKC keeps two code points each:
    # four graphemes, eight code points.
    combining = "q\u0301" * 4
    assert len(normalize_password(combining)) == 8
    assert password_problems(combining) == []
    # A family emoji is 5 code points (3 people + 2 zero-width joiners).
    assert password_problems("\U0001f468\u200d\U0001f469\u200d\U0001f467" * 2) == []
    # 129 emoji (516 bytes) are over the limit.
    assert password_problems("\U0001f511" * 129) == [f"Use at most {MAX_LENGTH} characters."]


def test_a_long_password_typed_decomposed_counts_its_characters():
    # 111 characters, 148 code points in NFD (as a Vietnamese input method in its
    # "composite" mode types them): the limit counts characters, so it is allowed.
    typed = unicodedata.normalize("NFD", VIETNAMESE)
    assert len(VIETNAMESE) <= MAX_LENGTH < len(typed)
    assert password_problems(typed) == []
    assert normalize_password(typed) == VIETNAMESE


@pytest.mark.parametrize("padded", ["password ", " 12345678", "iloveyou  ", "\tpassword1"])
def test_a_common_password_with_spaces_around_it_is_still_common(padded):
    assert password_problems(padded) == [
        "This password is too common. Choose one that is harder to guess."]


def test_nothing_is_truncated_or_stripped():
    long = "".join(chr(ord("a") + i % 26) for i in range(100))
    other = long[:89] + "#" + long[90:]
    assert normalize_password(long) != normalize_password(other)
    assert normalize_password("  padded password  ") == "  padded password  "


def test_nfkc_makes_full_width_and_ascii_forms_equal():
    full_width = "\uff43\uff4f\uff52\uff52\uff45\uff43\uff54 horse battery staple"
    assert normalize_password(full_width) == GOOD
    assert normalize_password("e\u0301") == "\u00e9"  # composed


def test_the_list_matches_whole_lines_only():
    listed = LineSet("password\r\nqwerty\n\n123456\n")
    assert len(listed) == 3
    assert all(word in listed for word in ("password", "qwerty", "123456"))
    # Not a part of a line, nor two lines at once, nor the empty line.
    for word in ("assword", "passwor", "password\nqwerty", "qwerty\n", "", "\n", None):
        assert word not in listed, word


def test_the_common_list_is_large_and_checked_case_insensitively():
    assert len(common_passwords()) >= 10_000
    assert "password1" in common_passwords()
    for password in ("password1", "PASSWORD1", "PassWord1", "iloveyou!", "\uff50assword1"):
        assert password_problems(password) == [
            "This password is too common. Choose one that is harder to guess."], password


@pytest.mark.parametrize("password", [
    "jane@example.com",        # equal to the email
    "JANE@EXAMPLE.COM",        # equal, other case
    "jane@example.co",         # nearly equal
    "janedoe@example.com",     # close
    "jane1234",                # the local part with digits
    "+14155550123",            # equal to the phone
    "14155550123",             # the phone without +
    "4155550123",              # the national number
    "call me on 4155550123",   # the national number inside a passphrase
])
def test_equal_or_close_to_the_email_or_phone_is_refused(password):
    assert password_problems(password, ["jane@example.com", "+14155550123"]) == [
        "This password is too close to your email address or phone number."]


def test_unrelated_passwords_are_not_confused_with_the_identity():
    assert password_problems("zebra crossing at noon", ["jo@example.com"]) == []
    assert password_problems("purple monkey dishwasher", ["+14155550123"]) == []
    # A UK mobile written at home (07911 123456) inside a passphrase is the number too.
    assert password_problems("ring 07911123456 after six", ["+447911123456"]) != []
