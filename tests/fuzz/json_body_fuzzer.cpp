// The JSON bodies of POST /passwords/hash, /passwords/verify and /users, read by the very
// functions the routes call (service/routes/bodies.cpp), with any Content-Type.
// Invariants: a refusal is 400 bad_request or 415 unsupported_media_type (415 exactly when
// a Content-Type is given and is not JSON) and its problem document is valid JSON; an
// accepted body's fields are what a plain JSON parse finds, within their lengths; a hash
// accepted as Argon2id is one libsodium can read (verify_password answers match or
// mismatch, never an error).
#include "fuzz_check.hpp"

#include "bodies.hpp"

#include "steadyloop/http/error.hpp"
#include "steadyloop/jobs/password.hpp"

#include <boost/json/parse.hpp>

#include <fuzzer/FuzzedDataProvider.h>
#include <sodium.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

namespace http = steadyloop::http;
namespace jobs = steadyloop::jobs;
namespace service = steadyloop::service;

namespace {

// The service's default Argon2id cost (service/config.hpp): the verify route's limits.
constexpr jobs::argon2_params limits{19456, 2};

bool json_content_type(std::string_view ct)
{
    if (ct.empty())
        return true;  // no Content-Type is taken as JSON
    std::string lower;
    for (char c : ct.substr(0, ct.find(';')))
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    while (!lower.empty() && lower.back() == ' ')
        lower.pop_back();
    return lower == "application/json" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

// The string a plain parse of the body finds under `name`.
std::string field_of(std::string const& body, char const* name)
{
    auto v = boost::json::parse(body);
    return std::string(v.as_object().at(name).as_string());
}

// A hash the verify route accepts must be one libsodium reads, or the worker's
// verify_password would fail (500) instead of answering valid or not. It runs at the
// hash's own cost, so it is run here on the same hash at Argon2id's lowest cost (the
// cost numbers are the only part changed). needs_rehash, which parses without hashing,
// must read it too (below its 128-byte limit).
void check_plausible(std::string const& hash)
{
    if (!jobs::plausible_argon2id(hash, limits))
        return;
    FUZZ_CHECK(hash.size() <= 512 && hash.find('\0') == std::string::npos);
    auto const rest = hash.find(",p=1$");
    FUZZ_CHECK(rest != std::string::npos);
    std::string const cheap = "$argon2id$v=19$m=8,t=1,p=1$" + hash.substr(rest + 5);
    try {
        auto verdict = jobs::verify_password("password", cheap, limits);
        FUZZ_CHECK(verdict != jobs::verify_result::malformed, "%s is plausible, its cheap twin is not", hash.c_str());
    } catch (std::exception const& e) {
        FUZZ_CHECK(false, "verify_password fails on a plausible hash (%s): %s", e.what(), cheap.c_str());
    }
    if (hash.size() < crypto_pwhash_argon2id_STRBYTES) {
        int const parsed = crypto_pwhash_argon2id_str_needs_rehash(hash.c_str(), limits.iterations,
                                                                   std::size_t{limits.memory_kib} * 1024);
        FUZZ_CHECK(parsed != -1, "plausible_argon2id accepts a hash libsodium cannot read: %s", hash.c_str());
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    if (sodium_init() < 0)
        return 1;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    int const route = in.ConsumeIntegralInRange(0, 3);
    std::string content_type;
    switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: break;
    case 1: content_type = "application/json"; break;
    case 2: content_type = in.PickValueInArray({"application/json; charset=utf-8", "application/problem+json",
                                                "APPLICATION/JSON", "text/plain", "application/jsonx"});
        break;
    default: content_type = in.ConsumeRandomLengthString(300); break;
    }
    std::string body = in.ConsumeRemainingBytesAsString();

    if (route == 3) {
        // The hash parser alone, on any bytes.
        check_plausible(body);
        return 0;
    }

    http::request req{http::verb::post, "/", 11};
    if (!content_type.empty()) {
        // Beast refuses some bytes in a field value; a request could not carry those.
        try {
            req.set(http::bhttp::field::content_type, content_type);
        } catch (std::exception const&) {
            return 0;
        }
        content_type = std::string(req[http::bhttp::field::content_type]);
    }
    req.body() = body;

    try {
        switch (route) {
        case 0: {
            auto b = service::read_password_hash_body(req);
            FUZZ_CHECK(!b.password.empty() && b.password.size() <= service::max_password);
            FUZZ_CHECK(b.password == field_of(body, "password"));
            break;
        }
        case 1: {
            auto b = service::read_password_verify_body(req, limits);
            FUZZ_CHECK(!b.password.empty() && b.password.size() <= service::max_password);
            FUZZ_CHECK(b.password == field_of(body, "password") && b.hash == field_of(body, "hash"));
            FUZZ_CHECK(jobs::plausible_argon2id(b.hash, limits));
            check_plausible(b.hash);
            break;
        }
        default: {
            auto b = service::read_new_user_body(req);
            FUZZ_CHECK(service::valid_username(b.username) && b.username.size() >= 3 && b.username.size() <= 64);
            FUZZ_CHECK(!b.password.empty() && b.password.size() <= service::max_password);
            FUZZ_CHECK(b.username == field_of(body, "username") && b.password == field_of(body, "password"));
            break;
        }
        }
        FUZZ_CHECK(json_content_type(content_type), "a body with Content-Type '%s' was read as JSON",
                   content_type.c_str());
    } catch (http::http_error const& e) {
        bool const media = e.status_code() == http::status::unsupported_media_type;
        FUZZ_CHECK((e.status_code() == http::status::bad_request && e.code() == "bad_request") ||
                       (media && e.code() == "unsupported_media_type"),
                   "a body refused with %u %s", static_cast<unsigned>(e.status_code()), e.code().c_str());
        FUZZ_CHECK(media == !json_content_type(content_type), "Content-Type '%s' answered %u", content_type.c_str(),
                   static_cast<unsigned>(e.status_code()));
        // The answer is a problem document: one JSON object with the status and code.
        auto res = e.to_response();
        boost::system::error_code ec;
        auto doc = boost::json::parse(res.body(), ec);
        FUZZ_CHECK(!ec && doc.is_object(), "the problem document is not JSON (%s): %s", ec.message().c_str(),
                   res.body().c_str());
        FUZZ_CHECK(doc.as_object().at("code").as_string() == e.code());
        FUZZ_CHECK(doc.as_object().at("status").to_number<unsigned>() == static_cast<unsigned>(e.status_code()));
    }
    return 0;
}
