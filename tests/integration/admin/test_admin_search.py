"""The user list: search by email, phone or name prefix, filters, sorting, pages."""

from __future__ import annotations

import pytest

from tests.helpers.app import listed, log_in, make_user
from webapp.application.interfaces import SearchTerms
from webapp.application.staff import search_terms


@pytest.fixture
def people(app, client):
    boss = make_user(app, "boss@example.com", staff=True)
    make_user(app, "jane.doe@example.com", first_name="Jane", last_name="Doe",
              customer="cus_jane")
    make_user(app, "janet@example.org", first_name="Janet", last_name="Smith", verified=False)
    make_user(app, None, phone="+14155550123", first_name="Phil", last_name="Jones")
    make_user(app, "old@example.com", first_name="Olga", last_name="Doe", active=False)
    make_user(app, "under_score@example.com")
    log_in(client, boss)


def test_search_by_email_prefix(client, people):
    assert listed(client, "?q=jane.doe@") == ["jane.doe@example.com"]
    assert sorted(listed(client, "?q=JANE")) == ["jane.doe@example.com", "janet@example.org"]
    assert listed(client, "?q=under_") == ["under_score@example.com"]
    assert listed(client, "?q=under%25") == []  # LIKE wildcards are literal
    assert listed(client, "?q=example.com") == []  # prefixes only (indexable)


def test_search_by_phone_in_any_form(client, people):
    assert listed(client, "?q=%2B1415555") == ["+14155550123"]
    assert listed(client, "?q=(415) 555-0123") == ["+14155550123"]  # national, default region
    assert listed(client, "?q=1 415") == ["+14155550123"]


def test_search_by_names(client, people):
    assert sorted(listed(client, "?q=doe")) == ["jane.doe@example.com", "old@example.com"]
    assert listed(client, "?q=phi") == ["+14155550123"]
    assert listed(client, "?q=jane d") == ["jane.doe@example.com"]  # first and last


def test_filters(client, people):
    assert listed(client, "?staff=yes") == ["boss@example.com"]
    assert listed(client, "?active=no") == ["old@example.com"]
    assert listed(client, "?verified=no") == ["janet@example.org"]
    assert listed(client, "?customer=yes") == ["jane.doe@example.com"]
    assert "janet@example.org" not in listed(client, "?verified=yes")
    assert listed(client, "?q=doe&active=yes") == ["jane.doe@example.com"]


def test_sorting_and_pages(app, client, people):
    newest = listed(client)
    assert newest[0] == "under_score@example.com" and newest[-1] == "boss@example.com"
    assert listed(client, "?sort=oldest") == newest[::-1]
    emails = [e for e in listed(client, "?sort=email") if "@" in e]
    assert emails == sorted(emails)
    for i in range(60):
        make_user(app, f"bulk{i:02d}@example.net")
    first = client.get("/admin/users?q=bulk&sort=email").text
    assert first.count("bulk") >= 50 and "page=2" in first and "Next" in first
    second = listed(client, "?q=bulk&sort=email&page=2")
    assert second == [f"bulk{i:02d}@example.net" for i in range(50, 60)]
    assert "Next" not in client.get("/admin/users?q=bulk&sort=email&page=2").text


def test_nonsense_parameters_are_harmless(client, people):
    assert client.get("/admin/users?page=-3&sort=drop&verified=maybe").status_code == 200
    assert client.get("/admin/users?q=" + "x" * 5000).status_code == 200
    assert client.get("/admin/users?page=" + "9" * 40).status_code == 200
    assert client.get("/admin/audit?before=" + "9" * 40 + "&user=" + "9" * 40
                      ).status_code == 200
    assert client.get("/admin/queue?before=99999999999999999999999").status_code == 200


def test_search_terms_are_decided_in_one_place():
    assert search_terms("  ", "US") == SearchTerms()
    assert search_terms("Ann@X", "US").email_prefix == "ann@x"
    assert search_terms("+44 20", "US").phone_prefix == "+4420"
    assert search_terms("Ann Lee", "US").name_prefixes == ("ann", "lee")
    assert search_terms("ann", "US").email_prefix == "ann"


def test_ids_beyond_the_id_columns_and_non_ascii_digits_are_no_ids(app, client, people):
    """PostgreSQL's INTEGER ends at 2**31 - 1 and SQLite's at 2**63 - 1; "²" is a digit
    to str.isdigit() but not to int(): each is "no such row", never a 500."""
    app.config["WTF_CSRF_ENABLED"] = False  # the ids, not the token, are under test
    for query in ("/admin/audit?before=2147483648", "/admin/queue?before=999999999999",
                  "/admin/audit?user=2147483648", "/admin/audit?before=%C2%B2",
                  "/admin/users?page=%C2%B2", "/admin/audit?user=%C2%B2"):
        assert client.get(query).status_code == 200, query
    assert listed(client, "?page=%C2%B2") == listed(client)  # the first page
    for big in ("2147483648", "9" * 25):
        for method, path in (("GET", f"/admin/users/{big}"),
                             ("GET", f"/admin/users/{big}/promote"),
                             ("POST", f"/admin/users/{big}/promote"),
                             ("POST", f"/admin/queue/{big}/retry"),
                             ("POST", f"/admin/invitations/{big}/revoke")):
            assert client.open(path, method=method).status_code == 404, (method, path)


def test_a_nul_byte_in_the_query_is_a_bad_request(client, people):
    """PostgreSQL text cannot hold NUL: the search and the filters answer 400, not 500."""
    for query in ("/admin/users?q=ja%00", "/admin/users?q=%00", "/admin/audit?kind=%00",
                  "/admin/audit?user=a%00@example.com", "/admin/queue?kind=x%00"):
        assert client.get(query).status_code == 400, query
    assert listed(client, "?q=jane.doe@") == ["jane.doe@example.com"]


def test_unknown_query_keys_do_not_reach_the_page_links(app, client, people):
    """The pagination links are built from the query string: a key named like one of
    url_for's own arguments (endpoint, _method, _external, _anchor) must be dropped, not
    passed on (a 500, or links that point elsewhere)."""
    for i in range(55):
        make_user(app, f"bulk{i:02d}@example.net")
    for extra in ("endpoint=x", "_method=POST", "_external=1", "_anchor=top", "_scheme=ftp",
                  "values=x"):
        response = client.get(f"/admin/users?q=bulk&{extra}")
        assert response.status_code == 200, extra
        assert 'href="/admin/users?page=2&amp;q=bulk">' in response.text, extra
