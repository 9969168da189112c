// steadyloop: config → logging → pools → routes → listener → run → drain.
#include "app.hpp"
#include "config.hpp"
#include "probe.hpp"

#include "steadyloop/http/server.hpp"
#include "steadyloop/loop/activity.hpp"
#include "steadyloop/loop/lag_monitor.hpp"
#include "steadyloop/loop/loop_thread.hpp"
#include "steadyloop/loop/watchdog.hpp"
#include "steadyloop/obs/logging.hpp"
#include "steadyloop/obs/metrics.hpp"
#include "steadyloop/pools/blocking_pool.hpp"
#include "steadyloop/pools/cpu_quota.hpp"
#include "steadyloop/pools/sandbox.hpp"
#include "steadyloop/pools/worker_pool.hpp"
#include "steadyloop/store/database.hpp"
#include "steadyloop/store/errors.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <future>
#include <string_view>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <sys/resource.h>
#include <unistd.h>

namespace asio = boost::asio;
using namespace steadyloop;
using namespace std::chrono_literals;

namespace {

// SIGTERM/SIGINT: readiness turns 503, the listener closes, idle connections close,
// in-flight requests get until the grace period ends; then whatever is left is closed.
asio::awaitable<void> shutdown_on_signal(asio::signal_set& signals, http::server& server, loop::lag_monitor& lag,
                                         loop::watchdog& watchdog, pools::blocking_pool& blocking, pools::worker_pool& workers,
                                         std::chrono::milliseconds grace)
{
    auto log = obs::logger("main");
    auto [ec, sig] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec)
        co_return;
    log->info("signal={} draining in_flight={} grace_ms={}", sig, server.stats().in_flight, grace.count());
    server.drain();
    auto deadline = std::chrono::steady_clock::now() + grace;
    asio::steady_timer tick(co_await asio::this_coro::executor);
    auto busy = [&] {
        auto b = blocking.stats();
        auto w = workers.stats();
        return server.stats().connections > 0 || b.busy > 0 || b.queued > 0 || w.busy > 0 || w.queued > 0;
    };
    while (busy() && std::chrono::steady_clock::now() < deadline) {
        tick.expires_after(10ms);
        co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    watchdog.stop();  // before the lag timer stops turning
    lag.stop();
    if (busy()) {
        // Past the grace period: close what is left, and do not wait for work that
        // cannot be interrupted (a blocking call in the pool, a long timer).
        auto b = blocking.stats();
        log->warn("grace period over, exiting with connections={} blocking_busy={} blocking_queued={}",
                  server.stats().connections, b.busy, b.queued);
        server.close_all();
        tick.expires_after(100ms);
        co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        workers.kill_all();
        obs::shutdown_logging();
        std::_Exit(0);
    }
    co_await workers.stop(1000ms);
}

}  // namespace

int main(int argc, char** argv)
{
    // A worker process: spawned by the worker pool with this binary's path.
    if (argc > 1 && std::string_view(argv[1]) == service::worker_mode)
        return service::worker_main(argc - 2, argv + 2);
    // A health check (`steadyloop probe [URL]`, or --healthcheck): one GET, then exit.
    if (argc > 1 && (std::string_view(argv[1]) == service::probe_mode ||
                     std::string_view(argv[1]) == service::healthcheck_flag))
        return service::probe_main(argc - 2, argv + 2);

    auto parsed = service::parse_config(argc, argv);
    if (auto* code = std::get_if<int>(&parsed))
        return *code;
    auto const& cfg = std::get<service::config>(parsed);

    obs::init_logging(cfg.log_level, cfg.log_format == "json" ? obs::log_format::json : obs::log_format::text);
    auto log = obs::logger("main");
    std::signal(SIGPIPE, SIG_IGN);

    // Every connection is a descriptor: take the whole of the hard limit (the soft limit
    // is often 1024, far below --max-connections). Spawned workers inherit it.
    if (rlimit fds{}; ::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
        auto const soft = fds.rlim_cur;
        fds.rlim_cur = fds.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &fds) == 0)
            log->info("descriptor limit raised from {} to {}", soft, fds.rlim_max);
        else
            log->warn("descriptor limit stays at {}: {}", soft, std::strerror(errno));
    }
    if (rlimit fds{}; ::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur != RLIM_INFINITY &&
                      fds.rlim_cur < cfg.max_connections + 64)
        log->warn("descriptor limit {} is below --max-connections {}: connections past it will fail", fds.rlim_cur,
                  cfg.max_connections);

    asio::io_context ioc{1};
    loop::bind_loop(ioc);

    pools::blocking_pool blocking(cfg.blocking_threads, cfg.blocking_queue);

    // The database is opened and migrated before the loop runs, on a thread of its own
    // (never the loop's). A file that is not a database, a newer schema or a folder that
    // cannot be written stops the start with one line and exit code 2.
    std::unique_ptr<store::database> db;
    try {
        db = std::async(std::launch::async, [&] { return store::database::blocking_open(cfg.db); }).get();
    } catch (store::open_error const& e) {
        std::fprintf(stderr, "steadyloop: %s\n", e.what());
        log->critical("{}", e.what());
        obs::shutdown_logging();
        return 2;
    }
    loop::lag_monitor lag(ioc);
    obs::metrics metrics;
    auto lag_to_metrics = lag.subscribe([&metrics](double lag_ms) { metrics.loop_lag(lag_ms / 1000.0); });
    loop::activity_board activity;

    // Workers first: they are forked before the listener opens (by posix_spawn, so no
    // fork of this multi-threaded process ever goes on running C++).
    pools::worker_pool_config wcfg;
    wcfg.workers = cfg.workers > 0 ? cfg.workers : pools::available_cpus();
    wcfg.queue = cfg.worker_queue;
    wcfg.job_timeout = std::chrono::milliseconds(cfg.job_timeout_ms);
    wcfg.max_jobs = cfg.worker_max_jobs;
    wcfg.args = {service::worker_mode, "--memory-mb", std::to_string(cfg.worker_memory_mb), "--sandbox",
                 cfg.worker_sandbox};
    if (cfg.worker_sandbox == "off")
        log->info("worker sandbox off: workers run without their seccomp filter (--worker-sandbox off)");
    else if (!pools::sandbox_supported())
        log->warn("worker sandbox unavailable: this kernel has no seccomp filters; workers run without one");
    else
        log->info("worker sandbox on: each worker runs under a seccomp allow-list with no_new_privs");
    pools::worker_pool workers(ioc, wcfg);
    try {
        workers.start();
    } catch (std::exception const& e) {
        log->critical("cannot start the worker processes: {}", e.what());
        obs::shutdown_logging();
        return 1;
    }

    http::router routes;
    service::app app{cfg, blocking, workers, lag, *db, metrics};
    // The stall detector hands each finished stall to the loop, which owns /loop's record.
    loop::watchdog watchdog(lag, activity, std::chrono::milliseconds(cfg.stall_threshold_ms),
                            [&ioc, &app](loop::stall s) {
                                asio::post(ioc, [&app, s = std::move(s)]() mutable { app.last_stall = std::move(s); });
                            });
    app.watchdog = &watchdog;
    service::add_health_routes(routes, app);
    service::add_loop_routes(routes, app);
    service::add_hash_routes(routes, app);
    service::add_image_routes(routes, app);
    service::add_kv_routes(routes, app);
    service::add_user_routes(routes, app);
    service::add_legacy_routes(routes, app);
    service::add_dashboard_routes(routes, app);
    service::add_metrics_routes(routes, app);
    if (cfg.demo == "on")
        service::add_demo_routes(routes, app);
    service::add_test_routes(routes, app);

    http::server_config scfg;
    scfg.address = cfg.address;
    scfg.port = cfg.port;
    scfg.max_connections = cfg.max_connections;
    scfg.header_timeout = std::chrono::milliseconds(cfg.header_timeout_ms);
    scfg.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
    scfg.body_timeout = std::chrono::milliseconds(cfg.body_timeout_ms);
    scfg.server_header = "steadyloop/" STEADYLOOP_VERSION;
    http::server server(ioc, scfg, routes, blocking, workers, http::server_hooks{&metrics, &activity});
    app.server = &server;

    // Signals are caught before anyone can learn the port and send one.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);

    asio::ip::tcp::endpoint bound;
    try {
        bound = server.listen();
    } catch (boost::system::system_error const& e) {
        log->critical("cannot listen on {}:{}: {}", cfg.address, cfg.port, e.code().message());
        obs::shutdown_logging();
        return 1;
    }

    // One machine-readable line, so scripts and tests can find a port picked with --port 0.
    auto line = fmt::format(R"({{"event":"listening","address":"{}","port":{},"pid":{}}})" "\n",
                            bound.address().to_string(), bound.port(), ::getpid());
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    log->info("steadyloop {} listening on {}:{} blocking_threads={} blocking_queue={} workers={} worker_queue={}",
              STEADYLOOP_VERSION, bound.address().to_string(), bound.port(), cfg.blocking_threads, cfg.blocking_queue,
              wcfg.workers, wcfg.queue);

    asio::co_spawn(ioc, shutdown_on_signal(signals, server, lag, watchdog, blocking, workers, std::chrono::milliseconds(cfg.shutdown_grace_ms)),
                   asio::detached);
    lag.start();
    watchdog.start();
    server.start();

    ioc.run();

    blocking.join();
    log->info("stopped");
    obs::shutdown_logging();
    return 0;
}
