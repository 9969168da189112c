-- wrk -s tests/load/hash.lua http://127.0.0.1:8080
-- POST /hash?alg=sha256 with a body of $HASH_BYTES bytes (default 1 MiB).
local size = tonumber(os.getenv("HASH_BYTES") or tostring(1024 * 1024))
wrk.method = "POST"
wrk.path = "/hash?alg=" .. (os.getenv("HASH_ALG") or "sha256")
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("0123456789abcdef", math.ceil(size / 16)):sub(1, size)
