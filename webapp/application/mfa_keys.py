"""Rotating the key that seals TOTP secrets at rest (``flask mfa-reseal``): every stored
secret is opened with whichever configured key opens it and sealed with the newest."""

from __future__ import annotations

from webapp.application.common import Service
from webapp.application.interfaces import SecretBox


def reseal_secrets(service: Service, box: SecretBox, batch: int = 200) -> tuple[int, int]:
    """Seal every stored TOTP secret again with the newest key (MFA_ENCRYPTION_KEY's
    first), so that older keys can be retired. Answers (sealed again, unreadable): a
    secret no configured key opens is left as it is."""
    resealed = unreadable = 0
    after = 0
    while True:
        with service.ports.uow() as uow:
            devices = uow.totp.batch_after(after, batch)
            if not devices:
                service.audit(uow, "mfa_secrets_resealed", resealed=resealed,
                              unreadable=unreadable)
                uow.commit()
                return resealed, unreadable
            for device in devices:
                after = device.id or after
                try:
                    device.secret = box.seal(box.open(device.secret))
                except ValueError:
                    unreadable += 1
                    continue
                uow.totp.save(device)
                resealed += 1
            uow.commit()
