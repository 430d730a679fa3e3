"""The hosted checkout page at `/pay/{sessionId}`: thin routes over the buyer services and the payments seam.

Server-rendered with Jinja2 (`page_render`, autoescaped); `static/checkout.js` enhances it but every step except
the browser wallet works without JavaScript. No API key: the session id in the URL is the buyer's capability. Each
request is one transaction (`transaction`), committed at the end of the route. Forms carry a CSRF token and
responses carry a strict CSP and refuse framing (`page_security`); `page_views` builds what the templates show.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from kassa.api.runtime import Runtime
from kassa.checkout.models import CheckoutSession
from kassa.checkout.page_render import STATIC_DIR, STATIC_PREFIX, forbidden, not_found, redirect, render
from kassa.checkout.page_security import NoSniff, csrf_ok, page_secret, security_headers
from kassa.checkout.page_views import (
    Loaded,
    MerchantNames,
    PageState,
    base_context,
    load_page,
    option_key,
    payment_context,
    progress_view,
    runtime_of,
    state_of,
    summary_context,
)
from kassa.checkout.service import buyer, buyer_details, buyer_pricing
from kassa.checkout.service.buyer_form import buyer_form
from kassa.checkout.state import Status
from kassa.discounts.redemption import PromotionCodeRejected
from kassa.errors import BadRequest, KassaError
from kassa.logs import get_logger
from kassa.payments import options as payments

log = get_logger("kassa.pages")
router = APIRouter(include_in_schema=False)
MAX_FORM_FIELDS = 100

AfterCommit = Callable[[], Response]
"""What a handler leaves to run once the request's transaction has committed; it makes the response."""
SessionHandler = Callable[[Session, Request, CheckoutSession], Response | AfterCommit]
FormHandler = Callable[[Session, Request, CheckoutSession, dict[str, str]], Response | AfterCommit]


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their per-process state to the app."""
    runtime: Runtime = app.state.runtime
    app.state.pages = PageState(
        secret=page_secret(runtime.settings),
        limiter=buyer_pricing.CodeAttemptLimiter(),
        merchants=MerchantNames(),
    )
    app.include_router(router)
    app.mount(STATIC_PREFIX, NoSniff(StaticFiles(directory=STATIC_DIR)), name="checkout-static")


# ---------------------------------------------------------------------------------------------------------------
# Plumbing: one transaction per request, the session a URL names, form posts


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


def _parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


async def _read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded body as a dict (the last value of a repeated name wins); None if it is not one."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return None


def _on_session(
    request: Request,
    sid: uuid.UUID | None,
    handler: SessionHandler,
    *,
    write: bool,
    missing: Callable[[], Response] = not_found,
) -> Response:
    """Run `handler` on the session `sid` names, in the request's one transaction; `missing()` if there is none."""
    with transaction(runtime_of(request), write=write) as db:
        session = buyer.find_session(db, sid) if sid else None
        if session is None:
            return missing()
        outcome = handler(db, request, session)
    return outcome if isinstance(outcome, Response) else outcome()


async def _post(request: Request, raw_id: str, handler: FormHandler) -> Response:
    """A form POST on a session's page: the body is read here, the rest runs in a worker thread."""
    form = await _read_form(request)
    return await run_in_threadpool(_handle_post, request, raw_id, form, handler)


def _handle_post(request: Request, raw_id: str, form: dict[str, str] | None, handler: FormHandler) -> Response:
    """Check the id and the CSRF token, then run `handler` on the session in a write transaction."""
    sid = _parse_id(raw_id)
    if sid is None:
        return not_found()
    if form is None or not csrf_ok(state_of(request).secret, request, sid, form):
        return forbidden()
    return _on_session(request, sid, lambda db, req, session: handler(db, req, session, form), write=True)


# ---------------------------------------------------------------------------------------------------------------
# The details page


@router.api_route("/pay/{session_id}", methods=["GET", "HEAD"])
def checkout_page(session_id: str, request: Request) -> Response:
    return _on_session(request, _parse_id(session_id), _show_checkout, write=False)


def _show_checkout(db: Session, request: Request, session: CheckoutSession) -> Response:
    if (other := _elsewhere(db, request, session)) is not None:
        return other
    loaded = load_page(db, session)
    return _checkout(db, request, loaded, buyer_details.prefill_values(db, session, loaded.form))


@router.post("/pay/{session_id}")
async def checkout_submit(session_id: str, request: Request) -> Response:
    return await _post(request, session_id, _submit)


def _submit(db: Session, request: Request, session: CheckoutSession, form: dict[str, str]) -> Response:
    loaded = load_page(db, session)
    values = buyer_details.prefill_values(db, session, loaded.form) | {
        k: v for k, v in form.items() if k != "csrf_token"
    }
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
    runtime = runtime_of(request)
    session, rules = loaded.session, loaded.form
    buyer.ensure_editable(db, runtime, session)
    amount_errors = buyer_pricing.set_amounts(db, runtime, session, rules, values)
    code = values.get("promotion_code", "").strip()
    applied_code = (session.discount or {}).get("code", "")
    if action == "apply_code" or (action == "pay" and code and code.upper() != applied_code.upper()):
        try:
            buyer_pricing.apply_code(db, runtime, session, code, state_of(request).limiter)
            values["promotion_code"] = ""
        except (PromotionCodeRejected, buyer_pricing.TooManyCodeAttempts, BadRequest) as exc:
            return _checkout(db, request, loaded, values, code_error=_buyer_message(exc), status=exc.status_code)
        if action == "apply_code":
            return _checkout(db, request, loaded, values)
    if action == "remove_code":
        buyer_pricing.remove_code(db, runtime, session)
        return _checkout(db, request, loaded, values)
    if action != "pay":
        return _checkout(db, request, loaded, values, errors=amount_errors, status=400 if amount_errors else 200)
    errors = buyer_details.submit_details(db, runtime, session, rules, values)
    if errors:
        return _checkout(db, request, loaded, values, errors=errors, status=400)
    return redirect(f"/pay/{session.id}/payment")


def _buyer_message(exc: KassaError) -> str:
    if isinstance(exc, PromotionCodeRejected):
        return exc.buyer_message
    text = exc.message if isinstance(exc.message, str) else exc.message[0]
    text = text.removeprefix("promotionCode: ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


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
        "seconds_left": max(0, int((session.expires_at - runtime_of(request).settings.clock.now()).total_seconds())),
        "submit_label": f"{context['verb']} {context['total']}" if context["total"] else context["verb"],
    }
    return render("checkout.html", context, status=status, session=session)


def _elsewhere(db: Session, request: Request, session: CheckoutSession) -> Response | None:
    """The page for a session that no longer takes details: complete, expired, or with a payment under way."""
    if session.status == Status.COMPLETE:
        return render("complete.html", base_context(db, request, session), session=session)
    runtime = runtime_of(request)
    seen = buyer.payment_seen(db, runtime, session)
    if session.status == Status.EXPIRED or (buyer.is_past_expiry(runtime, session) and not seen):
        return _expired(db, request, session)
    if seen or session.status != Status.OPEN:
        return redirect(f"/pay/{session.id}/payment", session)
    return None


def _expired(db: Session, request: Request, session: CheckoutSession) -> Response:
    return render("expired.html", base_context(db, request, session), status=410, session=session)


# ---------------------------------------------------------------------------------------------------------------
# The payment step


@router.get("/pay/{session_id}/payment")
def payment_page(session_id: str, request: Request) -> Response:
    # A write transaction: payments may allocate the session's deposit address on first view.
    return _on_session(request, _parse_id(session_id), _show_payment, write=True)


def _show_payment(db: Session, request: Request, session: CheckoutSession) -> Response:
    runtime = runtime_of(request)
    if session.status == Status.COMPLETE:
        return redirect(f"/pay/{session.id}/done")
    seen = buyer.payment_seen(db, runtime, session)
    if session.status == Status.EXPIRED or (buyer.is_past_expiry(runtime, session) and not seen):
        return _expired(db, request, session)
    if not seen and not buyer_details.details_complete(session, buyer_form(db, session)):
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


@router.get("/pay/{session_id}/status")
def payment_status(session_id: str, request: Request) -> Response:
    return _on_session(request, _parse_id(session_id), _status_json, write=False, missing=_unknown_status)


def _status_json(db: Session, request: Request, session: CheckoutSession) -> Response:
    view = progress_view(payments.payment_progress(db, runtime_of(request), session), session.currency)
    view["next"] = f"/pay/{session.id}/done" if session.status in (Status.COMPLETE, Status.EXPIRED) else None
    return JSONResponse(view, headers=security_headers())


def _unknown_status() -> Response:
    return JSONResponse({"stage": "unknown"}, status_code=404, headers=security_headers())


@router.get("/pay/{session_id}/done")
def done(session_id: str, request: Request) -> Response:
    """Where a finished payment leads: successUrl, or the hosted confirmation; back to the payment otherwise."""
    return _on_session(request, _parse_id(session_id), _after_payment, write=False)


def _after_payment(db: Session, request: Request, session: CheckoutSession) -> Response:
    if session.status != Status.COMPLETE:
        target = f"/pay/{session.id}" if session.status == Status.EXPIRED else f"/pay/{session.id}/payment"
        option = request.query_params.get("option")
        return redirect(target + ("?" + urlencode({"option": option}) if option else ""))
    if session.after_completion == "hosted_confirmation":
        return redirect(f"/pay/{session.id}")
    return redirect(session.success_url)  # only ever the session's own URL: no open redirect


@router.post("/pay/{session_id}/cancel")
async def cancel(session_id: str, request: Request) -> Response:
    return await _post(request, session_id, _cancel)


def _cancel(db: Session, request: Request, session: CheckoutSession, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    if session.cancel_url is not None:  # a real cancel (without a cancel URL the page has no cancel link)
        buyer_pricing.release_code_on_cancel(db, runtime, session)
    target = buyer.cancel(db, runtime, session)
    return redirect(target or f"/pay/{session.id}", session)


@router.post("/pay/{session_id}/test-wallet")
async def test_wallet(session_id: str, request: Request) -> Response:
    return await _post(request, session_id, _test_wallet)


def _test_wallet(
    db: Session, request: Request, session: CheckoutSession, form: dict[str, str]
) -> Response | AfterCommit:
    runtime = runtime_of(request)
    options = payments.payment_options(db, runtime, session)
    option = next((o for o in options if option_key(o) == form.get("option")), None)
    if option is None or not payments.test_wallet_available(runtime, session):
        return redirect(f"/pay/{session.id}/payment")
    # Outside the page's transaction: paying runs the dev chain, whose watcher writes in transactions of its own.
    return partial(_pay_with_test_wallet, runtime, session, option)


def _pay_with_test_wallet(runtime: Runtime, session: CheckoutSession, option: payments.PaymentOption) -> Response:
    query = {"option": option_key(option)}
    try:
        payments.pay_with_test_wallet(runtime, session, option)
        query["notice"] = "sent"
    except Exception as exc:
        log.warning("test wallet payment failed", session_id=str(session.id), error=str(exc))
        query["notice"] = "test_wallet_failed"
    return redirect(f"/pay/{session.id}/payment?" + urlencode(query))
