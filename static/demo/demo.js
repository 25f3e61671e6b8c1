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
    var options = event.cart_id ? { cartId: event.cart_id } : undefined;
    ca().track(event.type, event.data || {}, options);
  }

  /** Run ``next`` once the widget itself (not just the stub) is there, or after 3 s. */
  function whenWidgetLoaded(next) {
    if (ca().__loaded) return next();
    var done = false;
    function once() {
      if (!done) {
        done = true;
        next();
      }
    }
    var tag = document.querySelector("script[data-site-key]");
    if (tag) tag.addEventListener("load", once);
    window.setTimeout(once, 3000);
  }

  function readJson(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (ignored) {
      return null;
    }
  }

  function cents(text) {
    var parts = String(text).split(".");
    return parseInt(parts[0], 10) * 100 + parseInt((parts[1] || "0").concat("0").slice(0, 2), 10);
  }

  function euros(amount) {
    return "€" + Math.floor(amount / 100) + "." + ("0" + (amount % 100)).slice(-2);
  }

  function postAndTrack(form, event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    window
      .fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (answer) {
        (answer.track || []).forEach(track);
        whenWidgetLoaded(function () {
          window.location.assign(answer.redirect);
        });
      })
      .catch(function () {
        if (button) button.disabled = false;
        window.alert("Sorry, that did not work. Please try again.");
      });
  }

  /** Show the totals with the grant (if any) the server verified: a delivery remedy
   * takes at most the delivery charge, a discount at most the subtotal. */
  function renderTotals() {
    var subtotalNode = document.querySelector("[data-testid=subtotal]");
    var feeNode = document.querySelector("[data-delivery-fee]");
    var totalNode = document.querySelector("[data-total]");
    var row = document.querySelector("[data-grant-row]");
    if (!subtotalNode || !feeNode || !totalNode) return;
    var subtotal = cents(subtotalNode.textContent.replace("€", ""));
    var fee = cents(feeNode.textContent.replace("€", ""));
    var reduction = 0;
    var kind = row ? row.getAttribute("data-grant-kind") : "";
    var amount = row && row.getAttribute("data-grant-amount") ? cents(row.getAttribute("data-grant-amount")) : 0;
    if (kind === "waive_delivery" || kind === "reduce_delivery") reduction = Math.min(amount, fee);
    else if (kind === "discount") reduction = Math.min(amount, subtotal);
    if (row) {
      row.hidden = reduction <= 0;
      row.querySelector("[data-grant-reduction]").textContent = "−" + euros(reduction);
    }
    totalNode.textContent = euros(subtotal + fee - reduction);
    var pay = document.querySelector("[data-pay-total]");
    if (pay) pay.textContent = "Pay " + euros(subtotal + fee - reduction);
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  function showGrantNote(text) {
    var note = document.querySelector("[data-grant-note]");
    if (!note) return;
    note.textContent = text;
    note.hidden = false;
  }

  /** The widget hands us a grant: our backend verifies and keeps it; then the page shows it. */
  function applyGrant(grant) {
    var cartId = document.body.getAttribute("data-cart-id");
    if (!grant || typeof grant.token !== "string" || !cartId || grant.cart_id !== cartId) return;
    var body = new FormData();
    body.append("token", grant.token);
    window
      .fetch(document.body.getAttribute("data-grant-url"), {
        method: "POST",
        body: body,
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok || !answer.applied) throw new Error(answer.detail || "HTTP " + response.status);
          return answer;
        });
      })
      .then(function (answer) {
        var row = document.querySelector("[data-grant-row]");
        if (row) {
          row.setAttribute("data-grant-kind", answer.kind);
          row.setAttribute("data-grant-amount", answer.amount || "");
          row.querySelector("[data-grant-label]").textContent = answer.label;
        }
        renderTotals();
        showGrantNote(answer.label ? answer.label + ": it is included in your total." : "Our agent's offer is applied.");
      })
      .catch(function (error) {
        showGrantNote("We could not apply our agent's offer: " + error.message);
      });
  }

  function setUpDeliveryChoice() {
    var radios = document.querySelectorAll("input[name=method][data-fee]");
    var subtotalNode = document.querySelector("[data-testid=subtotal]");
    if (!radios.length || !subtotalNode) return;
    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        var fee = radio.getAttribute("data-fee");
        var feeNode = document.querySelector("[data-delivery-fee]");
        if (feeNode) feeNode.textContent = euros(cents(fee));
        renderTotals();
        var country = document.querySelector("select[name=country]");
        var data = { currency: "EUR", fee: fee, method: radio.value };
        if (country && country.value) data.country = country.value;
        track({ type: "shipping_quoted", cart_id: document.body.getAttribute("data-cart-id"), data: data });
      });
    });
  }

  function setUpOptOut() {
    var button = document.querySelector("[data-opt-out]");
    var note = document.querySelector("[data-opted-out]");
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
    button.addEventListener("click", function () {
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
  window.addEventListener("cartassist:grant", function (event) {
    applyGrant(event.detail);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var cartId = document.body.getAttribute("data-cart-id");
    if (cartId) ca().setCart(cartId);
    (readJson("demo-page-events") || []).forEach(track);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-track-post]"), function (form) {
      form.addEventListener("submit", function (event) {
        postAndTrack(form, event);
      });
    });
    setUpDeliveryChoice();
    setUpOptOut();
  });
})();
