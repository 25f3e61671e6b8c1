/* global analytics, browser, init */
// CartAssist custom pixel for Shopify checkout (docs/integrations/shopify.md, step 5).
// Paste into Shopify admin → Settings → Customer events → Add custom pixel, then set the
// two constants. It forwards three standard events to CartAssist:
//   checkout_shipping_info_submitted → checkout step "shipping", the lines and the delivery charge
//   payment_info_submitted           → checkout step "payment"
//   alert_displayed                  → a rejected discount code, or a payment problem
// Shopify runs custom pixels in a sandbox: their requests carry "Origin: null", which this
// intake accepts; CartAssist checks the page's own origin inside the event instead.
const CARTASSIST_URL = "https://cartassist.example"; // your CartAssist address
const SITE_KEY = "pk_…"; // the site's public key (admin → Sites)

const EVENTS = ["checkout_shipping_info_submitted", "payment_info_submitted", "alert_displayed"];
// An alert carries no checkout: remember the token of the last one seen.
let checkoutToken = (init && init.data && init.data.checkout && init.data.checkout.token) || "";

async function visitorId() {
  // The storefront widget's visitor id (docs/WIDGET.md, section 8), when the shopper came
  // through the theme: the pixel reads the shop's localStorage through browser.localStorage.
  try {
    return (await browser.localStorage.getItem("cartassist:v1:visitor")) || "";
  } catch (error) {
    return "";
  }
}

EVENTS.forEach((name) => {
  analytics.subscribe(name, async (event) => {
    const checkout = event.data && event.data.checkout;
    if (checkout && checkout.token) checkoutToken = checkout.token;
    const body = JSON.stringify({
      site_key: SITE_KEY,
      event,
      cart_id: checkoutToken || undefined,
      visitor_id: (await visitorId()) || undefined,
    });
    // text/plain and no-cors: a "simple" request, no preflight; the answer is not needed.
    fetch(`${CARTASSIST_URL}/api/v1/integrations/shopify/pixel`, {
      method: "POST",
      mode: "no-cors",
      keepalive: true,
      headers: { "Content-Type": "text/plain" },
      body,
    });
  });
});
