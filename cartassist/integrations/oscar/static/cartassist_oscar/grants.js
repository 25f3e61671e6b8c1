// CartAssist for Oscar: hands an accepted grant from the widget to the shop's backend.
// The widget fires "cartassist:grant" (docs/WIDGET.md §14) on this page and again on
// later pages while the grant is unused; the backend verifies it with CartAssist, turns
// it into an Oscar voucher on this basket, and this script reloads the page once so that
// Oscar's totals show it. Result for the page: "cartassist-oscar:grant" on window, with
// the backend's answer as detail ({applied, added, voucher_code, …} or {code, detail}).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var applyUrl = script.getAttribute("data-apply-url");
  var csrfToken = script.getAttribute("data-csrf-token");
  var handled = {};

  function announce(detail) {
    window.dispatchEvent(new CustomEvent("cartassist-oscar:grant", { detail: detail }));
  }

  function apply(grant) {
    if (!grant || !grant.token || handled[grant.token]) return;
    handled[grant.token] = true;
    fetch(applyUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ token: grant.token }),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          body.status = response.status;
          return body;
        });
      })
      .then(function (body) {
        announce(body);
        if (body.applied && body.added) window.location.reload();
      })
      .catch(function (error) {
        handled[grant.token] = false;
        announce({ applied: false, code: "network", detail: String(error) });
      });
  }

  window.addEventListener("cartassist:grant", function (event) {
    apply(event.detail);
  });
})();
