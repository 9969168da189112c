// The demonstrations: the same wait done the right way (an async timer), the tolerable
// way (a blocking sleep in the blocking pool) and the wrong way (a blocking sleep on the
// loop, which stalls every other client).
#include "../app.hpp"

#include "steadyloop/jobs/cpu_sum.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include <unistd.h>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;

namespace blocking {

// A legacy call that blocks its thread for `d`.
void sleep_for(std::chrono::milliseconds d)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    std::this_thread::sleep_for(d);
}

}  // namespace blocking

namespace {

// GET /demo/io?ms=200&mode=async|thread|inline
awaitable<response> demo_io(request&, context& ctx)
{
    auto const ms = std::chrono::milliseconds(ctx.query.integer("ms", 200, 0, 10000));
    std::string const mode(ctx.query.one_of("mode", {"async", "thread", "inline"}, "async"));
    auto const start = std::chrono::steady_clock::now();
    if (mode == "async") {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, ms);
        co_await timer.async_wait(boost::asio::use_awaitable);
    } else if (mode == "thread") {
        co_await ctx.blocking.run([ms] { blocking::sleep_for(ms); });
    } else {
        // The anti-pattern, on purpose: the loop itself sleeps and nobody else is served.
        std::this_thread::sleep_for(ms);
    }
    double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    co_return http::json(http::status::ok, boost::json::object{{"mode", mode},
                                                               {"ms", ms.count()},
                                                               {"elapsed_ms", std::round(elapsed * 10.0) / 10.0}});
}

// GET /demo/cpu?n=10000000&x=1&mode=process|thread|inline
awaitable<response> demo_cpu(request&, context& ctx)
{
    auto const n = static_cast<std::uint64_t>(ctx.query.integer("n", 10'000'000, 1, 2'000'000'000));
    auto const x = static_cast<std::uint64_t>(ctx.query.integer("x", 1, 0, 1000));
    std::string const mode(ctx.query.one_of("mode", {"process", "thread", "inline"}, "process"));
    auto const start = std::chrono::steady_clock::now();
    std::uint64_t result = 0;
    long pid = ::getpid();
    if (mode == "process") {
        // (Built as a named value first: g++ 12 mis-compiles braced temporaries in co_await.)
        pools::worker_job job{"cpu_sum", {{"n", n}, {"x", x}}, {}};
        auto out = co_await ctx.workers.run(std::move(job));
        result = out.meta.at("result").to_number<std::uint64_t>();
        pid = out.pid;
    } else if (mode == "thread") {
        result = co_await ctx.blocking.run([n, x] { return jobs::cpu_sum(n, x); });
    } else {
        // The anti-pattern, on purpose: the loop itself computes and nobody else is served.
        result = jobs::cpu_sum(n, x);
    }
    double elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    co_return http::json(http::status::ok, boost::json::object{{"mode", mode},
                                                               {"n", n},
                                                               {"x", x},
                                                               {"result", result},
                                                               {"elapsed_ms", std::round(elapsed * 10.0) / 10.0},
                                                               {"pid", pid}});
}

}  // namespace

void add_demo_routes(http::router& r, app& a)
{
    r.add(http::verb::get, "/demo/io", demo_io);
    r.add(http::verb::get, "/demo/cpu", demo_cpu);
    add_compare_route(r, a);
}

}  // namespace steadyloop::service
