#include "bodies.hpp"

#include "steadyloop/http/json_body.hpp"

namespace steadyloop::service {

bool valid_username(std::string_view name)
{
    if (name.size() < 3 || name.size() > 64)
        return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

password_hash_body read_password_hash_body(http::request const& req)
{
    auto body = http::json_body(req);
    return {http::string_field(body, "password", 1, max_password)};
}

password_verify_body read_password_verify_body(http::request const& req, jobs::argon2_params const& limits)
{
    auto body = http::json_body(req);
    auto password = http::string_field(body, "password", 1, max_password);
    auto hash = http::string_field(body, "hash", 1, 512);
    // Parsing the hash is cheap and decides 400 before a worker is involved; the
    // parameter limits also keep a hostile hash from asking for gigabytes or hours.
    if (!jobs::plausible_argon2id(hash, limits))
        throw http::bad_request("field 'hash' is not an Argon2id hash this service accepts");
    return {std::move(password), std::move(hash)};
}

new_user_body read_new_user_body(http::request const& req)
{
    auto body = http::json_body(req);
    auto username = http::string_field(body, "username", 3, 64);
    if (!valid_username(username))
        throw http::bad_request("field 'username' must be 3 to 64 of A-Z a-z 0-9 _ . -");
    auto password = http::string_field(body, "password", 1, max_password);
    return {std::move(username), std::move(password)};
}

}  // namespace steadyloop::service
