-- wrk -s tests/load/password_hash.lua http://127.0.0.1:8080
-- POST /passwords/hash with a JSON body: keeps every worker busy with Argon2id.
wrk.method = "POST"
wrk.path = "/passwords/hash"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"password":"correct horse battery staple"}'
