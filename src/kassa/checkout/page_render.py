"""Rendering the hosted page: the Jinja2 environment (autoescaped) and its filters, and the responses made from it.

Every response made here carries the page's security headers (`page_security.security_headers`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kassa.checkout.models import CheckoutSession
from kassa.checkout.page_security import security_headers
from kassa.checkout.service.buyer_form import FieldRule, format_plain

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/static/checkout"
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def render(
    template: str, context: Mapping[str, Any], *, status: int = 200, session: CheckoutSession | None = None
) -> Response:
    html = ENV.get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=security_headers(session))


def redirect(url: str, session: CheckoutSession | None = None) -> Response:
    return RedirectResponse(url, status_code=303, headers=security_headers(session))


# ---------------------------------------------------------------------------------------------------------------
# Message pages (no session to show)


_CSRF_TEXT = "This form was not sent from this checkout page, or the page is out of date. Reload it and try again."
_NOT_FOUND_TEXT = (
    "This checkout link is not valid. Check the link you were given, or go back to the shop and start again."
)


def not_found() -> Response:
    return render("message.html", _plain("Checkout not found", _NOT_FOUND_TEXT), status=404)


def forbidden() -> Response:
    return render("message.html", _plain("Please reload the page", _CSRF_TEXT), status=403)


def _plain(title: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "text": text, "merchant": "Checkout", "test_mode": False, "link": None} | extra


# ---------------------------------------------------------------------------------------------------------------
# Template globals and filters


@lru_cache(maxsize=8)
def asset(name: str) -> str:
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


def duration_words(seconds: int) -> str:
    minutes = max(0, seconds) // 60
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


_INPUT_TYPES = {"email": "email", "phone": "tel"}
_INPUT_MODES = {"numeric": "numeric", "amount": "decimal"}


@lru_cache(maxsize=4096)
def field_attributes(rule: FieldRule) -> Markup:
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


ENV.globals["asset"] = asset
ENV.filters["field_attrs"] = field_attributes
ENV.filters["duration"] = duration_words
ENV.filters["plain"] = format_plain
