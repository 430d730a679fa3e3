"""Imports every model module so the metadata (migrations, tests) sees all tables."""

from kassa.api.models import IdempotencyRecord
from kassa.auth.models import ApiKey, Organization
from kassa.catalog import models as catalog_models
from kassa.checkout import models as checkout_models
from kassa.customers.models import Customer
from kassa.db.base import Base
from kassa.discounts import models as discount_models
from kassa.events import models as event_models
from kassa.jobs import models as job_models
from kassa.payments import models as payment_models
from kassa.taxes import models as tax_models
from kassa.webhooks import models as webhook_models

__all__ = [
    "ApiKey",
    "Base",
    "Customer",
    "IdempotencyRecord",
    "Organization",
    "catalog_models",
    "checkout_models",
    "discount_models",
    "event_models",
    "job_models",
    "payment_models",
    "tax_models",
    "webhook_models",
]
