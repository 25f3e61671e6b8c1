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
  var PREFIX = "cartassist:v1:chat:" + siteKey + ":";
  var session = null;
  var memory = {};
  try {
    session = window.sessionStorage;
    session.setItem(PREFIX + "probe", "1");
    session.removeItem(PREFIX + "probe");
  } catch (ignored) {
    session = null;
  }
  function get(name) {
    var raw = session ? safe(function () { return session.getItem(PREFIX + name); }) : memory[name];
    if (raw === null || raw === undefined) return null;
    try {
      return JSON.parse(raw);
    } catch (ignored) {
      return null;
    }
  }
  function set(name, value) {
    var raw = JSON.stringify(value);
    if (session && safe(function () { session.setItem(PREFIX + name, raw); return true; })) return;
    memory[name] = raw;
  }
  function remove(name) {
    delete memory[name];
    if (session) safe(function () { session.removeItem(PREFIX + name); });
  }
  return { get: get, set: set, remove: remove };
}
