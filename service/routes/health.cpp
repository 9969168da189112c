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

    // Readiness: the listener is open, every worker is up, and the service is not
    // shutting down.
    r.add(verb::get, "/readyz", [&a](request&, context&) -> awaitable<response> {
        if (a.server == nullptr || a.server->draining())
            throw http::http_error(status::service_unavailable, "draining", "the service is shutting down");
        if (!a.server->listening())
            throw http::http_error(status::service_unavailable, "starting", "the service is starting");
        if (!a.workers.ready()) {
            auto s = a.workers.stats();
            throw http::http_error(status::service_unavailable, "starting",
                                   std::to_string(s.alive) + " of " + std::to_string(s.workers) + " workers are up");
        }
        co_return http::json(status::ok, boost::json::object{{"status", "ready"}});
    });
}

}  // namespace steadyloop::service
