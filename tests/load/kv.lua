-- wrk -s tests/load/kv.lua http://127.0.0.1:8080            (GET a random key)
-- KV_METHOD=PUT wrk -s tests/load/kv.lua http://127.0.0.1:8080   (PUT 100 bytes to a random key)
-- Keys are k00000 … k09999: preload them with tests/load/kv_preload.sh first.
local method = os.getenv("KV_METHOD") or "GET"
local keys = tonumber(os.getenv("KV_KEYS") or "10000")
local value = string.rep("v", 100)

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local path = string.format("/kv/k%05d", math.random(0, keys - 1))
  if method == "PUT" then
    return wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, value)
  end
  return wrk.format("GET", path)
end
