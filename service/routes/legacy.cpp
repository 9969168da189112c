// GET /legacy/resolve?host=: getaddrinfo(), the classic blocking C call, in the blocking pool.
#include "../app.hpp"

#include "steadyloop/legacy/resolve.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <netdb.h>

namespace steadyloop::service {

using boost::asio::awaitable;

void add_legacy_routes(http::router& r, app&)
{
    r.add(http::verb::get, "/legacy/resolve", [](http::request&, http::context& ctx) -> awaitable<http::response> {
        auto raw = ctx.query.get("host");
        if (!raw)
            throw http::bad_request("query parameter 'host' is required");
        std::string host(*raw);
        // Refused here, before the resolver ever sees it.
        if (!legacy::valid_host_name(host))
            throw http::bad_request("query parameter 'host' must be a host name or address: 1 to 253 letters, "
                                    "digits, '.', '-', '_' or ':'");
        // A named callable: g++ 12 destroys a string-owning temporary in co_await twice.
        auto resolve = [host] { return legacy::blocking_resolve(host); };
        auto result = co_await ctx.blocking.run(std::move(resolve));
        if (result.error == EAI_NONAME || result.error == EAI_NODATA)
            throw http::http_error(http::status::not_found, "host_not_found", "no address is known for " + host);
        if (result.error == EAI_AGAIN)
            throw http::http_error(http::status::service_unavailable, "resolver_unavailable",
                                   std::string("the resolver could not answer now: ") + gai_strerror(result.error))
                .with_header("Retry-After", "1");
        if (result.error != 0)
            throw http::http_error(http::status::bad_gateway, "resolver_failed",
                                   std::string("the resolver failed: ") + gai_strerror(result.error));
        boost::json::array addresses;
        for (auto& a : result.addresses)
            addresses.emplace_back(a);
        co_return http::json(http::status::ok, boost::json::object{{"host", host}, {"addresses", std::move(addresses)}});
    });
}

}  // namespace steadyloop::service
