-- wrk -s tests/load/login.lua http://127.0.0.1:8080
-- POST /login for user "bench" (create it first:
--   curl -s -H 'Content-Type: application/json' -d '{"username":"bench","password":"correct horse"}' $URL/users)
wrk.method = "POST"
wrk.path = "/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"correct horse"}'
