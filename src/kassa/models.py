"""Imports every model module so the metadata (migrations, tests) sees all tables."""

from kassa.api.models import IdempotencyRecord
from kassa.auth.models import ApiKey, Organization
from kassa.customers.models import Customer
from kassa.db.base import Base

__all__ = ["ApiKey", "Base", "Customer", "IdempotencyRecord", "Organization"]
