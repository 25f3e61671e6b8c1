/*! CartAssist storefront widget, live chat: what the tab keeps in sessionStorage. */

function safe(fn) {
  try {
    return fn();
  } catch (ignored) {
    return null;
  }
}

// ------------------------------------------------------------ store
// The open conversation, its cached messages and unsent ones, in sessionStorage:
// per tab, so the conversation follows the shopper from page to page of the shop.
export function createStore(siteKey) {
  const PREFIX = "cartassist:v1:chat:" + siteKey + ":";
  let session = null;
  const memory = {};
  try {
    session = window.sessionStorage;
    session.setItem(PREFIX + "probe", "1");
    session.removeItem(PREFIX + "probe");
  } catch (ignored) {
    session = null;
  }
  function get(name) {
    const raw = session ? safe(() => { return session.getItem(PREFIX + name); }) : memory[name];
    if (raw === null || raw === undefined) return null;
    try {
      return JSON.parse(raw);
    } catch (ignored) {
      return null;
    }
  }
  function set(name, value) {
    const raw = JSON.stringify(value);
    if (session && safe(() => { session.setItem(PREFIX + name, raw); return true; })) return;
    memory[name] = raw;
  }
  function remove(name) {
    delete memory[name];
    if (session) safe(() => { session.removeItem(PREFIX + name); });
  }
  return { get, set, remove };
}
