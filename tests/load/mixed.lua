-- wrk -s tests/load/mixed.lua http://127.0.0.1:8080
-- Mixed traffic, per 100 requests: 50 /ping, 25 GET /kv, 10 PUT /kv, 8 /loop, 5 POST /hash
-- (16 KiB), 2 POST /passwords/hash. Keys are k00000 … k09999 (tests/load/kv_preload.sh).
local keys = tonumber(os.getenv("KV_KEYS") or "10000")
local value = string.rep("v", 100)
local small = string.rep("x", 16 * 1024)
local counter = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

local function key()
  return string.format("/kv/k%05d", math.random(0, keys - 1))
end

function request()
  counter = counter + 1
  local r = counter % 100
  if r < 50 then
    return wrk.format("GET", "/ping")
  elseif r < 75 then
    return wrk.format("GET", key())
  elseif r < 85 then
    return wrk.format("PUT", key(), {["Content-Type"] = "application/octet-stream"}, value)
  elseif r < 93 then
    return wrk.format("GET", "/loop")
  elseif r < 98 then
    return wrk.format("POST", "/hash?alg=sha256", {["Content-Type"] = "application/octet-stream"}, small)
  end
  return wrk.format("POST", "/passwords/hash", {["Content-Type"] = "application/json"},
                    '{"password":"correct horse battery"}')
end
