// GET /metrics: Prometheus text exposition. The registry's request and lag histograms,
// plus the gauges and totals read from the server, the pools and the watchdog now.
#include "../app.hpp"

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;

namespace {

std::string scrape(app const& a)
{
    using obs::counter_family;
    using obs::gauge_family;
    auto families = a.metrics.collect();
    auto add = [&families](prometheus::MetricFamily f) { families.push_back(std::move(f)); };
    auto const srv = a.server->stats();
    auto const bp = a.blocking.stats();
    auto const wp = a.workers.stats();
    auto d = [](auto v) { return static_cast<double>(v); };

    add(counter_family("steadyloop_loop_stalls_total", "Times the loop did not turn for the stall threshold or longer",
                       d(a.watchdog ? a.watchdog->count() : 0)));
    add(gauge_family("steadyloop_connections_open", "Open client connections", d(srv.connections)));
    add(gauge_family("steadyloop_in_flight_requests", "Requests being answered now (open streams not included)",
                     d(srv.in_flight)));

    add(gauge_family("steadyloop_blocking_pool_threads", "Threads in the blocking pool", d(bp.threads)));
    add(gauge_family("steadyloop_blocking_pool_busy", "Blocking-pool threads running a job", d(bp.busy)));
    add(gauge_family("steadyloop_blocking_pool_queued", "Jobs waiting for a blocking-pool thread", d(bp.queued)));
    add(gauge_family("steadyloop_blocking_pool_capacity", "Jobs the blocking pool admits at once (threads + queue)",
                     d(bp.capacity)));
    add(counter_family("steadyloop_blocking_pool_completed_total", "Blocking-pool jobs finished", d(bp.completed)));
    add(counter_family("steadyloop_blocking_pool_rejected_total", "Blocking-pool jobs refused with 503 (pool full)",
                       d(bp.rejected)));

    add(gauge_family("steadyloop_worker_pool_workers", "Worker processes the pool keeps", d(wp.workers)));
    add(gauge_family("steadyloop_worker_pool_alive", "Worker processes up and ready", d(wp.alive)));
    add(gauge_family("steadyloop_worker_pool_busy", "Worker processes running a job", d(wp.busy)));
    add(gauge_family("steadyloop_worker_pool_queued", "CPU jobs waiting for a free worker", d(wp.queued)));
    add(gauge_family("steadyloop_worker_pool_capacity", "CPU jobs the worker pool admits at once (workers + queue)",
                     d(wp.capacity)));
    add(counter_family("steadyloop_worker_pool_completed_total", "CPU jobs finished", d(wp.completed)));
    add(counter_family("steadyloop_worker_pool_rejected_total", "CPU jobs refused with 503 (queue full)",
                       d(wp.rejected)));
    add(counter_family("steadyloop_worker_pool_crashes_total", "Worker processes that died during a job",
                       d(wp.crashes)));
    add(counter_family("steadyloop_worker_pool_timeouts_total", "CPU jobs killed at their deadline", d(wp.timeouts)));
    add(counter_family("steadyloop_worker_pool_recycled_total", "Worker processes replaced after their job quota",
                       d(wp.recycled)));
    add(counter_family("steadyloop_worker_pool_respawns_total", "Worker processes started to replace another",
                       d(wp.respawns)));
    return obs::exposition(families);
}

}  // namespace

void add_metrics_routes(http::router& r, app& a)
{
    r.add(http::verb::get, "/metrics", [&a](request&, context&) -> awaitable<response> {
        co_return http::text(http::status::ok, scrape(a), obs::exposition_content_type);
    });
}

}  // namespace steadyloop::service
