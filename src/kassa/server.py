"""Runs the ASGI app under uvicorn, plus the background services of embedded mode."""

from __future__ import annotations

import uvicorn

from kassa.app import create_app
from kassa.config import Settings


def run_server(settings: Settings, host: str, port: int, *, embedded: bool) -> None:
    app = create_app(settings, embedded=embedded)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, server_header=False)
