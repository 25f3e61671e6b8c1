-- wrk script: POST batches of cart events with unique event ids, spread over many carts.
--
-- wrk -t1 -c8 -d8s -s bench/wrk/events.lua http://127.0.0.1:PORT/PATH -- \
--     KIND EVENTS_PER_REQUEST CARTS RUN_ID SITE_KEY SECRET ORIGIN [CART_PREFIX]
--
-- KIND: "widget" (text/plain body with site_key, Origin header), "server" (signed with
-- HMAC-SHA256 over "<timestamp>.<body>", as docs/API.md describes), or "bare" /
-- "bare-insert" (the widget body as application/json, for bench/urls.py's floors).
-- A batch is a checkout journey of five events per cart (cart updated, contact, shipping,
-- shipping quoted, payment); a single-event request takes the next step of a random cart.
-- Carts are named c<CART_PREFIX>-<1..CARTS>: CART_PREFIX defaults to RUN_ID (new carts,
-- mostly first events); "steady" names the carts bench.prepare created beforehand (events
-- for carts that exist). Event ids always carry RUN_ID, so every event is new.
-- done() prints one line "BENCH_RESULT {json}" that bench/ingest.py reads.

local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit, tohex = bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex

-- SHA-256 (FIPS 180-4) and HMAC (RFC 2104) in LuaJIT, for the signed server endpoint.
local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function sha256_words(msg)
  local len = #msg
  local bits = len * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - len) % 64) .. "\0\0\0\0"
    .. string.char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255),
                   band(rshift(bits, 8), 255), band(bits, 255))
  local h0, h1, h2, h3 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a
  local h4, h5, h6, h7 = 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  local w = {}
  for i = 1, #msg, 64 do
    for j = 0, 15 do
      local b1, b2, b3, b4 = msg:byte(i + j * 4, i + j * 4 + 3)
      w[j] = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
    end
    for j = 16, 63 do
      local x, y = w[j - 15], w[j - 2]
      local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
      local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
      w[j] = tobit(w[j - 16] + s0 + w[j - 7] + s1)
    end
    local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
    for j = 0, 63 do
      local s1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = h + s1 + ch + K[j + 1] + w[j]
      local s0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      h, g, f, e = g, f, e, tobit(d + t1)
      d, c, b, a = c, b, a, tobit(t1 + s0 + maj)
    end
    h0, h1, h2, h3 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d)
    h4, h5, h6, h7 = tobit(h4 + e), tobit(h5 + f), tobit(h6 + g), tobit(h7 + h)
  end
  return { h0, h1, h2, h3, h4, h5, h6, h7 }
end

local function words_to_bytes(words)
  local out = {}
  for i, x in ipairs(words) do
    out[i] = string.char(band(rshift(x, 24), 255), band(rshift(x, 16), 255),
                         band(rshift(x, 8), 255), band(x, 255))
  end
  return table.concat(out)
end

local function words_to_hex(words)
  local out = {}
  for i, x in ipairs(words) do
    out[i] = tohex(x, 8)
  end
  return table.concat(out)
end

local function hmac_sha256_hex(key, msg)
  if #key > 64 then
    key = words_to_bytes(sha256_words(key))
  end
  key = key .. string.rep("\0", 64 - #key)
  local ipad, opad = {}, {}
  for i = 1, 64 do
    local k = key:byte(i)
    ipad[i] = string.char(bxor(k, 0x36))
    opad[i] = string.char(bxor(k, 0x5c))
  end
  local inner = words_to_bytes(sha256_words(table.concat(ipad) .. msg))
  return words_to_hex(sha256_words(table.concat(opad) .. inner))
end

-- Event bodies -------------------------------------------------------------------------

local JOURNEY = {
  { "cart_updated", '{"currency":"EUR","subtotal":"60.00","lines":[{"sku":"MUG-1",'
    .. '"name":"Mug","quantity":2,"unit_price":"30.00","category":"kitchen"}]}' },
  { "checkout_step", '{"step":"contact"}' },
  { "checkout_step", '{"step":"shipping"}' },
  { "shipping_quoted", '{"currency":"EUR","fee":"14.90","method":"express"}' },
  { "checkout_step", '{"step":"payment"}' },
}

local kind, per_request, carts, run_id, site_key, secret, origin, cart_prefix
local counter = 0

function init(args)
  kind = args[1]
  per_request = tonumber(args[2])
  carts = tonumber(args[3])
  run_id = args[4]
  site_key = args[5]
  secret = args[6]
  origin = args[7]
  cart_prefix = args[8] or run_id
  math.randomseed(os.time() + tonumber(run_id:match("%d+") or "0"))
  if os.getenv("BENCH_DEBUG") == "1" then
    -- Defining response() makes wrk parse every answer: only when debugging.
    local shown = 0
    response = function(status, headers, body)
      if status >= 300 and shown < 3 then
        shown = shown + 1
        io.stderr:write("HTTP " .. status .. ": " .. body .. "\n")
      end
    end
  end
end

local function event_json(id, step, cart, occurred_at)
  local kind_and_data = JOURNEY[step]
  return '{"id":"' .. id .. '","type":"' .. kind_and_data[1] .. '","occurred_at":"'
    .. occurred_at .. '","cart_id":"c' .. cart_prefix .. "-" .. cart .. '","visitor_id":"v'
    .. cart_prefix .. "-" .. cart .. '","data":' .. kind_and_data[2] .. "}"
end

local function events_json(n, occurred_at)
  counter = counter + 1
  local out = {}
  if n == 1 then
    out[1] = event_json(run_id .. "-" .. counter, counter % 5 + 1, math.random(carts), occurred_at)
  else
    local cart = 0
    for i = 1, n do
      local step = (i - 1) % 5 + 1
      if step == 1 then
        cart = math.random(carts)
      end
      out[i] = event_json(run_id .. "-" .. counter .. "-" .. i, step, cart, occurred_at)
    end
  end
  return "[" .. table.concat(out, ",") .. "]"
end

function request()
  local now = os.time()
  local occurred_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now)
  local events = events_json(per_request, occurred_at)
  if kind == "server" then
    local body = '{"events":' .. events .. "}"
    local timestamp = tostring(now)
    return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["X-CartAssist-Key"] = site_key,
      ["X-CartAssist-Timestamp"] = timestamp,
      ["X-CartAssist-Signature"] = "v1=" .. hmac_sha256_hex(secret, timestamp .. "." .. body),
    }, body)
  end
  local body = '{"site_key":"' .. site_key .. '","events":' .. events .. "}"
  if kind == "widget" then
    return wrk.format("POST", nil, {
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["Origin"] = origin,
    }, body)
  end
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
