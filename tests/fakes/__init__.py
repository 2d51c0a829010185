"""In-memory fakes of every port, for fast service tests without Flask or a database.

Fakes, not mocks (cosmicpython): they behave like the real thing, so tests
assert outcomes (``uow.committed``, messages in the outbox) rather than calls.
One module per port family, as in webapp/application/interfaces/; ``make_world``
wires them with the application's own ``wire_services``.
"""

from tests.fakes.billing import FakeBilling, FakeWebhooks
from tests.fakes.messaging import FakeMailer, FakeRenderer, FakeSms
from tests.fakes.requests import FakeRateLimiter, FakeRequestContext
from tests.fakes.security import (
    FakeBreachedPasswords,
    FakeClock,
    FakeCodeHasher,
    FakePasswordHasher,
    FakeSigner,
    FakeTokenCodec,
    RacingPasswords,
)
from tests.fakes.storage import (
    FakeAuditRepository,
    FakeStaffQueries,
    FakeUnitOfWork,
    FakeUserRepository,
    Store,
)
from tests.fakes.world import World, make_world

__all__ = [
    "FakeAuditRepository",
    "FakeBilling",
    "FakeBreachedPasswords",
    "FakeClock",
    "FakeCodeHasher",
    "FakeMailer",
    "FakePasswordHasher",
    "FakeRateLimiter",
    "FakeRenderer",
    "FakeRequestContext",
    "FakeSigner",
    "FakeSms",
    "FakeStaffQueries",
    "FakeTokenCodec",
    "FakeUnitOfWork",
    "FakeUserRepository",
    "FakeWebhooks",
    "RacingPasswords",
    "Store",
    "World",
    "make_world",
]
