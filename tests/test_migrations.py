from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from kassa.db.migrate import downgrade, upgrade
from kassa.models import Base
from support import Backend, fresh_database_url


def test_upgrade_downgrade_upgrade(backend: Backend, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path, "migr")
    upgrade(url)
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_match_migrations(backend: Backend, tmp_path: Path) -> None:
    """The migrations build exactly the schema the models describe, on both dialects."""
    url = fresh_database_url(backend, tmp_path, "drift")
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_concurrent_migrators(backend: Backend, tmp_path: Path) -> None:
    url = fresh_database_url(backend, tmp_path, "concurrent")
    env = os.environ | {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "kassa", "migrate"], env=env, stderr=subprocess.PIPE) for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    engine = create_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
