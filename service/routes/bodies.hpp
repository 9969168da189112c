// The JSON bodies of POST /passwords/hash, /passwords/verify and /users, read and checked
// before any pool is involved: each function returns the fields or throws the route's
// 4xx http_error. Plain functions, so the fuzzer can drive them without a server.
#pragma once

#include "steadyloop/http/message.hpp"
#include "steadyloop/jobs/password.hpp"

#include <string>
#include <string_view>

namespace steadyloop::service {

inline constexpr std::size_t max_password = 1024;

// 3 to 64 of A-Z a-z 0-9 _ . -
bool valid_username(std::string_view name);

struct password_hash_body {
    std::string password;
};
// {"password":"…"} (1–1024 bytes).
password_hash_body read_password_hash_body(http::request const& req);

struct password_verify_body {
    std::string password;
    std::string hash;
};
// {"password":"…","hash":"$argon2id$…"}: the hash must be one this service accepts under
// `limits` (jobs::plausible_argon2id), else 400.
password_verify_body read_password_verify_body(http::request const& req, jobs::argon2_params const& limits);

struct new_user_body {
    std::string username;
    std::string password;
};
// {"username":"…","password":"…"}: a valid username, a password of 1–1024 bytes.
new_user_body read_new_user_body(http::request const& req);

}  // namespace steadyloop::service
