"""The payment step of the hosted page in real payment states, and the pure pieces of the page: amount formatting
and parsing, field rules, the status words.

The page tests run on a server of their own. Its dev chain asks for 3 confirmations and has no block timer, so
blocks come only from the tests' transactions and `mine()`: a payment stays seen but unconfirmed for as long as a
test needs, and is confirmed by mining. Its configuration also has a testnet with an 18-decimal USDC that nothing
serves (its watcher backs off): sessions get a real deposit address there, which is all the page needs. Nothing
here patches the server's code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from e2e.pagekit import csrf_of, page_session, product_price, retrieve
from factories import USDC, WALLET
from kassa.chains.contracts import call_data
from kassa.chains.registry import DEV_CHAIN_ID
from kassa.checkout import page_views
from kassa.checkout.service import buyer_form
from kassa.payments.options import TEST_WALLET_ACCOUNT, PaymentProgress, TransferView
from support import Backend, LiveServer, Merchant, fresh_database_url, merchant, start_server

TX = "0x" + "cd" * 32
CONFIRMATIONS = 3
BUYER = 2  # pays by address; account #1 is the test wallet's
TESTNET_18 = 424_242


def chain_config(chain_id: int, name: str, decimals: int) -> dict[str, Any]:
    """A chain Kassa is configured with and nothing serves: sessions get deposit addresses on it all the same."""
    return {
        "id": chain_id,
        "name": name,
        "testnet": True,
        "rpc_url": "http://127.0.0.1:9",
        "confirmations": CONFIRMATIONS,
        "factory_address": "0x" + "fa" * 20,
        "explorer_tx_url": "https://explorer.example.com/tx/{hash}",
        "assets": [{"currency": "usdc", "address": "0x" + "18" * 20, "decimals": decimals, "symbol": "USDC"}],
    }


@pytest.fixture(scope="module")
def pay_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp(f"pages-payment-{backend}")
    server = start_server(
        backend,
        fresh_database_url(backend, tmp, "pages_payment"),
        data_dir=tmp,
        file_config={"chains": [chain_config(TESTNET_18, "Testnet 18", 18)]},
        devnet_confirmations=CONFIRMATIONS,
        devnet_block_seconds=24 * 3600.0,  # no block timer: nothing confirms until a test mines
    )
    yield server
    server.stop()


@pytest.fixture
def seller(pay_server: LiveServer) -> Iterator[Merchant]:
    with merchant(pay_server) as m:
        yield m


def session_on(shop: Merchant, *chains: int, amount: int = 10 * USDC, preferred: int | None = None) -> dict[str, Any]:
    """A hosted-page session payable on `chains` (the dev chain by default), its details complete."""
    allowed = [{"chainId": c} | ({} if c == DEV_CHAIN_ID else {"withdrawalAddress": WALLET}) for c in chains]
    setting: dict[str, Any] = {"allowedChains": allowed or [{"chainId": DEV_CHAIN_ID}]}
    if preferred is not None:
        setting["preferredChainId"] = preferred
    price = product_price(shop, amount=amount)
    return page_session(shop, price_id=price["id"], paymentSetting=setting)


def deposit(session: dict[str, Any], chain_id: int = DEV_CHAIN_ID) -> str:
    [address] = [a["paymentAddress"] for a in session["addresses"] if a["asset"]["chainId"] == chain_id]
    return str(address)


def pay(server: LiveServer, session: dict[str, Any], raw: int) -> str:
    """Send `raw` test USDC (6 decimals) to the session's dev-chain deposit address; mined at once, unconfirmed."""
    devnet = server.devnet
    return devnet.transfer(devnet.contracts.usdc, devnet.accounts[BUYER], deposit(session), raw)


def usdc_balance(server: LiveServer, owner: str) -> int:
    devnet = server.devnet
    data = call_data("balanceOf(address)", ["address"], [owner])
    return int(devnet.rpc("eth_call", [{"to": devnet.contracts.usdc, "data": "0x" + data.hex()}, "latest"]), 16)


def status_when(
    server: LiveServer, session_id: str, ready: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    """The page's status JSON once `ready` (the watcher polls the dev chain every 0.5 s), else the last one."""
    deadline = time.monotonic() + timeout
    with server.client() as http:
        while True:
            body: dict[str, Any] = http.get(f"/pay/{session_id}/status").json()
            if ready(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.05)


def pending(tx: str, confirmations: int) -> dict[str, Any]:
    return {"hash": tx, "confirmations": confirmations, "required": CONFIRMATIONS, "state": "pending"}


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


def test_options_list_the_preferred_chain_first_with_exact_amounts(pay_server: LiveServer, seller: Merchant) -> None:
    # 12.3456789 USDC: exact in 18 decimals, rounded up (never less than due) in the dev chain's 6.
    session = session_on(seller, DEV_CHAIN_ID, TESTNET_18, amount=1_234_567_890, preferred=TESTNET_18)
    sid = session["id"]
    with pay_server.client() as http:
        page = http.get(f"/pay/{sid}/payment").text
        assert re.findall(r'data-option="([^"]+)"', page) == [f"{TESTNET_18}:usdc", f"{DEV_CHAIN_ID}:usdc"]
        assert re.search(rf'class="option selected" href="[^"]+option={TESTNET_18}%3Ausdc" aria-current="true"', page)
        assert len(re.findall(r'<span class="badge">Preferred</span>', page)) == 1
        assert "12.3456789 USDC" in page
        assert 'value="12.3456789"' in page
        assert f'data-chain-id="{hex(TESTNET_18)}"' in page
        assert 'data-amount="12345678900000000000"' in page
        assert f'data-to="{deposit(session, TESTNET_18)}"' in page
        assert 'data-rpc-url="http://127.0.0.1:9"' in page
        assert re.search(r"<svg [^>]*class=\"segno\"", page)
        assert "<path" in page
        assert "No payment method" not in page
        dev = http.get(f"/pay/{sid}/payment", params={"option": f"{DEV_CHAIN_ID}:usdc"}).text
        assert "12.345679 USDC" in dev
        assert 'value="12.345679"' in dev
        assert 'data-amount="12345679"' in dev
        assert f'data-chain-id="{hex(DEV_CHAIN_ID)}"' in dev
        assert f'data-to="{deposit(session)}"' in dev
        assert f'data-rpc-url="{pay_server.settings.public_url}/devnet/rpc"' in dev
        assert re.search(rf'class="option selected" href="[^"]+option={DEV_CHAIN_ID}%3Ausdc"', dev)
        unknown = http.get(f"/pay/{sid}/payment", params={"option": "1:usdc"}).text
        assert "12.3456789 USDC" in unknown  # falls back to the first option


def test_a_chain_dropped_from_the_configuration_keeps_its_address_without_an_rpc_url(
    pay_server: LiveServer, seller: Merchant, tmp_path: Path
) -> None:
    """A session made while a chain was configured, shown after the operator removed it: the page still shows
    where to pay, but has no RPC URL to offer a wallet, which must then know the chain itself."""
    retired = 424_243
    # The same database, served for a moment with the chain still configured (as before the operator's change).
    earlier = start_server(
        pay_server.backend,
        pay_server.settings.database_url,
        data_dir=tmp_path,
        devnet=False,
        file_config={"chains": [chain_config(retired, "Retired Testnet", 6)]},
    )
    try:
        with earlier.client(seller.api_key) as http:
            session = session_on(Merchant(seller.organization_id, seller.api_key, seller.mode, http), retired)
    finally:
        earlier.stop()
    with pay_server.client() as http:
        page = http.get(f"/pay/{session['id']}/payment").text
    assert re.findall(r'data-option="([^"]+)"', page) == [f"{retired}:usdc"]
    assert "Retired Testnet" in page
    assert "10.00 USDC" in page
    assert f'data-to="{deposit(session, retired)}"' in page
    assert 'data-rpc-url=""' in page
    assert "Pay with test wallet" not in page  # the session cannot be paid on the dev chain


def test_a_payment_seen_on_chain_confirms_block_by_block(pay_server: LiveServer, seller: Merchant) -> None:
    session = session_on(seller)
    sid = session["id"]
    tx = pay(pay_server, session, 10_000_000)
    seen = status_when(pay_server, sid, lambda body: bool(body["transfers"]))
    assert seen == {
        "stage": "confirming",
        "headline": "Confirming your payment: 1 of 3 confirmations",
        "detail": "",
        "amount_due": str(10 * USDC),  # nothing is confirmed yet
        "transfers": [pending(tx, 1)],
        "next": None,
    }
    with pay_server.client() as http:
        page = http.get(f"/pay/{sid}/payment").text
        assert "Confirming your payment: 1 of 3 confirmations" in page
        assert f"{tx} · pending · 1 of 3" in page
        assert "Edit details" not in page  # a payment is on its way: details are frozen
        assert "Cancel and return" not in page
        assert http.get(f"/pay/{sid}").headers["location"] == f"/pay/{sid}/payment"
    pay_server.devnet.mine()
    body = status_when(pay_server, sid, lambda body: body["transfers"] != [pending(tx, 1)])
    assert (body["headline"], body["transfers"]) == ("Confirming your payment: 2 of 3 confirmations", [pending(tx, 2)])
    pay_server.devnet.mine()
    paid = status_when(pay_server, sid, lambda body: body["stage"] != "confirming")
    assert paid == {
        "stage": "paid",
        "headline": "Paid. Thank you!",
        "detail": "",
        "amount_due": "0",
        "transfers": [{"hash": tx, "confirmations": 3, "required": 3, "state": "confirmed"}],
        "next": f"/pay/{sid}/done",
    }
    with pay_server.client() as http:
        assert http.get(f"/pay/{sid}/payment").headers["location"] == f"/pay/{sid}/done"
    assert retrieve(seller, sid)["status"] == "complete"


def test_a_partial_payment_shows_what_is_still_due(pay_server: LiveServer, seller: Merchant) -> None:
    session = session_on(seller)
    sid = session["id"]
    pay(pay_server, session, 4_000_000)
    status_when(pay_server, sid, lambda body: bool(body["transfers"]))
    pay_server.devnet.mine(CONFIRMATIONS - 1)
    partial = status_when(pay_server, sid, lambda body: body["stage"] != "confirming")
    assert (partial["stage"], partial["headline"], partial["detail"], partial["amount_due"], partial["next"]) == (
        "partial",
        "Partial payment received",
        "Received 4.00 USDC. Still due: 6.00 USDC.",
        str(6 * USDC),
        None,
    )
    assert retrieve(seller, sid)["status"] == "incomplete"
    with pay_server.client() as http:
        page = http.get(f"/pay/{sid}/payment").text
    assert "6.00 USDC" in page  # the options ask for what is still due
    assert 'data-amount="6000000"' in page
    assert "Received 4.00 USDC. Still due: 6.00 USDC." in page
    # A top-up on its way: confirming, and what is due stays what is confirmed so far.
    top_up = pay(pay_server, session, 100)
    confirming = status_when(pay_server, sid, lambda body: body["stage"] == "confirming")
    assert (confirming["headline"], confirming["detail"], confirming["amount_due"]) == (
        "Confirming your payment: 1 of 3 confirmations",
        "Received 4.00 USDC. Still due: 6.00 USDC.",
        str(6 * USDC),
    )
    assert confirming["transfers"][-1] == pending(top_up, 1)


def test_past_expiry_a_payment_seen_in_time_keeps_the_payment_step(pay_server: LiveServer, seller: Merchant) -> None:
    """A transfer included before expiresAt still counts: past expiry its session shows the payment step (and
    then what is still due), while a session with nothing seen shows the expired page."""
    seen, unseen = session_on(seller), session_on(seller)
    tx = pay(pay_server, seen, 4_000_000)
    status_when(pay_server, seen["id"], lambda body: bool(body["transfers"]))
    pay_server.clock.advance(timedelta(minutes=61))  # the sessions expired a minute ago (they last an hour)
    try:
        with pay_server.client() as http:
            assert http.get(f"/pay/{unseen['id']}").status_code == 410
            assert http.get(f"/pay/{unseen['id']}/payment").status_code == 410
            assert http.get(f"/pay/{seen['id']}").headers["location"] == f"/pay/{seen['id']}/payment"
            page = http.get(f"/pay/{seen['id']}/payment")
            assert page.status_code == 200
            assert f"{tx} · pending · 1 of 3" in page.text
        assert retrieve(seller, seen["id"])["status"] == "open"  # expiry waits for the payment to confirm
        pay_server.devnet.mine(CONFIRMATIONS - 1)
        partial = status_when(pay_server, seen["id"], lambda body: body["stage"] != "confirming")
        assert (partial["stage"], partial["detail"]) == ("partial", "Received 4.00 USDC. Still due: 6.00 USDC.")
        with pay_server.client() as http:
            page = http.get(f"/pay/{seen['id']}/payment")
            assert page.status_code == 200
            assert "Partial payment received" in page.text
    finally:
        pay_server.clock.advance(-timedelta(minutes=61))


def test_the_test_wallet_pays_the_amount_due_from_its_dev_chain_account(
    pay_server: LiveServer, seller: Merchant
) -> None:
    session = session_on(seller, DEV_CHAIN_ID, TESTNET_18)
    sid = session["id"]
    wallet = pay_server.devnet.accounts[TEST_WALLET_ACCOUNT]
    before = usdc_balance(pay_server, wallet)
    dev_option, other_option = f"{DEV_CHAIN_ID}:usdc", f"{TESTNET_18}:usdc"
    with pay_server.client() as http:
        page = http.get(f"/pay/{sid}/payment", params={"option": dev_option}).text
        assert "Pay with test wallet" in page
        form = {"csrf_token": csrf_of(page), "option": dev_option}
        # It pays on the dev chain only: pressed on another chain's option, it fails and says so.
        failed = http.post(f"/pay/{sid}/test-wallet", data=form | {"option": other_option})
        assert failed.headers["location"] == f"/pay/{sid}/payment?option={TESTNET_18}%3Ausdc&notice=test_wallet_failed"
        assert "The test wallet could not send the payment." in http.get(failed.headers["location"]).text
        assert usdc_balance(pay_server, wallet) == before
        sent = http.post(f"/pay/{sid}/test-wallet", data=form)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/pay/{sid}/payment?option={DEV_CHAIN_ID}%3Ausdc&notice=sent"
        assert "Your test payment was sent." in http.get(sent.headers["location"]).text
        assert usdc_balance(pay_server, wallet) == before - 10_000_000  # the amount due, to the deposit address
        assert usdc_balance(pay_server, deposit(session)) == 10_000_000
        pay_server.devnet.mine(CONFIRMATIONS - 1)
        assert status_when(pay_server, sid, lambda body: body["stage"] == "paid")["stage"] == "paid"
        # Nothing is left to pay: pressing again sends nothing.
        again = http.post(f"/pay/{sid}/test-wallet", data=form)
        assert again.headers["location"].endswith("notice=test_wallet_failed")
        assert usdc_balance(pay_server, wallet) == before - 10_000_000
    [transaction] = retrieve(seller, sid)["paymentIntent"]["transactions"]
    assert (transaction["fromAddress"].lower(), transaction["amountRaw"]) == (wallet.lower(), "10000000")


def test_the_test_wallet_is_not_offered_off_the_dev_chain(pay_server: LiveServer, seller: Merchant) -> None:
    session = session_on(seller, TESTNET_18)
    sid = session["id"]
    wallet = pay_server.devnet.accounts[TEST_WALLET_ACCOUNT]
    before = usdc_balance(pay_server, wallet)
    with pay_server.client() as http:
        page = http.get(f"/pay/{sid}/payment").text
        assert "Pay with test wallet" not in page
        form = {"csrf_token": csrf_of(page), "option": f"{TESTNET_18}:usdc"}
        assert http.post(f"/pay/{sid}/test-wallet", data=form).headers["location"] == f"/pay/{sid}/payment"
    assert usdc_balance(pay_server, wallet) == before
    assert status_when(pay_server, sid, lambda body: True)["transfers"] == []


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
