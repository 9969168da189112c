// POST /users, GET /users/{username}, POST /login: the password is hashed and verified in
// the worker pool, the rows are read and written in the blocking pool.
#include "../app.hpp"
#include "store_errors.hpp"
#include "bodies.hpp"

#include "steadyloop/http/json_body.hpp"
#include "steadyloop/store/database.hpp"

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

boost::json::object user_json(store::user const& u)
{
    return {{"id", u.id}, {"username", u.username}, {"created_at", u.created_at}};
}

http::http_error invalid_credentials()
{
    return http::http_error(status::unauthorized, "invalid_credentials", "the username or the password is wrong");
}

}  // namespace

awaitable<void> prepare_dummy_hash(app& a, http::worker_door workers)
{
    boost::json::object params{{"m", a.cfg.argon2_memory_kib},
                               {"t", a.cfg.argon2_iterations},
                               {"password", "steadyloop dummy password"}};
    pools::worker_job job{"password_hash", std::move(params), {}};
    auto dummy = co_await workers.run(std::move(job));
    a.dummy_hash = std::string(dummy.meta.at("hash").as_string());
}

void add_user_routes(http::router& r, app& a)
{
    auto argon2 = [&a] {
        return boost::json::object{{"m", a.cfg.argon2_memory_kib}, {"t", a.cfg.argon2_iterations}};
    };

    // POST /users {"username","password"} → 201, or 409 username_taken.
    r.add(verb::post, "/users", [&a, argon2](request& req, context& ctx) -> awaitable<response> {
        auto body = read_new_user_body(req);
        std::string const username = std::move(body.username);
        auto params = argon2();
        params["password"] = std::move(body.password);
        pools::worker_job job{"password_hash", std::move(params), {}};
        auto hashed = co_await ctx.workers.run(std::move(job));
        std::string hash(hashed.meta.at("hash").as_string());
        // The UNIQUE constraint decides races: of two registrations, exactly one wins.
        auto create = answering_store_errors(
            [&db = a.db, &username, &hash] { return db.blocking_create_user(username, hash); });
        auto created = co_await ctx.blocking.run(std::move(create));
        if (!created)
            throw http::http_error(status::conflict, "username_taken", "that username is already registered");
        co_return http::json(status::created, user_json(*created));
    }, http::route_options{.body_limit = json_body_limit});

    // GET /users/{username} → the user, never the hash.
    r.add(verb::get, "/users/{username}", [&a](request&, context& ctx) -> awaitable<response> {
        std::string username = ctx.path_param("username");
        if (!valid_username(username))
            throw http::http_error(status::not_found, "not_found", "no such user");
        auto find = answering_store_errors([&db = a.db, &username] { return db.blocking_find_user(username); });
        auto found = co_await ctx.blocking.run(std::move(find));
        if (!found)
            throw http::http_error(status::not_found, "not_found", "no such user");
        co_return http::json(status::ok, user_json(*found));
    });

    // POST /login {"username","password"} → 200 {"ok":true,"id"} or 401. An unknown user
    // costs one verification too (against a dummy hash of the same parameters), so neither
    // the answer nor its timing tells which usernames exist.
    r.add(verb::post, "/login", [&a, argon2](request& req, context& ctx) -> awaitable<response> {
        auto body = http::json_body(req);
        auto username = http::string_field(body, "username", 1, 1024);
        auto password = http::string_field(body, "password", 1, 1024);
        std::optional<std::pair<store::user, std::string>> found;
        if (valid_username(username)) {
            auto find = answering_store_errors([&db = a.db, &username] { return db.blocking_find_login(username); });
            found = co_await ctx.blocking.run(std::move(find));
        }
        if (!found && a.dummy_hash.empty())
            co_await prepare_dummy_hash(a, ctx.workers);
        auto params = argon2();
        params["password"] = std::move(password);
        params["hash"] = found ? found->second : a.dummy_hash;
        pools::worker_job job{"password_verify", std::move(params), {}};
        auto verdict = co_await ctx.workers.run(std::move(job));
        if (!found || !verdict.meta.at("valid").as_bool())
            throw invalid_credentials();
        co_return http::json(status::ok, boost::json::object{{"ok", true}, {"id", found->first.id}});
    }, http::route_options{.body_limit = json_body_limit});
}

}  // namespace steadyloop::service
