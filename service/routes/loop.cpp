// GET /loop: a JSON snapshot of the loop (lag, stalls, connections) and the pools, and
// GET /loop/stream: the same snapshot as Server-Sent Events, so `curl -N` shows it live.
#include "../app.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cmath>
#include <memory>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;

namespace {

// Milliseconds rounded to microseconds: enough precision, readable JSON.
double ms3(double ms) { return std::round(ms * 1000.0) / 1000.0; }

std::string iso8601(std::chrono::system_clock::time_point t)
{
    auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", std::chrono::floor<std::chrono::seconds>(t), ms);
}

boost::json::value stall_json(std::optional<loop::stall> const& s)
{
    if (!s)
        return nullptr;
    return boost::json::object{{"route", s->route},
                               {"request_id", s->request_id},
                               {"duration_ms", std::round(s->duration_ms * 10.0) / 10.0},
                               {"at", iso8601(s->at)}};
}

// The snapshot as one line of JSON, made at most once per 10 ms however many streams
// want it: a hundred subscribers cost the loop about as much as one.
class snapshot_cache {
public:
    std::string const& get(app const& a)
    {
        auto now = std::chrono::steady_clock::now();
        if (text_.empty() || now - made_ >= std::chrono::milliseconds(10)) {
            text_ = http::json_text(loop_snapshot(a));
            made_ = now;
        }
        return text_;
    }

private:
    std::string text_;
    std::chrono::steady_clock::time_point made_{};
};

}  // namespace

boost::json::object loop_snapshot(app const& a)
{
    auto lag = a.lag.summary();
    auto recent = a.lag.last_second();
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
          {"since_start_max", ms3(lag.since_start_max_ms)},
          {"last_second", {{"p99", ms3(recent.p99_ms)}, {"max", ms3(recent.max_ms)}}}}},
        {"stalls",
         {{"threshold_ms", a.watchdog ? a.watchdog->threshold().count() : 0},
          {"count", a.watchdog ? a.watchdog->count() : 0},
          {"last", stall_json(a.last_stall)}}},
        {"connections", srv.connections},
        {"in_flight", srv.in_flight},
        {"streams", srv.streams},
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

void add_loop_routes(http::router& r, app& a)
{
    r.add(http::verb::get, "/loop", [&a](request&, context&) -> awaitable<response> {
        co_return http::json(http::status::ok, loop_snapshot(a));
    });

    // One `data: {snapshot}` event at once, then one every interval_ms (50–5000).
    auto cache = std::make_shared<snapshot_cache>();
    r.add(http::verb::get, "/loop/stream", [&a, cache](request&, context& ctx) -> awaitable<response> {
        auto const interval = std::chrono::milliseconds(ctx.query.integer("interval_ms", 250, 50, 5000));
        auto res = http::text(http::status::ok, {}, "text/event-stream");
        res.set(boost::beast::http::field::cache_control, "no-cache");
        ctx.stream = [&a, cache, interval](http::event_sink& sink) -> awaitable<void> {
            // Ask EventSource to reconnect after a second when the stream drops.
            std::string piece = "retry: 1000\n\n";
            if (!co_await sink.send(piece))
                co_return;
            do {
                piece.assign("data: ");
                piece += cache->get(a);
                piece += "\n\n";
                if (!co_await sink.send(piece))
                    co_return;
            } while (co_await sink.wait(interval));
        };
        co_return res;
    });
}

}  // namespace steadyloop::service
