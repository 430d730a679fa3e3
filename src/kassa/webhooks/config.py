"""Delivery settings, from the `[webhooks]` section of the KASSA_CONFIG file (all optional)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from kassa.config import ConfigError, Settings


@dataclass(frozen=True)
class DeliveryConfig:
    # Requests in flight per worker, and per endpoint within a worker (so one slow endpoint cannot take all).
    concurrency: int = 100
    per_endpoint: int = 25
    # Total time allowed for one request: connect, send, and the response.
    timeout_seconds: float = 10.0
    # A claimed delivery whose worker has not recorded an outcome after this long is due again. A worker claims
    # ahead, so a delivery may wait about one timeout for a slot before its own request: more than 2 × timeout.
    lease_seconds: float = 60.0
    # How often an idle worker looks for due deliveries (work committed in-process wakes it at once).
    poll_seconds: float = 0.25

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        section: Any = settings.file_config.get("webhooks", {})
        if not isinstance(section, dict):
            raise ConfigError("[webhooks] must be a table")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise ConfigError(f"[webhooks] unknown setting {key!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"[webhooks] {key} must be a positive number")
            values[key] = int(value) if known[key].type == "int" else float(value)
        config = cls(**values)
        if config.lease_seconds <= 2 * config.timeout_seconds:
            raise ConfigError("[webhooks] lease_seconds must be more than twice timeout_seconds")
        return config
