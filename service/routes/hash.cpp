// POST /hash, /passwords/hash, /passwords/verify: CPU work, all of it in the worker pool.
#include "../app.hpp"

#include "bodies.hpp"

#include "steadyloop/jobs/digest.hpp"
#include "steadyloop/jobs/password.hpp"

#include <boost/json/object.hpp>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;
using http::status;
using http::verb;

namespace {

constexpr std::size_t json_body_limit = 16 * 1024;

boost::json::object argon2_params(app const& a)
{
    return {{"m", a.cfg.argon2_memory_kib}, {"t", a.cfg.argon2_iterations}};
}

}  // namespace

void add_hash_routes(http::router& r, app& a)
{
    // POST /hash?alg=sha256 — digest of the raw body.
    r.add(verb::post, "/hash", [](request& req, context& ctx) -> awaitable<response> {
        auto alg = std::string(ctx.query.one_of("alg", {"sha256", "sha512", "sha3-256", "blake2b-512"}, "sha256"));
        auto const& body = req.body();
        std::span<std::byte const> data{reinterpret_cast<std::byte const*>(body.data()), body.size()};
        pools::worker_job job{"digest", {{"alg", alg}}, data};
        auto out = co_await ctx.workers.run(std::move(job));
        co_return http::json(status::ok, boost::json::object{{"alg", alg},
                                                             {"digest", out.meta.at("digest")},
                                                             {"bytes", body.size()}});
    }, http::route_options{.body_limit = a.cfg.max_hash_body});

    // POST /passwords/hash {"password":"…"} — an Argon2id hash with a fresh salt.
    r.add(verb::post, "/passwords/hash", [&a](request& req, context& ctx) -> awaitable<response> {
        auto body = read_password_hash_body(req);
        auto params = argon2_params(a);
        params["password"] = std::move(body.password);
        pools::worker_job job{"password_hash", std::move(params), {}};
        auto out = co_await ctx.workers.run(std::move(job));
        co_return http::json(status::ok, boost::json::object{{"hash", out.meta.at("hash")}});
    }, http::route_options{.body_limit = json_body_limit});

    // POST /passwords/verify {"password":"…","hash":"$argon2id$…"} — constant-time check.
    r.add(verb::post, "/passwords/verify", [&a](request& req, context& ctx) -> awaitable<response> {
        jobs::argon2_params limits{a.cfg.argon2_memory_kib, a.cfg.argon2_iterations};
        auto body = read_password_verify_body(req, limits);
        auto params = argon2_params(a);
        params["password"] = std::move(body.password);
        params["hash"] = std::move(body.hash);
        pools::worker_job job{"password_verify", std::move(params), {}};
        auto out = co_await ctx.workers.run(std::move(job));
        co_return http::json(status::ok, boost::json::object{{"valid", out.meta.at("valid")}});
    }, http::route_options{.body_limit = json_body_limit});
}

}  // namespace steadyloop::service
