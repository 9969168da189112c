// GET /demo/compare?kind=cpu|io&jobs=8: the executor table of the tutorials, measured.
// The same batch of concurrent jobs runs in each mode in turn (cpu: inline, thread,
// process; io: inline, thread, async); for each mode alone it records the wall time and
// the loop lag seen while it ran, and derives the verdict from those numbers.
#include "../app.hpp"

#include "steadyloop/http/error.hpp"
#include "steadyloop/jobs/cpu_sum.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using clock = std::chrono::steady_clock;

struct batch {
    std::string kind;  // "cpu" or "io"
    std::size_t jobs;
    std::uint64_t n;              // cpu: additions per job
    std::chrono::milliseconds ms;  // io: wait per job
};

struct row {
    std::string mode;
    double wall_ms = 0;
    double jobs_per_s = 0;
    double speedup = 0;  // against the same jobs run one after another
    double lag_p99_ms = 0;
    double lag_max_ms = 0;
    std::string verdict;
};

double ms_since(clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); }
double round2(double v) { return std::round(v * 100.0) / 100.0; }

// One job of the batch in `mode`.
awaitable<void> one_job(batch const& b, std::string const& mode, context& ctx)
{
    if (b.kind == "cpu") {
        auto const n = b.n;
        if (mode == "inline") {
            (void)jobs::cpu_sum(n, 1);  // on the loop: the anti-pattern, on purpose
        } else if (mode == "thread") {
            auto fn = [n] { return jobs::cpu_sum(n, 1); };
            co_await ctx.blocking.run(fn);
        } else {
            pools::worker_job job{"cpu_sum", {{"n", n}, {"x", 1}}, {}};
            co_await ctx.workers.run(std::move(job));
        }
    } else {
        auto const ms = b.ms;
        if (mode == "inline") {
            std::this_thread::sleep_for(ms);  // on the loop: the anti-pattern, on purpose
        } else if (mode == "thread") {
            auto fn = [ms] { blocking::sleep_for(ms); };
            co_await ctx.blocking.run(fn);
        } else {
            asio::steady_timer timer(co_await asio::this_coro::executor, ms);
            co_await timer.async_wait(use_tuple);
        }
    }
}

// Runs the batch in one mode, all jobs at once, and measures it alone: the loop settles
// first, and the lag sample that covers the batch's end (it arrives at the next tick) is
// included.
awaitable<row> run_mode(app& a, batch const& b, std::string mode, context& ctx)
{
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer pause(ex);
    pause.expires_after(50ms);
    co_await pause.async_wait(use_tuple);

    std::vector<double> samples;
    auto recording = a.lag.subscribe([&samples](double lag_ms) { samples.push_back(lag_ms); });
    auto const start = clock::now();
    std::size_t remaining = b.jobs;
    std::exception_ptr failure;
    asio::steady_timer all_done(ex, clock::time_point::max());
    for (std::size_t i = 0; i < b.jobs; ++i)
        asio::co_spawn(ex, one_job(b, mode, ctx), [&](std::exception_ptr e) {
            if (e && !failure)
                failure = e;
            if (--remaining == 0)
                all_done.cancel();
        });
    co_await all_done.async_wait(use_tuple);
    row r;
    r.mode = std::move(mode);
    r.wall_ms = ms_since(start);
    pause.expires_after(2 * a.lag.interval() + 5ms);
    co_await pause.async_wait(use_tuple);
    recording.reset();
    if (failure)
        std::rethrow_exception(failure);

    if (!samples.empty()) {
        std::sort(samples.begin(), samples.end());
        auto const rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(samples.size())));
        r.lag_p99_ms = samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
        r.lag_max_ms = samples.back();
    }
    r.jobs_per_s = r.wall_ms > 0 ? static_cast<double>(b.jobs) * 1000.0 / r.wall_ms : 0;
    co_return r;
}

// The verdict, from the numbers: a mode whose lag reached half a job's time (and at
// least 10 ms) blocked the loop; CPU work that finished 1.5 times faster than one job
// after another ran in parallel; anything else works well.
void judge(row& r, batch const& b, double job_ms)
{
    r.speedup = r.wall_ms > 0 ? static_cast<double>(b.jobs) * job_ms / r.wall_ms : 0;
    if (r.lag_max_ms >= std::max(10.0, job_ms / 2))
        r.verdict = "blocks the loop";
    else if (b.kind == "cpu" && r.speedup >= 1.5)
        r.verdict = "true parallel";
    else
        r.verdict = "works well";
}

std::string table(batch const& b, double job_ms, std::vector<row> const& rows)
{
    std::string out = b.kind == "cpu"
                          ? fmt::format("kind=cpu jobs={} n={} (one job alone: {:.1f} ms)\n", b.jobs, b.n, job_ms)
                          : fmt::format("kind=io jobs={} ms={} (one job alone: {:.1f} ms)\n", b.jobs, b.ms.count(), job_ms);
    out += fmt::format("{:<8} {:>10} {:>10} {:>8} {:>11} {:>11}  {}\n", "mode", "wall_ms", "jobs/s", "speedup",
                       "lag_p99_ms", "lag_max_ms", "verdict");
    for (auto const& r : rows)
        out += fmt::format("{:<8} {:>10.1f} {:>10.1f} {:>8.2f} {:>11.2f} {:>11.2f}  {}\n", r.mode, r.wall_ms,
                           r.jobs_per_s, r.speedup, r.lag_p99_ms, r.lag_max_ms, r.verdict);
    return out;
}

bool wants_text(request const& req, context const& ctx)
{
    auto const format = ctx.query.one_of("format", {"json", "text"}, "");
    if (!format.empty())
        return format == "text";
    auto const accept = req[boost::beast::http::field::accept];
    return accept.find("text/plain") != std::string_view::npos &&
           accept.find("application/json") == std::string_view::npos;
}

awaitable<response> demo_compare(app& a, request& req, context& ctx)
{
    batch b;
    b.kind = std::string(ctx.query.one_of("kind", {"cpu", "io"}, "cpu"));
    b.jobs = static_cast<std::size_t>(ctx.query.integer("jobs", 8, 1, 64));
    b.n = static_cast<std::uint64_t>(ctx.query.integer("n", 20'000'000, 1, 200'000'000));
    b.ms = std::chrono::milliseconds(ctx.query.integer("ms", 100, 1, 2000));
    bool const text = wants_text(req, ctx);
    if (a.compare_running)
        throw http::http_error(http::status::service_unavailable, "compare_running",
                               "another /demo/compare is measuring; one runs at a time")
            .with_header("Retry-After", "1");
    a.compare_running = true;
    struct reset_on_exit {
        bool& flag;
        ~reset_on_exit() { flag = false; }
    } reset{a.compare_running};

    std::vector<std::string> const modes = b.kind == "cpu" ? std::vector<std::string>{"inline", "thread", "process"}
                                                           : std::vector<std::string>{"inline", "thread", "async"};
    std::vector<row> rows;
    for (auto const& mode : modes)
        rows.push_back(co_await run_mode(a, b, mode, ctx));
    // One job's own time: the inline run did the jobs one after another, undisturbed.
    double const job_ms = rows.front().wall_ms / static_cast<double>(b.jobs);
    for (auto& r : rows)
        judge(r, b, job_ms);

    if (text)
        co_return http::text(http::status::ok, table(b, job_ms, rows));
    boost::json::array out;
    for (auto const& r : rows)
        out.push_back({{"mode", r.mode},
                       {"wall_ms", round2(r.wall_ms)},
                       {"jobs_per_s", round2(r.jobs_per_s)},
                       {"speedup", round2(r.speedup)},
                       {"lag_p99_ms", round2(r.lag_p99_ms)},
                       {"lag_max_ms", round2(r.lag_max_ms)},
                       {"verdict", r.verdict}});
    boost::json::object doc{{"kind", b.kind}, {"jobs", b.jobs}};
    if (b.kind == "cpu")
        doc["n"] = b.n;
    else
        doc["ms"] = b.ms.count();
    doc["job_ms"] = round2(job_ms);
    doc["rows"] = std::move(out);
    co_return http::json(http::status::ok, doc);
}

}  // namespace

void add_compare_route(http::router& r, app& a)
{
    r.add(http::verb::get, "/demo/compare",
          [&a](request& req, context& ctx) -> awaitable<response> { return demo_compare(a, req, ctx); });
}

}  // namespace steadyloop::service
