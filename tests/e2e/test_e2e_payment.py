"""The payment step in a real browser, paying on the built-in dev chain the test server runs.

- "Pay with test wallet": the server pays from a prefunded dev-chain account.
- "Connect wallet": an injected EIP-1193 provider (what a wallet extension puts on `window.ethereum`) that
  forwards every call to the dev chain, so the page's own transfer call data is what moves the money.
The watcher in the test server sees the transfer; the page follows it by polling and ends where the merchant said.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from e2e.conftest import Buyer
from e2e.pagekit import ok, product_price, retrieve, shop_urls
from factories import USDC
from kassa.chains.registry import DEV_CHAIN_ID
from support import LiveServer, Merchant

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
BUYER_ACCOUNT = 1  # of the dev mnemonic; the server's test wallet uses the same prefunded account

# A minimal wallet: starts on chain 0x1, does not know the dev chain until added, forwards the rest.
PROVIDER = """
(() => {
  const calls = [];
  let chainId = "0x1";
  const known = new Set(["0x1"]);
  window.__walletCalls = calls;
  window.ethereum = {
    isMetaMask: false,
    async request({ method, params }) {
      calls.push({ method, params: params || [] });
      if (method === "eth_requestAccounts") return [window.__buyer];
      if (method === "eth_chainId") return chainId;
      if (method === "wallet_switchEthereumChain") {
        if (!known.has(params[0].chainId)) throw Object.assign(new Error("Unrecognized chain"), { code: 4902 });
        chainId = params[0].chainId;
        return null;
      }
      if (method === "wallet_addEthereumChain") { known.add(params[0].chainId); return null; }
      const answer = JSON.parse(await window.kassaDevRpc(method, JSON.stringify(params || [])));
      if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
      return answer.result;
    },
  };
})();
"""


def dev_session(shop: Merchant, live: LiveServer, *, amount: int = 10 * USDC, **fields: Any) -> dict[str, Any]:
    price = product_price(shop, name="Dev widget", amount=amount)
    body = (
        {
            "lineItems": {"data": [{"priceId": price["id"]}]},
            "paymentSetting": {"allowedChains": [{"chainId": DEV_CHAIN_ID}], "preferredChainId": DEV_CHAIN_ID},
        }
        | shop_urls(live)
        | fields
    )
    return ok(shop.http.post("/api/v1/checkout/sessions", json=body))


def to_payment_step(buyer: Buyer, session: dict[str, Any]) -> None:
    buyer.open(f"/pay/{session['id']}")
    buyer.page.click("button[data-pay]")
    buyer.page.wait_for_url(re.compile(r"/payment"))


@pytest.fixture(autouse=True)
def _needs_the_dev_chain(live: LiveServer) -> None:
    if live.runtime.devnet is None:
        pytest.skip("the test server runs no dev chain")


def test_pay_with_the_test_wallet_and_land_on_the_success_url(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, live)
    to_payment_step(buyer, session)
    page = buyer.page
    deposit = session["addresses"][0]["paymentAddress"]
    expect(page.locator(".option.selected")).to_contain_text("USDC on Kassa Dev Chain")
    expect(page.locator("[data-deposit]")).to_have_text(deposit)
    expect(page.locator("[data-amount-due-text]")).to_have_text("10.00 USDC")
    expect(page.locator("[data-qr] svg")).to_be_visible()
    expect(page.locator("[data-status-headline]")).to_have_text("Waiting for your payment…")
    expect(page.locator("[data-wallet]")).to_be_hidden()  # no window.ethereum here
    buyer.shot("payment-options")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.base_url)
    page.click("[data-copy=deposit-address]")
    expect(page.locator("[data-copy=deposit-address]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == deposit
    page.click("[data-test-wallet]")
    page.wait_for_url(f"{live.base_url}/healthz?shop=thanks&session={session['id']}", timeout=30_000)
    body = retrieve(shop, session["id"])
    assert (body["status"], body["amountReceived"]) == ("complete", str(10 * USDC))


def test_partial_payment_shows_what_is_still_due(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, live, afterCompletion="hosted_confirmation", afterCompletionConfirmMsg="Paid in full")
    to_payment_step(buyer, session)
    devnet = live.devnet
    deposit = session["addresses"][0]["paymentAddress"]
    devnet.transfer(devnet.contracts.usdc, devnet.accounts[BUYER_ACCOUNT], deposit, 9_999_999)  # 1 raw unit short
    page = buyer.page
    expect(page.locator("[data-status-detail]")).to_have_text(
        "Received 9.999999 USDC. Still due: 0.000001 USDC.", timeout=30_000
    )
    expect(page.locator("[data-amount-due-text]")).to_have_text("0.000001 USDC")  # the page reloaded its amounts
    expect(page.locator("[data-status-headline]")).to_have_text("Partial payment received")
    expect(page.locator("text=Edit details")).to_have_count(0)  # frozen: the money was sent for these details
    buyer.shot("payment-partial")
    page.click("[data-test-wallet]")
    expect(page.locator("[data-confirm-message]")).to_have_text("Paid in full", timeout=30_000)
    buyer.shot("payment-confirmed")


def test_wallet_button_sends_the_exact_erc20_transfer(buyer: Buyer, live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, live, amount=1_234_567_891)  # 12.34567891 USDC → 12.345679 at 6 decimals
    devnet = live.devnet
    account = devnet.accounts[BUYER_ACCOUNT]

    def forward(method: str, params: str) -> str:
        try:
            return json.dumps({"result": devnet.rpc(method, json.loads(params))})
        except Exception as exc:  # the dev chain's errors go back to the page as JSON-RPC errors
            return json.dumps({"error": {"code": getattr(exc, "code", -32000), "message": str(exc)}})

    page = buyer.page
    page.expose_function("kassaDevRpc", forward)
    page.add_init_script(f"window.__buyer = {json.dumps(account)};" + PROVIDER)
    to_payment_step(buyer, session)
    expect(page.locator("[data-amount-due-text]")).to_have_text("12.345679 USDC")  # rounded up, never less
    page.click("[data-wallet]")
    expect(page.locator("[data-wallet-status]")).to_contain_text("Payment sent", timeout=30_000)
    calls = page.evaluate("window.__walletCalls")
    methods = [c["method"] for c in calls]
    assert methods[:5] == [
        "eth_requestAccounts",
        "eth_chainId",
        "wallet_switchEthereumChain",
        "wallet_addEthereumChain",
        "wallet_switchEthereumChain",
    ]
    added = calls[3]["params"][0]
    assert (added["chainId"], added["rpcUrls"]) == (hex(DEV_CHAIN_ID), [f"{live.settings.public_url}/devnet/rpc"])
    [send] = [c for c in calls if c["method"] == "eth_sendTransaction"]
    deposit = session["addresses"][0]["paymentAddress"]
    token = session["addresses"][0]["asset"]["address"]
    expected = "0xa9059cbb" + deposit[2:].lower().rjust(64, "0") + hex(12_345_679)[2:].rjust(64, "0")
    assert send["params"][0] == {"from": account, "to": token, "value": "0x0", "data": expected}
    page.wait_for_url(f"{live.base_url}/healthz?shop=thanks&session={session['id']}", timeout=30_000)
    assert retrieve(shop, session["id"])["status"] == "complete"
