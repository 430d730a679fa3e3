"""The hosted checkout page at `/pay/{sessionId}`: thin routes over `service/buyer.py` and the payments seam.

Server-rendered with Jinja2 (autoescaped); `static/checkout.js` enhances it but every step except the browser
wallet works without JavaScript. No API key: the session id in the URL is the buyer's capability. Each request is
one transaction (`transaction`), committed at the end of the route. Forms carry a CSRF token (an HMAC of the
session id under the page secret); responses carry a strict CSP and refuse framing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import segno
from fastapi import APIRouter, FastAPI, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.api.runtime import Runtime
from kassa.auth.models import Organization
from kassa.catalog.models import Price, Product
from kassa.checkout.models import CheckoutSession
from kassa.checkout.service import buyer
from kassa.checkout.state import Status
from kassa.config import ConfigError, Settings
from kassa.discounts.redemption import PromotionCodeRejected
from kassa.errors import BadRequest, KassaError
from kassa.logs import get_logger
from kassa.payments import options as payments
from kassa.taxes.schemas import format_percentage_e4

log = get_logger("kassa.pages")
router = APIRouter(include_in_schema=False)
HERE = Path(__file__).parent
STATIC_PREFIX = "/static/checkout"
SUBMIT_VERBS = {"pay": "Pay", "book": "Book", "donate": "Donate"}
MAX_FORM_FIELDS = 100
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


class MerchantNames:
    """Organization names and support emails for the page header, kept `ttl` seconds: read on every page view,
    changed rarely (a rename shows within the ttl)."""

    def __init__(self, ttl: float = 30.0, max_items: int = 10_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: dict[uuid.UUID, tuple[float, str, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, db: Session, organization_id: uuid.UUID) -> tuple[str, str | None]:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(organization_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        row = db.execute(
            select(Organization.name, Organization.support_email).where(Organization.id == organization_id)
        ).first()
        name, email = (row.name, row.support_email) if row is not None else ("Checkout", None)
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[organization_id] = (now + self.ttl, name, email)
        return name, email


@dataclass(frozen=True)
class PageState:
    secret: bytes
    limiter: buyer.CodeAttemptLimiter
    merchants: MerchantNames


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their per-process state to the app."""
    runtime: Runtime = app.state.runtime
    clock = runtime.settings.clock
    app.state.pages = PageState(
        secret=page_secret(runtime.settings),
        limiter=buyer.CodeAttemptLimiter(now=lambda: clock.now().timestamp()),
        merchants=MerchantNames(),
    )
    app.include_router(router)
    app.mount(STATIC_PREFIX, _NoSniff(StaticFiles(directory=HERE / "static")), name="checkout-static")


def page_secret(settings: Settings) -> bytes:
    """`[pages] secret` from KASSA_CONFIG (set it when several API processes serve pages), else a random key
    made once in KASSA_DATA_DIR/page-secret (created atomically, so concurrent first starts agree)."""
    configured = settings.file_config.get("pages", {}).get("secret")
    if configured is not None:
        if not isinstance(configured, str) or len(configured) < 16:
            raise ConfigError("KASSA_CONFIG: pages.secret must be a string of at least 16 characters")
        return hashlib.sha256(configured.encode()).digest()
    path = settings.data_dir / "page-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"page-secret.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32), encoding="ascii")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process got there first; theirs is then the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def csrf_token(secret: bytes, session_id: uuid.UUID) -> str:
    return hmac.new(secret, b"kassa-pay-form:" + session_id.bytes, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Plumbing: one transaction per request, rendering, headers


@contextmanager
def transaction(runtime: Runtime, *, write: bool) -> Iterator[Session]:
    """The page request's one transaction: committed when the block ends, rolled back if it raises."""
    db = (runtime.db.write_sessions if write else runtime.db.read_sessions)()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


@lru_cache(maxsize=8)
def asset(name: str) -> str:
    digest = hashlib.sha256((HERE / "static" / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


ENV.globals["asset"] = asset


def security_headers(session: CheckoutSession | None = None) -> dict[str, str]:
    form_action = "'self'"
    if session is not None and session.cancel_url:
        # The cancel form's answer redirects to cancelUrl, which form-action governs too.
        parts = urlsplit(session.cancel_url)
        if parts.scheme in ("http", "https") and parts.netloc and all(c not in parts.netloc for c in " ;,'"):
            form_action += f" {parts.scheme}://{parts.netloc}"
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; connect-src 'self'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def render(
    template: str, context: Mapping[str, Any], *, status: int = 200, session: CheckoutSession | None = None
) -> Response:
    html = ENV.get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=security_headers(session))


def redirect(url: str, session: CheckoutSession | None = None) -> Response:
    return RedirectResponse(url, status_code=303, headers=security_headers(session))


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _state(request: Request) -> PageState:
    state: PageState = request.app.state.pages
    return state


def _parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class _NoSniff:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with)


async def _read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded body as a dict (the last value of a repeated name wins); None if it is not one."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return None


def _csrf_ok(request: Request, session_id: uuid.UUID, form: Mapping[str, str] | None) -> bool:
    if form is None or request.headers.get("sec-fetch-site") == "cross-site":
        return False
    return hmac.compare_digest(form.get("csrf_token", ""), csrf_token(_state(request).secret, session_id))


def _forbidden() -> Response:
    return render("message.html", _plain("Please reload the page", _CSRF_TEXT), status=403)


_CSRF_TEXT = "This form was not sent from this checkout page, or the page is out of date. Reload it and try again."


def _plain(title: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "text": text, "merchant": "Checkout", "test_mode": False, "link": None} | extra


# ---------------------------------------------------------------------------------------------------------------
# Routes


@dataclass(frozen=True)
class Loaded:
    """A session with what its page shows: line item prices and products, and the form it asks for."""

    session: CheckoutSession
    prices: dict[uuid.UUID, Price]
    products: dict[uuid.UUID, Product]
    form: buyer.BuyerForm


def _load(db: Session, session: CheckoutSession) -> Loaded:
    prices, products = buyer.load_catalog(db, session)
    return Loaded(session, prices, products, buyer.buyer_form(db, session, prices))


@router.get("/pay/{session_id}")
def checkout_page(session_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    with transaction(runtime, write=False) as db:
        session = _find(db, session_id)
        if session is None:
            return _not_found()
        if (other := _elsewhere(db, request, session)) is not None:
            return other
        loaded = _load(db, session)
        return _checkout(db, request, loaded, buyer.prefill_values(db, session, loaded.form))


@router.post("/pay/{session_id}")
async def checkout_submit(session_id: str, request: Request) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_submit, request, session_id, form)


def _submit(request: Request, raw_id: str, form: dict[str, str] | None) -> Response:
    runtime = _runtime(request)
    sid = _parse_id(raw_id)
    if sid is None:
        return _not_found()
    if not _csrf_ok(request, sid, form):
        return _forbidden()
    assert form is not None
    with transaction(runtime, write=True) as db:
        session = buyer.find_session(db, sid)
        if session is None:
            return _not_found()
        loaded = _load(db, session)
        values = buyer.prefill_values(db, session, loaded.form) | {k: v for k, v in form.items() if k != "csrf_token"}
        action = form.get("action", "pay")
        if "=" in form.get("suggest", ""):  # a suggested pay-what-you-want amount was pressed
            name, _, amount = form["suggest"].partition("=")
            values[name] = amount
            action = "update_amount"
        try:
            return _act(db, request, loaded, values, action)
        except (buyer.CheckoutClosed, buyer.DetailsFrozen):
            return redirect(f"/pay/{session.id}")


def _act(db: Session, request: Request, loaded: Loaded, values: dict[str, str], action: str) -> Response:
    runtime = _runtime(request)
    session, rules = loaded.session, loaded.form
    buyer.ensure_editable(db, runtime, session)
    amount_errors = buyer.set_amounts(db, runtime, session, rules, values)
    code = values.get("promotion_code", "").strip()
    applied_code = (session.discount or {}).get("code", "")
    if action == "apply_code" or (action == "pay" and code and code.upper() != applied_code.upper()):
        try:
            buyer.apply_code(db, runtime, session, code, _state(request).limiter)
            values["promotion_code"] = ""
        except (PromotionCodeRejected, buyer.TooManyCodeAttempts, BadRequest) as exc:
            return _checkout(db, request, loaded, values, code_error=_buyer_message(exc), status=exc.status_code)
        if action == "apply_code":
            return _checkout(db, request, loaded, values)
    if action == "remove_code":
        buyer.remove_code(db, runtime, session)
        return _checkout(db, request, loaded, values)
    if action != "pay":
        return _checkout(db, request, loaded, values, errors=amount_errors, status=400 if amount_errors else 200)
    errors = buyer.submit_details(db, runtime, session, rules, values)
    if errors:
        return _checkout(db, request, loaded, values, errors=errors, status=400)
    return redirect(f"/pay/{session.id}/payment")


def _buyer_message(exc: KassaError) -> str:
    if isinstance(exc, PromotionCodeRejected):
        return exc.buyer_message
    text = exc.message if isinstance(exc.message, str) else exc.message[0]
    text = text.removeprefix("promotionCode: ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


@router.get("/pay/{session_id}/payment")
def payment_page(session_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    # A write transaction: payments may allocate the session's deposit address on first view.
    with transaction(runtime, write=True) as db:
        session = _find(db, session_id)
        if session is None:
            return _not_found()
        if session.status == Status.COMPLETE:
            return redirect(f"/pay/{session.id}/done")
        seen = buyer.payment_seen(db, runtime, session)
        if session.status == Status.EXPIRED or (buyer.is_past_expiry(runtime, session) and not seen):
            return _expired(db, request, session)
        if not seen and not buyer.details_complete(session, buyer.buyer_form(db, session)):
            return redirect(f"/pay/{session.id}")
        options = payments.payment_options(db, runtime, session)
        progress = payments.payment_progress(db, runtime, session)
        context = payment_context(db, request, session, options, progress, request.query_params.get("option"))
        context["frozen"] = seen
        context["notice"] = _NOTICES.get(request.query_params.get("notice", ""))
        return render("payment.html", context, session=session)


_NOTICES = {
    "sent": "Your test payment was sent. This page follows it until it is confirmed.",
    "test_wallet_failed": "The test wallet could not send the payment. Try again, or pay by address.",
}


def payment_context(
    db: Session,
    request: Request,
    session: CheckoutSession,
    options: list[payments.PaymentOption],
    progress: payments.PaymentProgress,
    chosen: str | None,
) -> dict[str, Any]:
    """Everything payment.html shows; a function of its own so the template can be rendered from any options."""
    runtime = _runtime(request)
    selected = next((o for o in options if option_key(o) == chosen), options[0] if options else None)
    chain = runtime.chains.get(selected.chain_id) if selected else None
    context = base_context(db, request, session)
    context |= {
        "options": [_option_view(o, session, o is selected) for o in options],
        "selected": _option_view(selected, session, True) if selected else None,
        "native_currency": (chain.native_currency if chain else "eth").upper(),
        "qr": Markup(_qr_svg(selected.eip681_uri)) if selected else None,  # noqa: S704  # segno's own SVG
        "progress": progress_view(progress, session.currency),
        "test_wallet": bool(selected) and payments.test_wallet_available(runtime, session),
        "frozen": False,
        "notice": None,
    }
    return context


def option_key(option: payments.PaymentOption) -> str:
    return f"{option.chain_id}:{option.currency}"


def _option_view(option: payments.PaymentOption, session: CheckoutSession, selected: bool) -> dict[str, Any]:
    return {
        "key": option_key(option),
        "href": f"/pay/{session.id}/payment?" + urlencode({"option": option_key(option)}),
        "chain_id": option.chain_id,
        "chain_id_hex": hex(option.chain_id),
        "chain_name": option.chain_name,
        "symbol": option.symbol,
        "token_address": option.token_address,
        "deposit_address": option.deposit_address,
        "amount_raw": str(option.amount_due_raw),
        "amount_text": format_amount(option.amount_due_raw, option.decimals),
        "decimals": option.decimals,
        "eip681_uri": option.eip681_uri,
        "rpc_url": option.rpc_url or "",
        "explorer_tx_url": option.explorer_tx_url,
        "preferred": option.preferred,
        "selected": selected,
    }


@lru_cache(maxsize=256)
def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=True, dark="#111", light="#fff"))


def progress_view(progress: payments.PaymentProgress, currency: str) -> dict[str, Any]:
    """The live payment status as words: detected → confirming (n of N) → paid, and what is still due."""
    unit = currency.upper()
    pending = [t for t in progress.transfers if t.state == "pending"]
    detail = ""
    if progress.status == Status.COMPLETE:
        stage, headline = "paid", "Paid. Thank you!"
    elif progress.status == Status.EXPIRED:
        stage, headline = "expired", "This checkout has expired."
    elif pending and max(t.confirmations for t in pending) > 0:
        best = max(pending, key=lambda t: t.confirmations)
        stage = "confirming"
        headline = f"Confirming your payment: {best.confirmations} of {best.required_confirmations} confirmations"
    elif pending or progress.amount_pending > 0:
        stage, headline = "detected", "Payment detected. Waiting for confirmations…"
    elif progress.amount_received > 0:
        stage, headline = "partial", "Partial payment received"
    else:
        stage, headline = "waiting", "Waiting for your payment…"
    if progress.amount_received > 0 and progress.amount_due > 0 and stage != "expired":
        detail = (
            f"Received {format_amount(progress.amount_received)} {unit}. "
            f"Still due: {format_amount(progress.amount_due)} {unit}."
        )
    return {
        "stage": stage,
        "headline": headline,
        "detail": detail,
        "amount_due": str(progress.amount_due),
        "transfers": [
            {"hash": t.tx_hash, "confirmations": t.confirmations, "required": t.required_confirmations}
            | {"state": t.state}
            for t in progress.transfers
        ],
    }


@router.get("/pay/{session_id}/status")
def payment_status(session_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    with transaction(runtime, write=False) as db:
        session = _find(db, session_id)
        if session is None:
            return JSONResponse({"stage": "unknown"}, status_code=404, headers=security_headers())
        view = progress_view(payments.payment_progress(db, runtime, session), session.currency)
        view["next"] = f"/pay/{session.id}/done" if session.status in (Status.COMPLETE, Status.EXPIRED) else None
        return JSONResponse(view, headers=security_headers())


@router.get("/pay/{session_id}/done")
def done(session_id: str, request: Request) -> Response:
    """Where a finished payment leads: successUrl, or the hosted confirmation; back to the payment otherwise."""
    with transaction(_runtime(request), write=False) as db:
        session = _find(db, session_id)
        if session is None:
            return _not_found()
        if session.status != Status.COMPLETE:
            target = f"/pay/{session.id}" if session.status == Status.EXPIRED else f"/pay/{session.id}/payment"
            option = request.query_params.get("option")
            return redirect(target + ("?" + urlencode({"option": option}) if option else ""))
        if session.after_completion == "hosted_confirmation":
            return redirect(f"/pay/{session.id}")
        return redirect(session.success_url)  # only ever the session's own URL: no open redirect


@router.post("/pay/{session_id}/cancel")
async def cancel(session_id: str, request: Request) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_cancel, request, session_id, form)


def _cancel(request: Request, raw_id: str, form: dict[str, str] | None) -> Response:
    sid = _parse_id(raw_id)
    if sid is None:
        return _not_found()
    if not _csrf_ok(request, sid, form):
        return _forbidden()
    with transaction(_runtime(request), write=True) as db:
        session = buyer.find_session(db, sid)
        if session is None:
            return _not_found()
        target = buyer.cancel(db, _runtime(request), session)
        return redirect(target or f"/pay/{session.id}", session)


@router.post("/pay/{session_id}/test-wallet")
async def test_wallet(session_id: str, request: Request) -> Response:
    form = await _read_form(request)
    return await run_in_threadpool(_test_wallet, request, session_id, form)


def _test_wallet(request: Request, raw_id: str, form: dict[str, str] | None) -> Response:
    runtime = _runtime(request)
    sid = _parse_id(raw_id)
    if sid is None:
        return _not_found()
    if not _csrf_ok(request, sid, form):
        return _forbidden()
    assert form is not None
    with transaction(runtime, write=True) as db:
        session = buyer.find_session(db, sid)
        if session is None:
            return _not_found()
        options = payments.payment_options(db, runtime, session)
        option = next((o for o in options if option_key(o) == form.get("option")), None)
        if option is None or not payments.test_wallet_available(runtime, session):
            return redirect(f"/pay/{session.id}/payment")
    # Outside the page's transaction: paying runs the dev chain, whose watcher writes in transactions of its own.
    query = {"option": option_key(option)}
    try:
        payments.pay_with_test_wallet(runtime, session, option)
        query["notice"] = "sent"
    except Exception as exc:
        log.warning("test wallet payment failed", session_id=str(session.id), error=str(exc))
        query["notice"] = "test_wallet_failed"
    return redirect(f"/pay/{session.id}/payment?" + urlencode(query))


# ---------------------------------------------------------------------------------------------------------------
# Pages and their contexts


def _find(db: Session, raw_id: str) -> CheckoutSession | None:
    sid = _parse_id(raw_id)
    return buyer.find_session(db, sid) if sid else None


def _not_found() -> Response:
    text = "This checkout link is not valid. Check the link you were given, or go back to the shop and start again."
    return render("message.html", _plain("Checkout not found", text), status=404)


def _elsewhere(db: Session, request: Request, session: CheckoutSession) -> Response | None:
    """The page for a session that no longer takes details: complete, expired, or with a payment under way."""
    if session.status == Status.COMPLETE:
        return render("complete.html", base_context(db, request, session), session=session)
    runtime = _runtime(request)
    seen = buyer.payment_seen(db, runtime, session)
    if session.status == Status.EXPIRED or (buyer.is_past_expiry(runtime, session) and not seen):
        return _expired(db, request, session)
    if seen or session.status != Status.OPEN:
        return redirect(f"/pay/{session.id}/payment", session)
    return None


def _expired(db: Session, request: Request, session: CheckoutSession) -> Response:
    return render("expired.html", base_context(db, request, session), status=410, session=session)


def base_context(db: Session, request: Request, session: CheckoutSession) -> dict[str, Any]:
    merchant, support_email = _state(request).merchants.get(db, session.organization_id)
    verb = SUBMIT_VERBS.get(session.submit_type, "Pay")
    unit = session.currency.upper()
    return {
        "session": session,
        "merchant": merchant,
        "support_email": support_email,
        "test_mode": session.mode == "test",
        "verb": verb,
        "total": None if session.amount_pending else f"{format_amount(session.amount_total)} {unit}",
        "csrf": csrf_token(_state(request).secret, session.id),
        "urls": {
            "page": f"/pay/{session.id}",
            "payment": f"/pay/{session.id}/payment",
            "cancel": f"/pay/{session.id}/cancel",
            "status": f"/pay/{session.id}/status",
            "done": f"/pay/{session.id}/done",
            "test_wallet": f"/pay/{session.id}/test-wallet",
        },
        "cancel_url": session.cancel_url,
        "success_url": session.success_url,
    }


def _checkout(
    db: Session,
    request: Request,
    loaded: Loaded,
    values: Mapping[str, str],
    *,
    errors: Mapping[str, str] | None = None,
    code_error: str | None = None,
    status: int = 200,
) -> Response:
    session = loaded.session
    context = base_context(db, request, session) | summary_context(loaded)
    context |= {
        "form": loaded.form,
        "values": values,
        "errors": errors or {},
        "code_error": code_error,
        "seconds_left": max(0, int((session.expires_at - _runtime(request).settings.clock.now()).total_seconds())),
        "submit_label": f"{context['verb']} {context['total']}" if context["total"] else context["verb"],
    }
    return render("checkout.html", context, status=status, session=session)


def summary_context(loaded: Loaded) -> dict[str, Any]:
    session, products = loaded.session, loaded.products
    amount_lines = {line.position: line for line in loaded.form.amounts}
    unit = session.currency.upper()
    lines = []
    for li in session.line_items:
        product = products[li.product_id]
        image = next((i for i in product.images if isinstance(i, str) and i.startswith("https://")), None)
        lines.append(
            {
                "name": product.name,
                "description": product.description,
                "image": image,
                "quantity": li.quantity,
                "unit": f"{format_amount(li.unit_amount)} {unit}" if li.unit_amount is not None else None,
                "amount": f"{format_amount(li.amount_subtotal)} {unit}" if li.unit_amount is not None else "—",
                "custom": amount_lines.get(li.position),
            }
        )
    discount = session.discount
    all_inclusive = all(t.get("inclusive") for li in session.line_items for t in li.taxes)
    return {
        "lines": lines,
        "unit": unit,
        "subtotal": format_amount(session.amount_subtotal),
        "discount_amount": format_amount(session.amount_discount),
        "tax": format_amount(session.amount_tax) if session.amount_tax else None,
        "tax_label": "Tax (included)" if all_inclusive else "Tax",
        "discount": {"code": discount["code"], "what": _discount_words(discount, unit)} if discount else None,
        "promo_allowed": session.allow_promotion_codes,
        "expires_at": session.expires_at.isoformat(),
    }


def _discount_words(discount: Mapping[str, Any], unit: str) -> str:
    if discount.get("percentOffE4") is not None:
        return f"{format_percentage_e4(discount['percentOffE4'])}% off"
    return f"{format_amount(discount.get('amountOff') or 0)} {unit} off"


def format_amount(amount: int, decimals: int = 8) -> str:
    """Exact display of an integer amount with `decimals` implied decimals: grouped, at least two decimals."""
    sign = "−" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0").ljust(min(2, decimals), "0") if decimals else ""
    return f"{sign}{whole:,}" + (f".{digits}" if digits else "")


def duration_words(seconds: int) -> str:
    minutes = max(0, seconds) // 60
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


_INPUT_TYPES = {"email": "email", "phone": "tel"}
_INPUT_MODES = {"numeric": "numeric", "amount": "decimal"}


@lru_cache(maxsize=4096)
def field_attributes(rule: buyer.FieldRule) -> Markup:
    """A field's HTML attributes, with its rules and messages as the data attributes static/checkout.js checks."""
    attrs: dict[str, str | None] = {"id": f"f-{rule.name}", "name": rule.name}
    if not rule.options:
        attrs |= {
            "type": _INPUT_TYPES.get(rule.kind, "text"),
            "autocomplete": rule.autocomplete,
            "inputmode": _INPUT_MODES.get(rule.kind),
            "maxlength": str(rule.max_length) if rule.max_length else None,
            "minlength": str(rule.min_length) if rule.min_length else None,
        }
    if rule.required:
        attrs |= {"required": "", "aria-required": "true"}
    attrs["aria-describedby"] = f"f-{rule.name}-error"
    attrs["data-kind"] = rule.kind
    for name, value in (
        ("required", "1" if rule.required else None),
        ("pattern", rule.pattern),
        ("min-length", rule.min_length),
        ("max-length", rule.max_length),
        ("min-amount", rule.min_amount),
        ("max-amount", rule.max_amount),
    ):
        if value is not None:
            attrs[f"data-{name}"] = str(value)
    attrs |= {f"data-msg-{key}": text for key, text in rule.messages}
    return Markup(" ").join(
        Markup('{}="{}"').format(name, value) if value else escape(name)
        for name, value in attrs.items()
        if value is not None
    )


ENV.filters["field_attrs"] = field_attributes
ENV.filters["duration"] = duration_words
ENV.filters["plain"] = buyer.format_plain
