"""One settings object, built once at start-up and passed in (no module-level global)."""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kassa.clock import Clock, SystemClock

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    public_url: str
    log_level: str = "INFO"
    log_json: bool = True
    config_file: Path | None = None
    # Raw TOML document of KASSA_CONFIG; domains (chains, assets) read their own sections from it.
    file_config: Mapping[str, Any] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)
    max_body_bytes: int = 1024 * 1024
    idempotency_ttl_seconds: int = 24 * 3600
    # An in-flight idempotency key older than this is taken to belong to a crashed request.
    idempotency_stale_seconds: int = 60
    # The built-in dev chain (KASSA_DEVNET=1 or `kassa serve --devnet`): off unless asked; for development only.
    devnet: bool = False
    devnet_block_seconds: float = 1.0
    devnet_confirmations: int = 2
    # Chain watchers in this process: None = on in embedded mode.
    watchers: bool | None = None
    # Per API key: a bucket of `api_rate_burst` requests refilled at `api_rate_limit` per second (0 turns it off).
    api_rate_limit: float = 100.0
    api_rate_burst: int = 200
    # Signs the hosted page's CSRF tokens; every process serving pages needs the same one (KASSA_PAGE_SECRET).
    page_secret: str | None = field(default=None, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    clock: Clock | None = None,
    terminal: bool | None = None,
) -> Settings:
    """`terminal` says whether a person watches the output (default: stdout and stderr are both terminals);
    it picks the log format when KASSA_LOG_FORMAT is unset."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("KASSA_DATA_DIR", "./.kassa")).expanduser()
    database_url = env.get("KASSA_DATABASE_URL") or f"sqlite:///{(data_dir / 'kassa.db').as_posix()}"
    database_url = _normalise_database_url(database_url)
    public_url = (env.get("KASSA_PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError("KASSA_PUBLIC_URL must be an absolute http(s) URL")
    config_file: Path | None = None
    file_config: dict[str, Any] = {}
    if raw := env.get("KASSA_CONFIG"):
        config_file = Path(raw).expanduser()
        try:
            file_config = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"KASSA_CONFIG: no such file {config_file}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"KASSA_CONFIG: {config_file} is not valid TOML: {exc}") from exc
    log_level = env.get("KASSA_LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError("KASSA_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return Settings(
        devnet=_flag(env.get("KASSA_DEVNET")) is True,
        devnet_block_seconds=_positive_float(env.get("KASSA_DEVNET_BLOCK_SECONDS", "1"), "KASSA_DEVNET_BLOCK_SECONDS"),
        devnet_confirmations=int(
            _positive_float(env.get("KASSA_DEVNET_CONFIRMATIONS", "2"), "KASSA_DEVNET_CONFIRMATIONS")
        ),
        watchers=_flag(env.get("KASSA_WATCHERS")),
        page_secret=env.get("KASSA_PAGE_SECRET") or None,
        api_rate_limit=_non_negative_float(env.get("KASSA_API_RATE_LIMIT", "100"), "KASSA_API_RATE_LIMIT"),
        api_rate_burst=int(_positive_float(env.get("KASSA_API_RATE_BURST", "200"), "KASSA_API_RATE_BURST")),
        data_dir=data_dir,
        database_url=database_url,
        public_url=public_url,
        log_level=log_level,
        log_json=_log_json(env.get("KASSA_LOG_FORMAT"), _on_terminal() if terminal is None else terminal),
        config_file=config_file,
        file_config=file_config,
        clock=clock or SystemClock(),
    )


def _log_json(raw: str | None, terminal: bool) -> bool:
    """JSON lines for machines, the console format for a person at a terminal; KASSA_LOG_FORMAT decides if set."""
    if raw is None or raw == "":
        return not terminal
    if raw.lower() not in ("json", "console"):
        raise ConfigError("KASSA_LOG_FORMAT must be json or console")
    return raw.lower() == "json"


def _on_terminal() -> bool:
    # Logs go to stderr and summaries to stdout: console format only when both reach a person, never into a file.
    return sys.stdout.isatty() and sys.stderr.isatty()


def _normalise_database_url(url: str) -> str:
    # Operators paste libpq-style URLs; SQLAlchemy needs the driver named to pick psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite", "postgresql+psycopg://")):
        return url
    raise ConfigError("KASSA_DATABASE_URL must be a sqlite:/// or postgresql:// URL")


def _flag(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected a boolean (1/0, true/false), got {raw!r}")


def _positive_float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0")
    return value


def _non_negative_float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if not value >= 0:  # also refuses NaN
        raise ConfigError(f"{name} must be 0 or more")
    return value
