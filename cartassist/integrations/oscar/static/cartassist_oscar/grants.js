// CartAssist for Oscar: hands an accepted grant from the widget to the shop's backend.
// The widget fires "cartassist:grant" (docs/WIDGET.md §14) on this page and again on
// later pages while the grant is unused; the backend verifies it with CartAssist, turns
// it into an Oscar voucher on this basket, and this script reloads the page once so that
// Oscar's totals show it. Result for the page: "cartassist-oscar:grant" on window, with
// the backend's answer as detail ({applied, added, voucher_code, …} or {code, detail}).
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !window.fetch) return;
  const applyUrl = script.getAttribute("data-apply-url");
  const csrfToken = script.getAttribute("data-csrf-token");
  const handled = {};

  const announce = (detail) => {
    window.dispatchEvent(new CustomEvent("cartassist-oscar:grant", { detail }));
  };

  const apply = (grant) => {
    if (!grant || !grant.token || handled[grant.token]) return;
    handled[grant.token] = true;
    fetch(applyUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ token: grant.token }),
    })
      .then((response) =>
        response.json().then((body) => {
          body.status = response.status;
          return body;
        }),
      )
      .then((body) => {
        announce(body);
        if (body.applied && body.added) window.location.reload();
      })
      .catch((error) => {
        handled[grant.token] = false;
        announce({ applied: false, code: "network", detail: String(error) });
      });
  };

  window.addEventListener("cartassist:grant", (event) => {
    apply(event.detail);
  });

  // The chat panel sits over the bottom of the page (a full-width sheet on phones), where
  // Oscar's checkout has its buttons ("Place order"). Reserve that much room below the
  // page, so the shopper can always scroll the buttons above the panel.
  const reserveRoom = () => {
    const host = document.getElementById("cartassist-chat");
    if (!host || !window.ResizeObserver) return Boolean(host);
    new ResizeObserver(() => {
      const height = Math.ceil(host.getBoundingClientRect().height);
      document.body.style.paddingBottom = height ? height + 16 + "px" : "";
    }).observe(host);
    return true;
  };
  if (!reserveRoom()) {
    const watcher = new MutationObserver(() => {
      if (reserveRoom()) watcher.disconnect();
    });
    watcher.observe(document.documentElement, { childList: true, subtree: true });
  }
})();
