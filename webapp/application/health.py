"""Whether the application can serve: the use case behind ``GET /healthz``."""

from __future__ import annotations

from webapp.application.common import Service


class HealthService(Service):
    def check(self) -> None:
        """One round trip to the database; raises whatever its failure raised."""
        with self.ports.uow() as uow:
            uow.ping()
