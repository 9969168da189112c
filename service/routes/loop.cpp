// GET /loop: a JSON snapshot of the loop (lag, connections) and the pools.
#include "../app.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cmath>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;

namespace {

// Milliseconds rounded to microseconds: enough precision, readable JSON.
double ms3(double ms) { return std::round(ms * 1000.0) / 1000.0; }

boost::json::object loop_snapshot(app const& a)
{
    auto lag = a.lag.summary();
    auto window_s = std::chrono::duration<double>(a.lag.window()).count();
    auto srv = a.server->stats();
    auto bp = a.blocking.stats();
    auto wp = a.workers.stats();
    boost::json::array pids;
    for (auto pid : a.workers.worker_pids())
        pids.push_back(pid);
    double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - a.started).count();
    return {
        {"uptime_s", std::round(uptime * 10.0) / 10.0},
        {"lag_ms",
         {{"window_s", window_s},
          {"samples", lag.samples},
          {"p50", ms3(lag.p50_ms)},
          {"p90", ms3(lag.p90_ms)},
          {"p99", ms3(lag.p99_ms)},
          {"max", ms3(lag.max_ms)},
          {"since_start_max", ms3(lag.since_start_max_ms)}}},
        {"connections", srv.connections},
        {"in_flight", srv.in_flight},
        {"requests", srv.requests},
        {"blocking_pool",
         {{"threads", bp.threads},
          {"busy", bp.busy},
          {"queued", bp.queued},
          {"capacity", bp.capacity},
          {"completed", bp.completed},
          {"rejected", bp.rejected},
          {"cancelled", bp.cancelled}}},
        {"worker_pool",
         {{"workers", wp.workers},
          {"alive", wp.alive},
          {"busy", wp.busy},
          {"queued", wp.queued},
          {"capacity", wp.capacity},
          {"completed", wp.completed},
          {"rejected", wp.rejected},
          {"cancelled", wp.cancelled},
          {"failed", wp.failed},
          {"crashes", wp.crashes},
          {"timeouts", wp.timeouts},
          {"recycled", wp.recycled},
          {"respawns", wp.respawns},
          {"pids", std::move(pids)}}},
    };
}

}  // namespace

void add_loop_routes(http::router& r, app& a)
{
    r.add(http::verb::get, "/loop", [&a](request&, context&) -> awaitable<response> {
        co_return http::json(http::status::ok, loop_snapshot(a));
    });
}

}  // namespace steadyloop::service
