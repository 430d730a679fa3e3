"""Events are kept 30 days (the events API promises at least that), then deleted with their deliveries and
attempts by a periodic sweep."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, select

from kassa.config import Settings
from kassa.db.engine import Database
from kassa.events.models import Event
from kassa.webhooks.models import WebhookAttempt, WebhookDelivery

EVENT_RETENTION = timedelta(days=30)
PURGE_BATCH = 500
MAX_BATCHES_PER_RUN = 20


def purge_old_events(settings: Settings, database: Database) -> int:
    """Delete events older than the retention whose deliveries are all finished; returns how many."""
    cutoff = settings.clock.now() - EVENT_RETENTION
    purged = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with database.write_sessions() as db:
            pending = exists().where(WebhookDelivery.event_id == Event.id, WebhookDelivery.state == "pending")
            ids = list(db.scalars(select(Event.id).where(Event.created_at < cutoff, ~pending).limit(PURGE_BATCH)))
            if not ids:
                return purged
            deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(ids))
            db.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
            db.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
            db.execute(delete(Event).where(Event.id.in_(ids)))
            db.commit()
            purged += len(ids)
    return purged
