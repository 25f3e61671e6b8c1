/* The demo shop's own script: what any shop writes to report its cart to CartAssist.
 *
 * - Events that a page *is* (a checkout step, the delivery charge it quotes) come from
 *   the server in <script id="demo-page-events"> and are tracked on load.
 * - Forms marked data-track-post are posted with fetch; the server answers
 *   {"redirect": url, "track": [events]}; we track the events, then follow the redirect.
 * - Picking another delivery method re-quotes the charge without a round trip.
 * - A remedy our agent granted in the chat arrives as the widget's `cartassist:grant`
 *   window event ({token, kind, amount, currency, cart_id, expires_at}). We post the
 *   token to our own backend (/demo/checkout/grant/), which verifies it with CartAssist
 *   and keeps it with the cart; the totals on the page then show the reduction. The
 *   backend redeems it when the order is paid. We never trust the amount in the event
 *   itself: only what our backend verified counts.
 *
 * window.CartAssist is the queue stub until the widget has loaded, then the widget:
 * both take the same calls, so this script never waits for it except before leaving
 * the page (the stub's queue lives in memory; the widget's in localStorage).
 */
(function () {
  "use strict";

  function ca() {
    return window.CartAssist;
  }

  function track(event) {
    const options = event.cart_id ? { cartId: event.cart_id } : undefined;
    ca().track(event.type, event.data || {}, options);
  }

  /** Run ``next`` once the widget itself (not just the stub) is there, or after 3 s. */
  function whenWidgetLoaded(next) {
    if (ca().__loaded) return next();
    let done = false;
    function once() {
      if (!done) {
        done = true;
        next();
      }
    }
    const tag = document.querySelector("script[data-site-key]");
    if (tag) tag.addEventListener("load", once);
    window.setTimeout(once, 3000);
  }

  function readJson(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (ignored) {
      return null;
    }
  }

  function cents(text) {
    const parts = String(text).split(".");
    return parseInt(parts[0], 10) * 100 + parseInt((parts[1] || "0").concat("0").slice(0, 2), 10);
  }

  function euros(amount) {
    return "€" + Math.floor(amount / 100) + "." + ("0" + (amount % 100)).slice(-2);
  }

  function postAndTrack(form, event) {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    window
      .fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
      .then((response) => {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then((answer) => {
        (answer.track || []).forEach(track);
        whenWidgetLoaded(() => {
          window.location.assign(answer.redirect);
        });
      })
      .catch(() => {
        if (button) button.disabled = false;
        window.alert("Sorry, that did not work. Please try again.");
      });
  }

  /** Show the totals with the grant (if any) the server verified: a delivery remedy
   * takes at most the delivery charge, a discount at most the subtotal. */
  function renderTotals() {
    const subtotalNode = document.querySelector("[data-testid=subtotal]");
    const feeNode = document.querySelector("[data-delivery-fee]");
    const totalNode = document.querySelector("[data-total]");
    const row = document.querySelector("[data-grant-row]");
    if (!subtotalNode || !feeNode || !totalNode) return;
    const subtotal = cents(subtotalNode.textContent.replace("€", ""));
    const fee = cents(feeNode.textContent.replace("€", ""));
    let reduction = 0;
    const kind = row ? row.getAttribute("data-grant-kind") : "";
    const amount = row && row.getAttribute("data-grant-amount") ? cents(row.getAttribute("data-grant-amount")) : 0;
    if (kind === "waive_delivery" || kind === "reduce_delivery") reduction = Math.min(amount, fee);
    else if (kind === "discount") reduction = Math.min(amount, subtotal);
    if (row) {
      row.hidden = reduction <= 0;
      row.querySelector("[data-grant-reduction]").textContent = "−" + euros(reduction);
    }
    totalNode.textContent = euros(subtotal + fee - reduction);
    const pay = document.querySelector("[data-pay-total]");
    if (pay) pay.textContent = "Pay " + euros(subtotal + fee - reduction);
  }

  function csrfToken() {
    const meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  function showGrantNote(text) {
    const note = document.querySelector("[data-grant-note]");
    if (!note) return;
    note.textContent = text;
    note.hidden = false;
  }

  /** The widget hands us a grant: our backend verifies and keeps it; then the page shows it. */
  function applyGrant(grant) {
    const cartId = document.body.getAttribute("data-cart-id");
    if (!grant || typeof grant.token !== "string" || !cartId || grant.cart_id !== cartId) return;
    const body = new FormData();
    body.append("token", grant.token);
    window
      .fetch(document.body.getAttribute("data-grant-url"), {
        method: "POST",
        body,
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      })
      .then((response) => {
        return response.json().then((answer) => {
          if (!response.ok || !answer.applied) throw new Error(answer.detail || "HTTP " + response.status);
          return answer;
        });
      })
      .then((answer) => {
        const row = document.querySelector("[data-grant-row]");
        if (row) {
          row.setAttribute("data-grant-kind", answer.kind);
          row.setAttribute("data-grant-amount", answer.amount || "");
          row.querySelector("[data-grant-label]").textContent = answer.label;
        }
        renderTotals();
        showGrantNote(answer.label ? answer.label + ": it is included in your total." : "Our agent's offer is applied.");
      })
      .catch((error) => {
        showGrantNote("We could not apply our agent's offer: " + error.message);
      });
  }

  function setUpDeliveryChoice() {
    const radios = document.querySelectorAll("input[name=method][data-fee]");
    const subtotalNode = document.querySelector("[data-testid=subtotal]");
    if (!radios.length || !subtotalNode) return;
    Array.prototype.forEach.call(radios, (radio) => {
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        const fee = radio.getAttribute("data-fee");
        const feeNode = document.querySelector("[data-delivery-fee]");
        if (feeNode) feeNode.textContent = euros(cents(fee));
        renderTotals();
        const country = document.querySelector("select[name=country]");
        const data = { currency: "EUR", fee, method: radio.value };
        if (country && country.value) data.country = country.value;
        track({ type: "shipping_quoted", cart_id: document.body.getAttribute("data-cart-id"), data });
      });
    });
  }

  function setUpOptOut() {
    const button = document.querySelector("[data-opt-out]");
    const note = document.querySelector("[data-opted-out]");
    if (!button || !note) return;
    function showOptedOut() {
      button.hidden = true;
      note.hidden = false;
    }
    try {
      if (window.localStorage.getItem("demo:opted-out")) showOptedOut();
    } catch (ignored) {
      /* no storage: show the button */
    }
    button.addEventListener("click", () => {
      ca().track("opted_out", {});
      try {
        window.localStorage.setItem("demo:opted-out", "1");
      } catch (ignored) {
        /* fine */
      }
      showOptedOut();
    });
  }

  // Listening before the widget loads: the event may come as soon as it connects.
  window.addEventListener("cartassist:grant", (event) => {
    applyGrant(event.detail);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const cartId = document.body.getAttribute("data-cart-id");
    if (cartId) ca().setCart(cartId);
    (readJson("demo-page-events") || []).forEach(track);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-track-post]"), (form) => {
      form.addEventListener("submit", (event) => {
        postAndTrack(form, event);
      });
    });
    setUpDeliveryChoice();
    setUpOptOut();
  });
})();
