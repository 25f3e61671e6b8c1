// CartAssist native discounts on Shopify and WooCommerce (docs/integrations/).
// Load after the widget (cartassist.js) on every storefront page:
//   <script src="https://cartassist.example/static/integrations/native-discount.js"
//           data-site-key="pk_…" async></script>
// 1. Passes the widget's cart and visitor ids on to the order, so that the platform's
//    webhooks name the same cart as the widget: on Shopify as cart attributes (Shopify
//    copies them onto the checkout and the order), elsewhere (WooCommerce) as first-party
//    cookies that the shop's checkout stores as order meta (docs step 5).
// 2. When the shopper accepts an offer (the widget's "cartassist:grant" event), asks
//    CartAssist for the grant's native discount code and, once the platform created it,
//    sends the shopper to the link that applies it and opens checkout.

(() => {
  const script = document.currentScript;
  const siteKey = script && script.dataset.siteKey;
  const apiBase = script ? new URL(script.src).origin : "";
  const seen = new Set();

  function storedId(name) {
    try {
      return window.localStorage.getItem(`cartassist:v1:${name}`) || "";
    } catch (error) {
      return "";
    }
  }

  function passIdsOn() {
    const attributes = {
      cartassist_visitor_id: storedId("visitor"),
      cartassist_cart_id: storedId("cart"),
    };
    if (!attributes.cartassist_visitor_id) return;
    if (!window.Shopify) {
      document.cookie = `cartassist_visitor=${encodeURIComponent(attributes.cartassist_visitor_id)}; path=/; SameSite=Lax`;
      document.cookie = `cartassist_cart=${encodeURIComponent(attributes.cartassist_cart_id)}; path=/; SameSite=Lax`;
      return;
    }
    fetch("/cart/update.js", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ attributes }),
    }).catch(() => {});
  }

  async function discountFor(token, attempt) {
    const response = await fetch(`${apiBase}/api/v1/integrations/discount`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ site_key: siteKey, token }),
    });
    if (response.status === 202 && attempt < 10) {
      await new Promise((resolve) => setTimeout(resolve, 1000 + attempt * 500));
      return discountFor(token, attempt + 1);
    }
    return response.ok ? response.json() : null;
  }

  window.addEventListener("cartassist:grant", async (event) => {
    const grant = event.detail;
    if (!grant || !grant.token || seen.has(grant.token) || !siteKey) return;
    seen.add(grant.token);
    const discount = await discountFor(grant.token, 0).catch(() => null);
    if (discount && discount.url && discount.status === "created") {
      window.location.assign(discount.url);
    }
  });

  // Once the widget has its ids (it loads async): after the page's load event.
  if (document.readyState === "complete") {
    passIdsOn();
  } else {
    window.addEventListener("load", passIdsOn);
  }
})();
