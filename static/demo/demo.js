/* The demo shop's own script: what any shop writes to report its cart to CartAssist.
 *
 * - Events that a page *is* (a checkout step, the delivery charge it quotes) come from
 *   the server in <script id="demo-page-events"> and are tracked on load.
 * - Forms marked data-track-post are posted with fetch; the server answers
 *   {"redirect": url, "track": [events]}; we track the events, then follow the redirect.
 * - Picking another delivery method re-quotes the charge without a round trip.
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

  function setUpDeliveryChoice() {
    var radios = document.querySelectorAll("input[name=method][data-fee]");
    var subtotalNode = document.querySelector("[data-testid=subtotal]");
    if (!radios.length || !subtotalNode) return;
    var subtotal = cents(subtotalNode.textContent.replace("€", ""));
    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        var fee = radio.getAttribute("data-fee");
        var feeNode = document.querySelector("[data-delivery-fee]");
        var totalNode = document.querySelector("[data-total]");
        if (feeNode) feeNode.textContent = euros(cents(fee));
        if (totalNode) totalNode.textContent = euros(subtotal + cents(fee));
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
