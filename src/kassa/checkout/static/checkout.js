/* Kassa hosted checkout: progressive enhancement only. Everything but the wallet button works without it.
 *
 * - Field checks with the server's own rules and messages (rendered as data-* attributes by the server from
 *   kassa.checkout.service.buyer; this file applies them in the same order as buyer.validate_field).
 * - Promotion code, pay-what-you-want amount: posted in the background; the order summary is swapped for the
 *   server's re-rendered one, so typed details stay where they are.
 * - Time left, copy buttons, live payment status (polling /status), and the EIP-1193 wallet payment.
 */
(function () {
  "use strict";

  var UNITS = 100000000n; // 8-decimal API amounts

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // ---------------------------------------------------------------------------------------------- validation

  function parseAmount(text) {
    var parts = text.split(".");
    return BigInt(parts[0]) * UNITS + BigInt((parts[1] || "").padEnd(8, "0"));
  }

  // Mirrors buyer.validate_field: required, pattern, minimum length, maximum length, choice, amount bounds.
  function check(el) {
    var d = el.dataset;
    var value = el.value.trim();
    if (!value) { return d.required ? d.msgRequired : null; }
    if (d.pattern && !new RegExp(d.pattern).test(value)) { return d.msgPattern; }
    var length = Array.from(value).length; // code points, as Python's len()
    if (d.minLength && length < Number(d.minLength)) { return d.msgShort; }
    if (d.maxLength && length > Number(d.maxLength)) { return d.msgLong; }
    if (d.kind === "dropdown") {
      var known = Array.prototype.some.call(el.options, function (o) { return o.value !== "" && o.value === value; });
      if (!known) { return d.msgChoice; }
    }
    if (d.kind === "amount") {
      var amount = parseAmount(value);
      if (d.minAmount && amount < BigInt(d.minAmount)) { return d.msgMin; }
      if (d.maxAmount && amount > BigInt(d.maxAmount)) { return d.msgMax; }
    }
    return null;
  }

  function show(el, message) {
    var box = document.getElementById(el.id + "-error");
    var wrapper = el.closest(".field");
    if (box) { box.textContent = message || ""; box.hidden = !message; }
    if (wrapper) { wrapper.classList.toggle("invalid", Boolean(message)); }
    el.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function validateAll(form) {
    var first = null;
    $all("[data-kind]", form).forEach(function (el) {
      var message = check(el);
      show(el, message);
      if (message && !first) { first = el; }
    });
    return first;
  }

  // ------------------------------------------------------------------------------------ checkout form

  function announce(text) {
    var box = $("#announce");
    if (box) { box.textContent = ""; window.setTimeout(function () { box.textContent = text; }, 50); }
  }

  function setupCheckout(form) {
    var formError = $(".form-error", form);
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name === "action" && submitter.value !== "pay") { return; }
      var first = validateAll(form);
      if (first) {
        event.preventDefault();
        if (!formError) {
          formError = document.createElement("p");
          formError.className = "form-error";
          formError.setAttribute("role", "alert");
          var details = $(".details h2", form);
          details.insertAdjacentElement("afterend", formError);
        }
        formError.textContent = "Please correct the fields marked below.";
        first.focus();
        return;
      }
      $all("[data-pay]", form).forEach(function (b) { b.disabled = true; });
      // A disabled button is not submitted: carry the action along.
      var action = document.createElement("input");
      action.type = "hidden"; action.name = "action"; action.value = "pay";
      form.appendChild(action);
    });
    form.addEventListener("focusout", function (event) {
      var el = event.target;
      if (el.dataset && el.dataset.kind && (el.value.trim() || el.getAttribute("aria-invalid") === "true")) {
        show(el, check(el));
      }
    });
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-code-action], [data-suggest]");
      if (!button) { return; }
      event.preventDefault();
      var data = new FormData(form);
      data.delete("action");
      data.set(button.name, button.value);
      if (button.name === "suggest") {
        var name = button.value.split("=")[0];
        var input = form.elements[name];
        if (input) { input.value = button.value.split("=")[1]; }
      }
      refreshSummary(form, data, button);
    });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.matches("[data-code-input]")) {
        event.preventDefault();
        var apply = $("[data-code-action][value=apply_code]", form);
        if (apply) { apply.click(); }
      }
    });
    form.addEventListener("change", function (event) {
      var el = event.target;
      if (el.dataset && el.dataset.kind === "amount") {
        var message = check(el);
        show(el, message);
        if (!message) {
          var data = new FormData(form);
          data.set("action", "update_amount");
          refreshSummary(form, data, null);
        }
      }
    });
  }

  function refreshSummary(form, data, button) {
    var summary = $("#summary", form);
    if (button) { button.disabled = true; }
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }).then(function (response) {
      if (response.redirected) { window.location.assign(response.url); return null; }
      return response.text();
    }).then(function (html) {
      if (html === null) { return; }
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("summary");
      if (!fresh) { window.location.reload(); return; }
      summary.replaceWith(document.importNode(fresh, true));
      var label = $("[data-pay]", doc);
      $all("[data-pay]", form).forEach(function (b) { if (label) { b.textContent = label.textContent; } });
      var message = $("#promo-message", form);
      var applied = $("[data-applied-code]", form);
      if (message && !message.hidden) {
        announce(message.textContent);
        $("[data-code-input]", form).focus();
      } else if (applied && button && button.value === "apply_code") {
        announce("Promotion code " + applied.dataset.appliedCode + " applied. Total " + $("[data-grand-total]", form).textContent);
        var remove = $("[data-code-action][value=remove_code]", form);
        if (remove) { remove.focus(); }
      } else {
        announce("Total " + $("[data-grand-total]", form).textContent);
        var input = $("[data-code-input]", form);
        if (input && button && button.value === "remove_code") { input.focus(); }
      }
    }).catch(function () {
      if (button) { button.disabled = false; }
      announce("The page could not reach the server. Check your connection and try again.");
    });
  }

  // ---------------------------------------------------------------------------------------------- expiry

  function setupExpiry(el) {
    var left = Number(el.dataset.secondsLeft);
    var started = performance.now();
    var text = $("[data-expiry-text]", el);
    function pad(n) { return String(n).padStart(2, "0"); }
    function tick() {
      var remaining = Math.max(0, Math.round(left - (performance.now() - started) / 1000));
      var h = Math.floor(remaining / 3600), m = Math.floor((remaining % 3600) / 60), s = remaining % 60;
      text.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
      if (remaining === 0) { window.location.reload(); return; }
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  // ----------------------------------------------------------------------------------------- payment step

  function setupStatus(box) {
    var d = box.dataset;
    function poll() {
      fetch(d.statusUrl, { cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          $("[data-status-headline]", box).textContent = s.headline;
          var detail = $("[data-status-detail]", box);
          detail.textContent = s.detail; detail.hidden = !s.detail;
          box.className = "status stage-" + s.stage;
          if (s.next) { window.location.assign(s.next); return; }
          if (s.amount_due !== d.amountDue && s.stage === "partial") { window.location.reload(); return; }
        })
        .catch(function () { /* try again on the next tick */ })
        .then(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 3000);
  }

  function setupCopy(button) {
    var input = document.getElementById(button.dataset.copy);
    button.hidden = false;
    button.addEventListener("click", function () {
      function done() { button.textContent = "Copied"; window.setTimeout(function () { button.textContent = "Copy"; }, 2000); }
      var text = input.value !== undefined ? input.value : input.textContent.trim();
      function select() {
        if (input.select) { input.select(); return; }
        var range = document.createRange();
        range.selectNodeContents(input);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, select);
      } else {
        select();
        if (document.execCommand("copy")) { done(); }
      }
    });
  }

  // ERC-20 transfer(address,uint256): selector, then the address and the amount, each padded to 32 bytes.
  function transferCallData(to, amount) {
    var address = to.toLowerCase().replace(/^0x/, "");
    if (!/^[0-9a-f]{40}$/.test(address)) { throw new Error("invalid deposit address"); }
    if (!/^[0-9]+$/.test(amount)) { throw new Error("invalid amount"); }
    return "0xa9059cbb" + address.padStart(64, "0") + BigInt(amount).toString(16).padStart(64, "0");
  }

  function walletError(error) {
    if (error && error.code === 4001) { return "You declined the request in your wallet. You can try again, or pay by address below."; }
    if (error && error.code === -32002) { return "Your wallet is already showing a request. Open it to continue."; }
    return "The wallet could not send the payment" + (error && error.message ? ": " + error.message : ".") + " You can pay by address below.";
  }

  function setupWallet(button) {
    var eth = window.ethereum;
    if (!eth || typeof eth.request !== "function") { return; }
    var status = $("[data-wallet-status]");
    var missing = $("[data-wallet-missing]");
    button.hidden = false;
    if (missing) { missing.textContent = "Your wallet will ask you to confirm the exact amount."; }
    function say(text) { status.hidden = false; status.textContent = text; }
    button.addEventListener("click", function () {
      var d = button.dataset;
      var from;
      button.disabled = true;
      say("Connecting to your wallet…");
      eth.request({ method: "eth_requestAccounts" })
        .then(function (accounts) {
          from = accounts[0];
          return eth.request({ method: "eth_chainId" });
        })
        .then(function (current) {
          if (parseInt(current, 16) === parseInt(d.chainId, 16)) { return null; }
          say("Switching your wallet to " + d.chainName + "…");
          return eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: d.chainId }] })
            .catch(function (error) {
              var unknown = error && (error.code === 4902 || (error.data && error.data.originalError && error.data.originalError.code === 4902));
              if (!unknown || !d.rpcUrl) { throw error; }
              return eth.request({
                method: "wallet_addEthereumChain",
                params: [{ chainId: d.chainId, chainName: d.chainName, rpcUrls: [d.rpcUrl],
                  nativeCurrency: { name: d.nativeSymbol, symbol: d.nativeSymbol, decimals: 18 } }],
              }).then(function () {
                return eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: d.chainId }] });
              });
            });
        })
        .then(function () {
          say("Confirm the payment in your wallet…");
          return eth.request({
            method: "eth_sendTransaction",
            params: [{ from: from, to: d.token, value: "0x0", data: transferCallData(d.to, d.amount) }],
          });
        })
        .then(function (hash) {
          say("Payment sent. Waiting for the network to pick it up… ");
          if (/^0x[0-9a-fA-F]{64}$/.test(hash) && d.explorer) {
            var link = document.createElement("a");
            link.href = d.explorer.replace("{hash}", hash);
            link.rel = "noreferrer";
            link.target = "_blank";
            link.textContent = "View transaction";
            status.appendChild(link);
          }
        })
        .catch(function (error) {
          say(walletError(error));
          button.disabled = false;
        });
    });
  }

  // ------------------------------------------------------------------------------------------------- start

  window.kassaCheckout = { check: check, transferCallData: transferCallData, parseAmount: parseAmount };
  document.addEventListener("DOMContentLoaded", function () {
    var form = $("[data-checkout]");
    if (form) { setupCheckout(form); }
    var expiry = $("[data-expiry]");
    if (expiry) { setupExpiry(expiry); }
    var status = $("[data-status]");
    if (status && status.dataset.stage !== "paid") { setupStatus(status); }
    $all("[data-copy]").forEach(setupCopy);
    var wallet = $("[data-wallet]");
    if (wallet) { setupWallet(wallet); }
  });
})();
