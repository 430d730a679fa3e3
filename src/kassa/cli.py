"""The `kassa` command: serve | api | worker | migrate | org | apikey | events."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import click

from kassa.config import DEFAULT_HOST, DEFAULT_PORT, ConfigError, Settings, load_settings
from kassa.db.engine import Database
from kassa.logs import configure_logging

if TYPE_CHECKING:
    import httpx


def _settings(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> Settings:
    try:
        settings = load_settings(host=host, port=port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _announce(command: str, settings: Settings, *, listen_url: str | None, dev_chain: bool) -> None:
    """Print the one-line summary of what this process runs (stdout, for the person who started it)."""
    from kassa.chains.registry import build_registry
    from kassa.startup import summary_line

    try:
        chains = build_registry(settings.file_config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary_line(command, settings, chains, listen_url=listen_url, dev_chain=dev_chain))


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database that cannot be reached, or has no tables yet, as one clear line instead of a traceback."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
        reason = lines[0] if lines else type(exc).__name__
        raise click.ClickException(
            f"database error: {reason} (check KASSA_DATABASE_URL; `kassa migrate` creates the tables)"
        ) from exc


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    """A one-connection database for a CLI command: disposed at the end; domain errors become clean CLI errors."""
    from kassa.db.engine import make_database
    from kassa.errors import KassaError

    database = make_database(settings.database_url, pool_size=1)
    try:
        with _database_errors():
            yield database
    except KassaError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.dispose()


@click.group()
def main() -> None:
    """Kassa: self-hostable crypto checkout."""


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--devnet", is_flag=True, help="Also run the built-in dev chain (development only; or KASSA_DEVNET=1).")
def serve(host: str, port: int, devnet: bool) -> None:
    """Embedded mode: the whole service in one process, migrations applied on start."""
    from kassa.db.migrate import upgrade
    from kassa.server import run_server

    settings = _settings(host, port)
    if devnet:
        settings = settings.with_overrides(devnet=True)
    with _database_errors():
        upgrade(settings.database_url)
    _announce("serve", settings, listen_url=f"http://{host}:{port}", dev_chain=settings.devnet)
    run_server(settings, host, port, embedded=True)


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
def api(host: str, port: int) -> None:
    """Scale-out mode: a stateless API process (run `kassa migrate` first)."""
    from kassa.server import run_server

    settings = _settings(host, port)
    _announce("api", settings, listen_url=f"http://{host}:{port}", dev_chain=settings.devnet)
    run_server(settings, host, port, embedded=False)


@main.command()
def worker() -> None:
    """Scale-out mode: a background job worker."""
    from kassa.jobs.worker import run_worker

    settings = _settings()
    _announce("worker", settings, listen_url=None, dev_chain=False)
    run_worker(settings)


@main.command()
def watcher() -> None:
    """Scale-out mode: chain watchers for every configured chain (one active per chain; others stand by)."""
    import signal
    import threading

    from kassa.api.runtime import Runtime
    from kassa.chains.registry import build_registry
    from kassa.db.engine import make_database
    from kassa.payments.services import start_chain_services

    settings = _settings()
    runtime = Runtime(
        settings=settings,
        db=make_database(settings.database_url, pool_size=4),
        chains=build_registry(settings.file_config),
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    threads = start_chain_services(runtime, watchers=True)
    if not threads:
        raise click.ClickException("no chain is enabled: give chains an rpc_url and factory_address in KASSA_CONFIG")
    _announce("watcher", settings, listen_url=None, dev_chain=False)
    stop.wait()
    for _, thread_stop in threads:
        thread_stop.set()
    for thread, _ in threads:
        thread.join(timeout=10)
    runtime.db.dispose()


@main.group()
def chain() -> None:
    """EVM chains."""


@chain.command("deploy-factory")
@click.option("--rpc-url", required=True, help="JSON-RPC URL of the chain.")
@click.option("--private-key-env", required=True, help="Name of the environment variable holding the deployer key.")
@click.option("--json", "as_json", is_flag=True)
def deploy_factory_command(rpc_url: str, private_key_env: str, as_json: bool) -> None:
    """Deploy the Kassa forwarder factory; put the printed address in the chain's factory_address."""
    import os

    from kassa.chains.deploy import deploy_factory

    key = os.environ.get(private_key_env)
    if not key:
        raise click.ClickException(f"the environment variable {private_key_env} is empty or unset")
    try:
        address = deploy_factory(rpc_url, key)
    except OSError as exc:  # requests' connection errors and timeouts: no node answers there
        host = urlsplit(rpc_url).netloc or rpc_url
        raise click.ClickException(
            f"deployment failed: cannot reach the chain at {host} ({type(exc).__name__})"
        ) from exc
    except Exception as exc:  # any other RPC or signing failure is reported as a clean CLI error
        raise click.ClickException(f"deployment failed: {exc}") from exc
    click.echo(json.dumps({"factoryAddress": address}) if as_json else f"factory deployed at {address}")


@main.group()
def devnet() -> None:
    """The built-in dev chain of a running `kassa serve --devnet`."""


@devnet.command("fund")
@click.argument("address")
@click.argument("amount", type=int)
@click.argument("currency", type=click.Choice(["eth", "usdc", "usdt"], case_sensitive=False))
@click.option("--url", default=None, help="Base URL of the Kassa server (default: KASSA_PUBLIC_URL).")
def devnet_fund(address: str, amount: int, currency: str, url: str | None) -> None:
    """Send test ETH, USDC or USDT (whole units) to ADDRESS on the dev chain."""
    import httpx

    base = (url or _settings().public_url).rstrip("/")
    try:
        resp = httpx.post(
            f"{base}/devnet/fund", json={"address": address, "amount": amount, "currency": currency}, timeout=30
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {base}: {exc}") from exc
    if resp.status_code == 404:
        raise click.ClickException(f"{base} runs no dev chain (start it with `kassa serve --devnet`)")
    if resp.status_code != 200:
        raise click.ClickException(f"{resp.status_code}: {_error_messages(resp)}")
    click.echo(resp.json()["transactionHash"])


def _error_messages(resp: httpx.Response) -> str:
    """The messages of an error in the Copperx shape, else the start of the body."""
    try:
        messages = resp.json().get("message")
    except ValueError:
        messages = None
    if isinstance(messages, str):
        messages = [messages]
    if isinstance(messages, list) and messages:
        return "; ".join(str(m) for m in messages)[:300]
    return resp.text[:300]


@main.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run from several processes at once)."""
    from kassa.db.migrate import upgrade

    settings = _settings()
    with _database_errors():
        upgrade(settings.database_url)
    click.echo("migrations applied", err=True)


@main.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.argument("name")
@click.option("--live", is_flag=True, help="Issue a live-mode key instead of a test-mode one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def org_create(name: str, live: bool, as_json: bool) -> None:
    """Create an organization and its first secret API key (shown once)."""
    from kassa.auth.organizations import create_organization
    from kassa.db.migrate import upgrade

    settings = _settings()
    with _database_errors():
        upgrade(settings.database_url)
    mode: Literal["test", "live"] = "live" if live else "test"
    with _database(settings) as database, database.write_sessions() as db:
        organization, issued = create_organization(db, settings.clock, name, mode)
        db.commit()
    if as_json:
        click.echo(json.dumps({"organizationId": str(organization.id), "apiKey": issued.secret}))
    else:
        click.echo(f"organization {organization.id} ({organization.name})")
        click.echo(f"{mode} API key (shown once, keep it safe): {issued.secret}")


@main.group()
def apikey() -> None:
    """API keys."""


@apikey.command("create")
@click.argument("organization_id", type=click.UUID)
@click.option("--live", is_flag=True)
@click.option("--name", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def apikey_create(organization_id: uuid.UUID, live: bool, name: str, as_json: bool) -> None:
    """Issue another secret key for an organization."""
    from kassa.auth.keys import issue_key
    from kassa.auth.organizations import get_organization

    settings = _settings()
    with _database(settings) as database, database.write_sessions() as db:
        organization = get_organization(db, organization_id)
        issued = issue_key(db, settings.clock, organization, "live" if live else "test", name)
        db.commit()
    if as_json:
        click.echo(json.dumps({"id": str(issued.api_key.id), "apiKey": issued.secret, "mode": issued.api_key.mode}))
    else:
        click.echo(f"{issued.api_key.id} {issued.api_key.mode} {issued.secret}")


@apikey.command("list")
@click.argument("organization_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True)
def apikey_list(organization_id: uuid.UUID, as_json: bool) -> None:
    """List an organization's keys (prefixes only: secrets are never stored)."""
    from kassa.auth.keys import list_keys
    from kassa.auth.organizations import get_organization

    settings = _settings()
    with _database(settings) as database, database.read_sessions() as db:
        get_organization(db, organization_id)  # an unknown organization is an error, not an empty list
        keys = list_keys(db, organization_id)
    rows = [
        {
            "id": str(k.id),
            "name": k.name,
            "mode": k.mode,
            "prefix": k.prefix,
            "createdAt": k.created_at.isoformat(),
            "revokedAt": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        state = f"revoked {row['revokedAt']}" if row["revokedAt"] else "active"
        click.echo(f"{row['id']}  {row['mode']}  {row['prefix']}…  {row['name']}  {state}")


@apikey.command("revoke")
@click.argument("key_id", type=click.UUID)
def apikey_revoke(key_id: uuid.UUID) -> None:
    """Revoke a key at once; requests with it get 401 from then on."""
    from kassa.auth.keys import revoke_key

    settings = _settings()
    with _database(settings) as database, database.write_sessions() as db:
        revoke_key(db, settings.clock, key_id)
        db.commit()
    click.echo(f"revoked {key_id}", err=True)


@main.group()
def events() -> None:
    """Events and their webhook deliveries."""


@events.command("resend")
@click.option("--from", "start", required=True, help="Start of the range (ISO-8601, inclusive; UTC if no offset).")
@click.option("--to", "end", required=True, help="End of the range (ISO-8601, exclusive).")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeatable).")
@click.option("--endpoint", "endpoint_id", type=click.UUID, help="Only to this webhook endpoint.")
@click.option("--org", "organization_id", type=click.UUID, help="Only this organization's events.")
@click.option("--dry-run", is_flag=True, help="Count what would be sent; queue nothing.")
def events_resend(
    start: str,
    end: str,
    types: tuple[str, ...],
    endpoint_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    dry_run: bool,
) -> None:
    """Send every event created in [FROM, TO) again, to each enabled endpoint subscribed to it (the workers
    deliver them with the usual retries)."""
    from kassa.webhooks.resend import resend_range

    settings = _settings()
    with _database(settings) as database:
        resent = resend_range(
            database,
            settings.clock,
            start=_moment(start, "--from"),
            end=_moment(end, "--to"),
            types=list(types) or None,
            endpoint_id=endpoint_id,
            organization_id=organization_id,
            dry_run=dry_run,
        )
    verb = "would queue" if dry_run else "queued"
    click.echo(f"{verb} {resent.deliveries} deliveries of {resent.events} events")


def _moment(raw: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("must be an ISO-8601 date or date-time", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
