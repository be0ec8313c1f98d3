-- wrk script for Croupier's ingest benchmark. Every request carries fresh idempotency keys
-- (or, with REPLAY=1, every batch is sent twice), and each thread counts the per-event
-- statuses in the answers so the harness can check the store against them.
--
-- Environment: SCENARIO (dp_batch | rv_batch | dp_single | ft_casino | null),
-- BATCH (events per request), KEY, BRAND, REPLAY (0/1), RUN (a unique run tag).

local scenario = os.getenv("SCENARIO")
local batch = tonumber(os.getenv("BATCH") or "100")
local key = os.getenv("KEY")
local brand = os.getenv("BRAND") or ""
local replay = os.getenv("REPLAY") == "1"
local run = os.getenv("RUN") or "run"

local threads = {}
local counter = 0
-- Globals, so the main state can read them with thread:get() in done().
accepted, duplicate, failed, non200 = 0, 0, 0, 0

function setup(thread)
   -- becomes the global thread_id inside that thread's state
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

local function dp(id, n)
   return '{"client_user_id":"player_' .. (n % 5000) .. '","event_name":"deposit",' ..
      '"transaction_id":"' .. id .. '","timestamp":1702963200,"amount":50.00,' ..
      '"currency":"EUR","ip_address":"203.0.113.1","click_id":"clk_998877"}'
end

local function rv(id, n)
   return '{"event_type":"deposit","event_time":"2026-03-15T10:30:00Z","brand_id":"' ..
      brand .. '","player_external_ref":"player_' .. (n % 5000) .. '",' ..
      '"idempotency_key":"' .. id .. '","currency":"EUR","amount":50.00}'
end

local function ft(id, n)
   return '{"activity_id":"' .. id .. '","amount":5.0,"wager_amount":5.0,"currency":"EUR",' ..
      '"exchange_rate":1.0,"game_id":"1234","game_name":"Dead or Alive","game_type":"Slots",' ..
      '"is_round_end":false,"origin":"www.brand.com","round_id":"r' .. id .. '",' ..
      '"status":"Approved","timestamp":"2026-03-15T10:30:00Z","type":"Bet",' ..
      '"user_id":"' .. (n % 5000) .. '","vendor_id":"NE","vendor_name":"NetEnt"}'
end

local function events(make, first, n)
   local parts = {}
   for i = 1, batch do
      parts[i] = make(first .. "-" .. i, n + i)
   end
   return table.concat(parts, ",")
end

local paths = {
   dp_batch = "/v2/s2s/batch", rv_batch = "/api/v1/events", dp_single = "/v2/s2s/event",
   ft_casino = "/v1/integration/casino", null = "/_bench/null",
}
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = key}

function request()
   counter = counter + 1
   local n = counter
   if replay then n = math.floor((counter + 1) / 2) end
   local id = run .. "-" .. (thread_id or 0) .. "-" .. n
   local body
   if scenario == "dp_batch" or scenario == "null" then
      body = "[" .. events(dp, id, n) .. "]"
   elseif scenario == "rv_batch" then
      body = '{"events":[' .. events(rv, id, n) .. "]}"
   elseif scenario == "dp_single" then
      body = dp(id, n)
   else
      body = ft(id, n)
   end
   return wrk.format("POST", paths[scenario], headers, body)
end

local function count(body, word)
   local _, found = string.gsub(body, '"status":"' .. word .. '"', "")
   return found
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      return
   end
   -- A batch's answer opens with its summary: reading it, rather than scanning every
   -- result four times, took wrk's CPU for a 100-event answer from ~170 to a few µs.
   local a, d, e = string.match(body, '^{"summary":{"total":%d+,"accepted":(%d+),' ..
      '"duplicates":(%d+),"errors":(%d+)}')
   if a then
      accepted = accepted + tonumber(a)
      duplicate = duplicate + tonumber(d)
      failed = failed + tonumber(e)
      return
   end
   accepted = accepted + count(body, "accepted")
   duplicate = duplicate + count(body, "duplicate")
   failed = failed + count(body, "rejected") + count(body, "conflict")
end

function done(summary, latency, requests)
   local totals = {accepted = 0, duplicate = 0, failed = 0, non200 = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + (tonumber(thread:get(name)) or 0)
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"socket_errors":%d,"status_errors":%d,"timeouts":%d,"accepted":%d,' ..
      '"duplicate":%d,"failed":%d,"non200":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
      latency:percentile(99), latency.max,
      errors.connect + errors.read + errors.write, errors.status, errors.timeout,
      totals.accepted, totals.duplicate, totals.failed, totals.non200))
end
