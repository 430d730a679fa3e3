"""The payment step rendered from hand-built payment options and progress (the payments seam), and the pure
pieces of the page: amount formatting and parsing, field rules, the status words, the code attempt limiter."""

from __future__ import annotations

import re
from typing import Any

import pytest

from e2e.pagekit import csrf_of, page_session
from kassa.checkout import page_views
from kassa.checkout.service import buyer_form, buyer_pricing
from kassa.payments import options as payments
from kassa.payments.options import PaymentOption, PaymentProgress, TransferView
from support import LiveServer, Merchant

DEPOSIT = "0x" + "Ab" * 20
TX = "0x" + "cd" * 32
DETECTED = "Payment detected. Waiting for confirmations…"


def option(chain_id: int, symbol: str, decimals: int, raw: int, *, preferred: bool = False) -> PaymentOption:
    token = "0x" + f"{chain_id:040x}"
    return PaymentOption(
        chain_id=chain_id,
        chain_name={137: "Polygon", 8453: "Base"}.get(chain_id, "Chain"),
        currency=symbol.lower(),
        symbol=symbol,
        token_address=token,
        decimals=decimals,
        deposit_address=DEPOSIT,
        amount_due=1_234_567_890,
        amount_due_raw=raw,
        eip681_uri=f"ethereum:{token}@{chain_id}/transfer?address={DEPOSIT}&uint256={raw}",
        rpc_url="https://rpc.example.com" if chain_id == 8453 else None,
        explorer_tx_url="https://explorer.example.com/tx/{hash}",
        preferred=preferred,
    )


OPTIONS = [option(8453, "USDC", 6, 12_345_679, preferred=True), option(137, "DAI", 18, 12_345_678_900_000_000_000)]


def progress(**fields: Any) -> PaymentProgress:
    base: dict[str, Any] = {
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": 1_000_000_000,
        "amount_received": 0,
        "amount_pending": 0,
        "amount_due": 1_000_000_000,
    }
    return PaymentProgress(**(base | fields))


def transfer(confirmations: int, state: Any = "pending", required: int = 3) -> TransferView:
    return TransferView(TX, 8453, "usdc", 400_000_000, confirmations, required, state)


@pytest.fixture
def seam(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Hand-built answers from the payments seam, for the test server (it runs in this process)."""
    state: dict[str, Any] = {"options": OPTIONS, "progress": progress(), "wallet": False, "paid": []}
    monkeypatch.setattr(payments, "payment_options", lambda db, runtime, session: state["options"])
    monkeypatch.setattr(payments, "payment_progress", lambda db, runtime, session: state["progress"])
    monkeypatch.setattr(payments, "test_wallet_available", lambda runtime, session: state["wallet"])

    def seen(db: Any, session: Any) -> bool:  # what the real payment_seen answers for this progress
        p = state["progress"]
        return bool(
            p.amount_received > 0
            or p.amount_pending > 0
            or any(t.state in ("pending", "confirmed") for t in p.transfers)
        )

    monkeypatch.setattr(payments, "payment_seen", seen)

    def pay(runtime: Any, session: Any, chosen: PaymentOption) -> str:
        if state.get("fail"):
            raise RuntimeError("dev chain down")
        state["paid"].append(chosen)
        return TX

    monkeypatch.setattr(payments, "pay_with_test_wallet", pay)
    return state


def test_options_render_preferred_first_with_exact_amounts(live: LiveServer, shop: Merchant, seam: Any) -> None:
    session = page_session(shop)
    with live.client() as http:
        page = http.get(f"/pay/{session['id']}/payment").text
        assert list(re.findall(r'data-option="([^"]+)"', page)) == ["8453:usdc", "137:dai"]
        assert re.search(r'class="option selected" href="[^"]+option=8453%3Ausdc" aria-current="true"', page)
        assert "12.345679 USDC" in page
        assert "Preferred" in page
        assert 'data-chain-id="0x2105"' in page
        assert 'data-amount="12345679"' in page
        assert f'data-to="{DEPOSIT}"' in page
        assert 'data-rpc-url="https://rpc.example.com"' in page
        assert re.search(r"<svg [^>]*class=\"segno\"", page)
        assert "<path" in page
        assert "No payment method" not in page
        assert "Pay with test wallet" not in page
        dai = http.get(f"/pay/{session['id']}/payment", params={"option": "137:dai"}).text
        assert "12.3456789 DAI" in dai
        assert 'value="12.3456789"' in dai
        assert re.search(r'class="option selected" href="[^"]+option=137%3Adai"', dai)
        assert 'data-rpc-url=""' in dai  # no public RPC to offer: the wallet must know the chain
        unknown = http.get(f"/pay/{session['id']}/payment", params={"option": "1:usdc"}).text
        assert "12.345679 USDC" in unknown  # falls back to the first option


def test_status_follows_progress(live: LiveServer, shop: Merchant, seam: Any) -> None:
    session = page_session(shop)
    url = f"/pay/{session['id']}/status"
    with live.client() as http:
        seam["progress"] = progress(amount_pending=400_000_000, transfers=[transfer(1)])
        body = http.get(url).json()
        assert (body["stage"], body["headline"]) == ("confirming", "Confirming your payment: 1 of 3 confirmations")
        assert body["transfers"] == [{"hash": TX, "confirmations": 1, "required": 3, "state": "pending"}]
        page = http.get(f"/pay/{session['id']}/payment").text
        assert "Confirming your payment: 1 of 3 confirmations" in page
        assert f"{TX} · pending · 1 of 3" in page
        assert "Edit details" not in page  # a payment is on its way: details are frozen
        seam["progress"] = progress(status="incomplete", amount_received=400_000_000, amount_due=600_000_000)
        body = http.get(url).json()
        assert (body["stage"], body["detail"]) == ("partial", "Received 4.00 USDC. Still due: 6.00 USDC.")
        assert body["amount_due"] == "600000000"
        assert body["next"] is None


def test_test_wallet_button(live: LiveServer, shop: Merchant, seam: Any) -> None:
    session = page_session(shop)
    seam["wallet"] = True
    with live.client() as http:
        page = http.get(f"/pay/{session['id']}/payment", params={"option": "137:dai"}).text
        assert "Pay with test wallet" in page
        form = {"csrf_token": csrf_of(page), "option": "137:dai"}
        resp = http.post(f"/pay/{session['id']}/test-wallet", data=form)
        assert resp.status_code == 303
        assert resp.headers["location"] == f"/pay/{session['id']}/payment?option=137%3Adai&notice=sent"
        assert seam["paid"] == [OPTIONS[1]]
        assert "Your test payment was sent." in http.get(resp.headers["location"]).text
        seam["fail"] = True
        failed = http.post(f"/pay/{session['id']}/test-wallet", data=form).headers["location"]
        assert failed.endswith("notice=test_wallet_failed")
        seam["wallet"] = False  # not offered: nothing is paid
        assert http.post(f"/pay/{session['id']}/test-wallet", data=form).headers["location"].endswith("/payment")
        assert len(seam["paid"]) == 1


@pytest.mark.parametrize(
    ("fields", "stage", "headline", "detail"),
    [
        ({}, "waiting", "Waiting for your payment…", ""),
        (
            {"amount_pending": 1, "transfers": [transfer(0)]},
            "detected",
            "Payment detected. Waiting for confirmations…",
            "",
        ),
        ({"transfers": [transfer(2)]}, "confirming", "Confirming your payment: 2 of 3 confirmations", ""),
        (
            {"amount_received": 250_000_000, "amount_due": 750_000_000, "transfers": [transfer(3, "confirmed")]},
            "partial",
            "Partial payment received",
            "Received 2.50 USDC. Still due: 7.50 USDC.",
        ),
        (
            {"amount_received": 1, "amount_due": 999_999_999, "transfers": [transfer(1)]},
            "confirming",
            "Confirming your payment: 1 of 3 confirmations",
            "Received 0.00000001 USDC. Still due: 9.99999999 USDC.",
        ),
        ({"status": "complete", "amount_received": 10**9, "amount_due": 0}, "paid", "Paid. Thank you!", ""),
        ({"status": "expired"}, "expired", "This checkout has expired.", ""),
    ],
)
def test_progress_words(fields: dict[str, Any], stage: str, headline: str, detail: str) -> None:
    view = page_views.progress_view(progress(**fields), "usdc")
    assert (view["stage"], view["headline"], view["detail"]) == (stage, headline, detail)


@pytest.mark.parametrize(
    ("amount", "decimals", "text"),
    [
        (0, 8, "0.00"),
        (1, 8, "0.00000001"),
        (100_000_000, 8, "1.00"),
        (123_456_789_000_000_000, 8, "1,234,567,890.00"),
        (-150_000_000, 8, "−1.50"),
        (12_345_678_900_000_000_000, 18, "12.3456789"),
        (10**36 + 1, 18, "1,000,000,000,000,000,000.000000000000000001"),
        (7, 0, "7"),
        (5, 1, "0.5"),
    ],
)
def test_amounts_are_formatted_exactly(amount: int, decimals: int, text: str) -> None:
    assert page_views.format_amount(amount, decimals) == text


def test_amounts_are_parsed_exactly() -> None:
    assert buyer_form.parse_amount("12.5") == 1_250_000_000
    assert buyer_form.parse_amount("0.00000001") == 1
    assert buyer_form.parse_amount("9999999999.99999999") == 999_999_999_999_999_999
    assert buyer_form.format_plain(buyer_form.parse_amount("3.1")) == "3.10"
    for bad in ("1.123456789", "1e3", "-1", "12,5", " 1", "12345678901"):
        with pytest.raises(ValueError, match="not an amount"):
            buyer_form.parse_amount(bad)


def test_field_rules_in_order() -> None:
    rule = buyer_form.FieldRule(
        name="custom_code",
        label="Code",
        kind="numeric",
        required=False,
        min_length=2,
        max_length=4,
        pattern=buyer_form.DIGITS_PATTERN,
        messages=(("pattern", "digits"), ("short", "short"), ("long", "long"), ("required", "required")),
    )
    assert [buyer_form.validate_field(rule, v) for v in ("", "  ", "1", "12", " 123 ", "12345", "1a")] == [
        ("", None),
        ("", None),
        ("1", "short"),
        ("12", None),
        ("123", None),
        ("12345", "long"),
        ("1a", "digits"),
    ]
    text = buyer_form.FieldRule(
        "t", "T", "text", True, max_length=4, messages=(("long", "long"), ("required", "required"))
    )
    assert buyer_form.validate_field(text, "😀😀😀😀") == ("😀😀😀😀", None)  # characters, not UTF-16 units
    assert buyer_form.validate_field(text, "😀😀😀😀😀") == ("😀😀😀😀😀", "long")


def test_the_limiter_slides_and_forgets() -> None:
    now = [0.0]
    limiter = buyer_pricing.CodeAttemptLimiter(limit=2, window=60, max_sessions=2, now=lambda: now[0])
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(buyer_pricing.TooManyCodeAttempts) as refused:
        limiter.hit("a")
    assert refused.value.retry_after == 61
    now[0] = 60.5
    limiter.hit("a")  # the first attempt left the window
    limiter.hit("b")
    limiter.hit("c")  # "a" is forgotten: at most max_sessions are kept
    limiter.hit("a")
    limiter.hit("a")
