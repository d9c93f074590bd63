-- bench/api.py's workload for wrk: users with their own tokens doing what API
-- clients do. Run with one connection per thread (-t N -c N): each thread then
-- has one request in flight, so a response belongs to the last request sent,
-- and its latency is timed here per kind and status.
--
-- Environment: BENCH_API_USERS, a Lua file returning the users
-- ({token = "...", alerts = {ids}}); BENCH_API_LATENCIES, where done() writes
-- one "kind status milliseconds" line per answer; BENCH_API_RATE, requests a
-- second offered by all connections together (0: each sends its next
-- request as soon as it has the answer).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

-- What a user does next, by weight (percent): mostly reads, a list asked
-- again with If-None-Match once the client has its ETag, a tenth writes.
local KINDS = {
    {"coins", 25}, {"alerts", 35}, {"detail", 18}, {"events", 12},
    {"create", 4}, {"pause", 6},
}
local PAGE_SIZES = {25, 50, 100}
local COINS = 25  -- alerts are created on the tracked coins coin-1 .. coin-25

local threads = {}
local thread_count = 0

function setup(thread)
    thread:set("thread_index", thread_count)
    thread_count = thread_count + 1
    table.insert(threads, thread)
end

local users = {}
local interval_ms, next_at = 0, nil
local turn = 1
local pending
-- Per answer, flat (cheap to copy out in done()).
kinds, statuses, latencies, answers = {}, {}, {}, 0

function init(args)
    local all = dofile(os.getenv("BENCH_API_USERS"))
    local every = tonumber(args[1])
    for i, user in ipairs(all) do
        if (i - 1) % every == thread_index then
            -- Each client reads its alerts in pages of its own size.
            user.etags, user.paused = {}, {}
            user.page_size = PAGE_SIZES[(i - 1) % #PAGE_SIZES + 1]
            table.insert(users, user)
        end
    end
    math.randomseed(thread_index + 1)
    local rate = tonumber(os.getenv("BENCH_API_RATE") or "0")
    if rate > 0 then interval_ms = every * 1000 / rate end
end

-- At a fixed rate per connection, each at its own phase (not all 50 at once):
-- wait for the next slot, or none when late.
function delay()
    if interval_ms == 0 then return 0 end
    local now = now_ms()
    next_at = math.max((next_at or now + math.random() * interval_ms) + interval_ms, now)
    return next_at - now
end

local function pick_kind()
    local total = 0
    for _, kind in ipairs(KINDS) do total = total + kind[2] end
    local r = math.random() * total
    for _, kind in ipairs(KINDS) do
        r = r - kind[2]
        if r <= 0 then return kind[1] end
    end
    return KINDS[1][1]
end

local function any_alert(user)
    return user.alerts[math.random(#user.alerts)]
end

function request()
    local user = users[turn]
    turn = turn % #users + 1
    local kind = pick_kind()
    local headers = {Authorization = "Token " .. user.token}
    local method, path, body = "GET", nil, nil
    if kind == "coins" then
        path = "/api/v1/coins/"
    elseif kind == "alerts" then
        -- Mostly the first page; now and then another one.
        local size = user.page_size
        local pages = math.max(1, math.ceil(#user.alerts / size))
        local page = math.random() < 0.75 and 1 or math.random(pages)
        path = "/api/v1/alerts/?page_size=" .. size .. "&page=" .. page
    elseif kind == "detail" then
        path = "/api/v1/alerts/" .. any_alert(user) .. "/"
    elseif kind == "events" then
        path = "/api/v1/alerts/" .. any_alert(user) .. "/events/"
    elseif kind == "create" then
        method, path = "POST", "/api/v1/alerts/"
        headers["Content-Type"] = "application/json"
        body = string.format(
            '{"coin": "coin-%d", "condition": "above", "target": "%d", "channels": ["in_app"]}',
            math.random(COINS), math.random(1000, 9000)
        )
    else  -- pause, or resume what this user paused before
        local id = any_alert(user)
        local action = user.paused[id] and "resume" or "pause"
        user.paused[id] = not user.paused[id]
        method, path = "POST", "/api/v1/alerts/" .. id .. "/" .. action .. "/"
    end
    local etag = user.etags[path]
    if etag then
        headers["If-None-Match"] = etag
    end
    pending = {kind = kind, user = user, path = path, started = now_ms()}
    return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
    local sent = pending
    if sent == nil then return end
    pending = nil
    answers = answers + 1
    kinds[answers] = sent.kind
    statuses[answers] = status
    latencies[answers] = now_ms() - sent.started
    if status == 200 and (sent.kind == "coins" or sent.kind == "alerts") then
        sent.user.etags[sent.path] = headers["ETag"] or headers["etag"]
    elseif status == 201 then
        local id = body:match('"id":(%d+)')
        if id then table.insert(sent.user.alerts, tonumber(id)) end
    end
end

function done(summary, latency, requests)
    local out = assert(io.open(os.getenv("BENCH_API_LATENCIES"), "w"))
    for _, thread in ipairs(threads) do
        local n = thread:get("answers")
        local k, s, l = thread:get("kinds"), thread:get("statuses"), thread:get("latencies")
        for i = 1, n do
            out:write(k[i], " ", s[i], " ", string.format("%.3f", l[i]), "\n")
        end
    end
    out:close()
end
