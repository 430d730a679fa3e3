"""The one human-readable line each long-running command prints at start: what runs, where, on what."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from kassa.chains.registry import ChainRegistry
from kassa.config import Settings

MODES = {
    "serve": "embedded: API, jobs and chain watchers in one process",
    "api": "scale-out API process",
    "worker": "scale-out job worker",
    "watcher": "scale-out chain watcher",
}
DEV_CHAIN_ID = 1337


def safe_database_url(url: str) -> str:
    """The database URL without its password (in the userinfo or a `password=` query parameter)."""
    parsed = make_url(url).difference_update_query(["password"])
    return parsed.render_as_string(hide_password=True) if parsed.password else parsed.render_as_string()


def summary_line(
    command: str, settings: Settings, chains: ChainRegistry, *, listen_url: str | None, dev_chain: bool
) -> str:
    """`listen_url` is where this process serves HTTP (None: it serves none); `dev_chain`: it runs the dev chain."""
    enabled = [chain for chain in chains.chains.values() if chain.enabled]
    names = [f"{chain.id} {chain.name}" for chain in enabled]
    if dev_chain and all(chain.id != DEV_CHAIN_ID for chain in enabled):
        names.append(f"{DEV_CHAIN_ID} Kassa Dev Chain")
    parts = [
        f"kassa {command} ({MODES[command]})" + (f" at {listen_url}" if listen_url else ""),
        f"database {safe_database_url(settings.database_url)}",
        f"chains: {', '.join(names) if names else 'none enabled'}",
        "dev chain on (development only)" if dev_chain else "dev chain off",
        f"docs {settings.public_url}/docs",
    ]
    return " | ".join(parts)
