// /kv: a key-value store in SQLite, every statement in the blocking pool.
#include "../app.hpp"
#include "store_errors.hpp"

#include "steadyloop/obs/logging.hpp"
#include "steadyloop/store/database.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <fmt/format.h>

#include <functional>
#include <string_view>
#include <utility>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;
using http::status;
using http::verb;

namespace {

constexpr std::size_t max_value = 1024 * 1024;
constexpr std::size_t max_key = 256;

// The decoded key: 1–256 bytes of valid UTF-8.
std::string checked_key(context const& ctx)
{
    std::string key = ctx.path_param("key");
    if (key.size() > max_key)
        throw http::bad_request("the key must be 1 to 256 bytes of UTF-8");
    if (obs::valid_utf8(key) != key)
        throw http::bad_request("the key must be valid UTF-8");
    return key;
}

// The version alone would repeat after a delete and a re-create (versions start again at
// 1), so the value's hash is part of the tag. Computed in the blocking pool, with the value.
std::string etag(std::int64_t version, std::string_view value)
{
    return fmt::format("\"{}-{:016x}\"", version, std::hash<std::string_view>{}(value));
}

// True when an If-None-Match list names this ETag (or is "*").
bool none_match(std::string_view header, std::string const& tag)
{
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto comma = header.find(',', pos);
        auto item = header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        if (item.starts_with("W/"))
            item.remove_prefix(2);
        if (item == "*" || item == tag)
            return true;
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    return false;
}

}  // namespace

void add_kv_routes(http::router& r, app& a)
{
    // PUT /kv/{key} — store the raw body with its content type.
    r.add(verb::put, "/kv/{key...}", [&a](request& req, context& ctx) -> awaitable<response> {
        auto key = checked_key(ctx);
        std::string type(req[http::bhttp::field::content_type]);
        if (type.empty())
            type = "application/octet-stream";
        if (type.size() > 256)
            throw http::bad_request("the Content-Type must be at most 256 bytes");
        auto const& body = req.body();
        auto store = answering_store_errors([&db = a.db, &key, &body, &type] {
            auto result = db.blocking_put(key, body, type);
            return std::pair{result, etag(result.version, body)};
        });
        auto [put, tag] = co_await ctx.blocking.run(std::move(store));
        auto res = http::json(put.created ? status::created : status::ok,
                              boost::json::object{{"key", key}, {"bytes", put.bytes}, {"version", put.version}});
        res.set(http::bhttp::field::etag, tag);
        co_return res;
    }, http::route_options{.body_limit = max_value});

    // GET /kv/{key} — the bytes as stored; 304 when the client's ETag is current.
    r.add(verb::get, "/kv/{key...}", [&a](request& req, context& ctx) -> awaitable<response> {
        auto key = checked_key(ctx);
        auto load = answering_store_errors([&db = a.db, &key] {
            auto found = db.blocking_get(key);
            auto t = found ? etag(found->version, found->value) : std::string();
            return std::pair{std::move(found), std::move(t)};
        });
        auto [entry, tag] = co_await ctx.blocking.run(std::move(load));
        if (!entry)
            throw http::http_error(status::not_found, "not_found", "no value is stored under this key");
        response res;
        if (none_match(req[http::bhttp::field::if_none_match], tag)) {
            res = response{status::not_modified, 11};
            res.content_length(entry->value.size());  // the length a 200 would have
        } else {
            res = http::text(status::ok, std::move(entry->value), entry->content_type);
        }
        res.set(http::bhttp::field::etag, tag);
        co_return res;
    });

    // DELETE /kv/{key} — 204, or 404.
    r.add(verb::delete_, "/kv/{key...}", [&a](request&, context& ctx) -> awaitable<response> {
        auto key = checked_key(ctx);
        auto erase = answering_store_errors([&db = a.db, &key] { return db.blocking_erase(key); });
        bool erased = co_await ctx.blocking.run(std::move(erase));
        if (!erased)
            throw http::http_error(status::not_found, "not_found", "no value is stored under this key");
        co_return response{status::no_content, 11};
    });

    // GET /kv?prefix=&limit=100&after= — keys in order, a page at a time.
    r.add(verb::get, "/kv", [&a](request&, context& ctx) -> awaitable<response> {
        std::string prefix(ctx.query.get("prefix").value_or(""));
        auto limit = static_cast<std::size_t>(ctx.query.integer("limit", 100, 1, 1000));
        auto after_raw = ctx.query.get("after");
        std::optional<std::string> after;
        if (after_raw)
            after = std::string(*after_raw);
        if (prefix.size() > max_key || (after && after->size() > max_key))
            throw http::bad_request("'prefix' and 'after' are at most 256 bytes");
        auto list = answering_store_errors([&db = a.db, &prefix, limit, &after] {
            return db.blocking_list(prefix, limit, after ? std::optional<std::string_view>(*after) : std::nullopt);
        });
        auto page = co_await ctx.blocking.run(std::move(list));
        boost::json::array keys;
        for (auto& k : page.keys)
            keys.emplace_back(obs::valid_utf8(k));
        boost::json::value next = nullptr;
        if (page.next)
            next = *page.next;
        co_return http::json(status::ok, boost::json::object{{"keys", std::move(keys)}, {"next", std::move(next)}});
    });
}

}  // namespace steadyloop::service
