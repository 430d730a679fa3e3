"""The one-line summary each long-running command prints at start."""

from __future__ import annotations

from pathlib import Path

from kassa.chains.registry import build_registry
from kassa.config import load_settings
from kassa.startup import safe_database_url, summary_line

CHAIN_CONFIG = {
    "chains": [
        {
            "id": 84532,
            "rpc_url": "https://base-sepolia.example/rpc",
            "factory_address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        }
    ]
}


def test_the_database_password_never_shows() -> None:
    shown = safe_database_url("postgresql+psycopg://kassa:s3cret-pw@db.internal:5432/kassa?password=other-pw")
    assert "s3cret-pw" not in shown
    assert "other-pw" not in shown
    assert shown.startswith("postgresql+psycopg://kassa:***@db.internal:5432/kassa")
    assert safe_database_url("sqlite:///data/kassa.db") == "sqlite:///data/kassa.db"


def test_summary_line_names_url_mode_database_chains_dev_chain_and_docs(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "KASSA_DATA_DIR": str(tmp_path),
            "KASSA_DATABASE_URL": "postgresql://kassa:s3cret-pw@db.internal/kassa",
            "KASSA_PUBLIC_URL": "https://pay.example.com",
        },
        terminal=False,
    )
    line = summary_line(
        "api", settings, build_registry(CHAIN_CONFIG), listen_url="http://127.0.0.1:8001", dev_chain=True
    )
    assert "\n" not in line
    assert line.startswith("kassa api (scale-out API process) at http://127.0.0.1:8001 | ")
    assert "database postgresql+psycopg://kassa:***@db.internal/kassa" in line
    assert "s3cret-pw" not in line
    assert "chains: 84532 Base Sepolia, 1337 Kassa Dev Chain" in line
    assert "dev chain on" in line
    assert line.endswith("| docs https://pay.example.com/docs")


def test_summary_line_of_a_worker_without_chains(tmp_path: Path) -> None:
    settings = load_settings({"KASSA_DATA_DIR": str(tmp_path)}, terminal=False)
    line = summary_line("worker", settings, build_registry({}), listen_url=None, dev_chain=False)
    assert line == (
        f"kassa worker (scale-out job worker) | database sqlite:///{tmp_path}/kassa.db | chains: none enabled"
        " | dev chain off | docs http://127.0.0.1:8000/docs"
    )
