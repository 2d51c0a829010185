"""Real threads against a threaded server on the test database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import PASSWORD
from tests.integration.api.conftest import count_users, login, stored_user

THREADS = 10


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run the calls on as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=30)
        return call()  # each call opens its own connection

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_registrations_of_one_address_make_one_account(server, app, outbox):
    spellings = ["jane@example.com", "Jane@example.com", "JANE@EXAMPLE.COM", "jane@Example.com",
                 " jane@example.com", "jAne@example.com", "janE@example.COM", "JANE@example.com",
                 "jane@EXAMPLE.com", "Jane@Example.Com"]
    responses = all_at_once([
        lambda email=email: requests.post(f"{server}/api/auth/register/", timeout=60,
                                          json={"email": email, "password": PASSWORD})
        for email in spellings
    ])
    assert [r.status_code for r in responses] == [201] * THREADS, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert count_users(app) == 1
    assert stored_user(app, email="jane@example.com") is not None
    # Every attempt was answered by a message to the one owner (a verification, since unverified).
    assert len(outbox.all("email", "jane@example.com")) == THREADS


def test_parallel_refreshes_of_one_token_give_exactly_one_success(server, client, verified_user):
    pair = login(client, email=verified_user[0])
    responses = all_at_once([
        lambda: requests.post(f"{server}/api/auth/token/refresh/", timeout=60,
                              json={"refresh": pair["refresh"]})
        for _ in range(THREADS)
    ])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 401: THREADS - 1}, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    # Racing tabs within the grace are not a theft: the winner's session lives on.
    again = client.post("/api/auth/token/refresh/", json={"refresh": winner["refresh"]})
    assert again.status_code == 200
    assert client.get("/api/auth/me/", headers={
        "Authorization": f"Bearer {again.json['access']}"}).status_code == 200
