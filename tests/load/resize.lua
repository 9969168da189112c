-- wrk -s tests/load/resize.lua http://127.0.0.1:8080
-- POST /images/resize with a JPEG read from $IMAGE (default /tmp/steadyloop-photo.jpg;
-- make one with build/<preset>/tests/load/make_image 4000 3000 /tmp/steadyloop-photo.jpg: a
-- photo-like JPEG of about 2 bits per pixel, 3 MB for 12 megapixels).
-- The query comes from $RESIZE_QUERY (default width=256&format=jpeg).
local path = os.getenv("IMAGE") or "/tmp/steadyloop-photo.jpg"
local f = assert(io.open(path, "rb"), "cannot read " .. path)
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/images/resize?" .. (os.getenv("RESIZE_QUERY") or "width=256&format=jpeg")
wrk.headers["Content-Type"] = "image/jpeg"
