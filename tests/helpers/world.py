"""Set-up and look-ups over the in-memory fakes of tests/fakes (``make_world``)."""

from __future__ import annotations

from tests.fakes import World
from webapp.domain.model import MessageKind, User

PASSWORD = "correct horse battery staple"
EMAIL = "jane@example.com"
PHONE = "+14155550123"  # a valid US number; national form "(415) 555-0123"


def register(world: World, email: str | None = EMAIL, phone: str | None = None,
             password: str = PASSWORD, **names: str) -> None:
    world.services.accounts.register(email=email, phone=phone, password=password, **names)


def email_code(world: World, to: str = EMAIL) -> str:
    return world.field_of(world.emails(to)[-1], "code")


def sms_code(world: World, to: str = PHONE) -> str:
    return world.field_of(world.texts(to)[-1], "code")


def link_token(world: World, to: str = EMAIL, path: str = "/verify/") -> str:
    """The token of the newest emailed link (``<base>/verify/<token>``)."""
    link = world.field_of(world.emails(to)[-1], "link")
    assert link.startswith(world.policy.base_url + path), link
    return link.split(path, 1)[1]


def verified(world: World, email: str | None = EMAIL, phone: str | None = None,
             password: str = PASSWORD) -> User:
    """A registered account with its email (or else its phone) verified."""
    register(world, email=email, phone=phone, password=password)
    if email:
        return world.services.verification.verify_email_code(email, email_code(world, email))
    assert phone is not None
    return world.services.verification.verify_phone_code(phone, sms_code(world, phone))


def wrong(code: str) -> str:
    """A 6-digit code that is surely not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def add_user(world, email, **fields):
    with world.ports.uow() as uow:
        user = uow.users.add(User(**{"email": email, "phone": None,
                                     "password_hash": "fake$v1$x",
                                     "created_at": world.clock.now(), **fields}))
        uow.commit()
        return user


def customer_jobs(world: World) -> list:
    return [m for m in world.store.outbox.values() if m.kind == MessageKind.STRIPE_CUSTOMER]


def deliver(world: World, worker: str = "w1") -> None:
    world.services.delivery.deliver_due(worker)


def customer_ready(world: World) -> int:
    user_id = verified_id(world)
    deliver(world)
    assert world.store.users[user_id].stripe_customer_id
    return user_id


def verified_id(world: World, email: str = EMAIL) -> int:
    world.services.accounts.register(email=email, phone=None, password=PASSWORD,
                                     first_name="Jane", last_name="Doe")
    code = world.field_of(world.emails(email)[-1], "code")
    user = world.services.verification.verify_email_code(email, code)
    return user.id or 0
