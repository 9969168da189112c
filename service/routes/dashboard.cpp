// GET /: the dashboard page. One self-contained HTML file (dashboard/index.html), embedded
// in the binary at build time by dashboard/embed.cmake; it draws /loop/stream live.
#include "../app.hpp"

#include <boost/beast/http/field.hpp>

#include <string>
#include <string_view>

namespace steadyloop::service {

// Generated from dashboard/index.html (dashboard_page.cpp in the build folder).
extern std::string_view const dashboard_page;

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;

void add_dashboard_routes(http::router& r, app&)
{
    r.add(http::verb::get, "/", [](request&, context&) -> awaitable<response> {
        auto res = http::text(http::status::ok, std::string(dashboard_page), "text/html; charset=utf-8");
        // Revalidate on every load, so a new binary's page is never hidden by a cached one.
        res.set(boost::beast::http::field::cache_control, "no-cache");
        co_return res;
    });
}

}  // namespace steadyloop::service
