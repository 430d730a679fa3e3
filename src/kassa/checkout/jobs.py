"""Background work of checkout sessions: expiry at expiresAt, and the sweep that backs it up."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from kassa.checkout.models import CheckoutSession
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.jobs.queue import JobContext, job_kind

SWEEP_BATCH = 200


# While a payment may still be confirming, the job looks again every second (expiry within seconds of the
# moment the chains have been read past expiresAt); many attempts are allowed before the sweep takes over.
@job_kind("checkout.expire", backoff=(timedelta(seconds=1),), max_attempts=3600)
def expire_session_job(ctx: JobContext, session_id: uuid.UUID) -> None:
    from kassa.checkout.service.expire import expire_if_due

    expire_if_due(ctx.db, ctx.clock, session_id, ctx.settings.public_url, raise_if_waiting=True)


def sweep_expired(settings: Settings, database: Database) -> int:
    """Expire every open session past its time, in case its job was lost or delayed."""
    from kassa.checkout.service.expire import expire_if_due

    now = settings.clock.now()
    with database.read_sessions() as db:
        due = list(
            db.scalars(
                select(CheckoutSession.id)
                .where(CheckoutSession.status == "open", CheckoutSession.expires_at <= now)
                .limit(SWEEP_BATCH)
            )
        )
    expired = 0
    for session_id in due:
        with database.write_sessions() as db:
            if expire_if_due(db, settings.clock, session_id, settings.public_url):
                expired += 1
            db.commit()
    return expired
