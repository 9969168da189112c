// GET /ping, /healthz, /readyz: the cheap probes.
#include "../app.hpp"

#include "steadyloop/http/error.hpp"

#include <boost/json/object.hpp>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;
using http::status;
using http::verb;

void add_health_routes(http::router& r, app& a)
{
    // The cheapest request there is: the loop probe for wrk.
    r.add(verb::get, "/ping", [](request&, context&) -> awaitable<response> {
        co_return http::text(status::ok, "pong\n");
    });

    // Liveness: answering at all means the loop turns.
    r.add(verb::get, "/healthz", [](request&, context&) -> awaitable<response> {
        co_return http::json(status::ok, boost::json::object{{"status", "ok"}});
    });

    // Readiness: the listener is open and the service is not shutting down.
    r.add(verb::get, "/readyz", [&a](request&, context&) -> awaitable<response> {
        if (a.server == nullptr || a.server->draining())
            throw http::http_error(status::service_unavailable, "draining", "the service is shutting down");
        if (!a.server->listening())
            throw http::http_error(status::service_unavailable, "starting", "the service is starting");
        co_return http::json(status::ok, boost::json::object{{"status", "ready"}});
    });
}

}  // namespace steadyloop::service
