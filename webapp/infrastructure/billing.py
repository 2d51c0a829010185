"""Stripe behind the billing port; the only module that imports ``stripe``."""

from __future__ import annotations

import stripe


class DisabledBilling:
    """STRIPE_SECRET_KEY unset: billing is off, and says so."""

    enabled = False

    def find_customer(self, user_id: int) -> str | None:
        return None

    def create_customer(self, **_: object) -> str:
        raise RuntimeError("billing is off")


class StripeGateway:
    enabled = True

    def __init__(self, api_key: str, api_base: str | None = None) -> None:
        kwargs: dict = {"max_network_retries": 0}
        if api_base:
            kwargs["base_addresses"] = {"api": api_base.rstrip("/")}
        self.client = stripe.StripeClient(api_key, **kwargs)

    def find_customer(self, user_id: int) -> str | None:
        """A customer already made for this user, e.g. by a worker killed after Stripe answered."""
        try:
            found = self.client.v1.customers.search(
                params={"query": f"metadata['user_id']:'{int(user_id)}'", "limit": 1})
        except stripe.InvalidRequestError:
            return None  # search is not offered (e.g. by an emulator)
        return found.data[0].id if found.data else None

    def create_customer(self, *, user_id: int, email: str | None, phone: str | None,
                        name: str, idempotency_key: str) -> str:
        params: dict = {"metadata": {"user_id": str(user_id)}}
        if email:
            params["email"] = email
        if phone:
            params["phone"] = phone
        if name:
            params["name"] = name
        customer = self.client.v1.customers.create(
            params=params, options={"idempotency_key": idempotency_key})
        return customer.id
