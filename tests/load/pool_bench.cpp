// Worker pool benchmarks: what a job's trip through the pool costs, against the bare cost
// of a socketpair round trip between two processes; and Argon2id throughput through the
// pool against the same work on in-process threads. Numbers, not assertions.
//
//   build/release/tests/load/pool_bench --benchmark_counters_tabular=true
#include "steadyloop/jobs/password.hpp"
#include "steadyloop/loop/loop_thread.hpp"
#include "steadyloop/pools/worker_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <vector>

namespace asio = boost::asio;
using namespace steadyloop;
using clock_type = std::chrono::steady_clock;

namespace {

void percentiles(benchmark::State& state, std::vector<double>& us)
{
    if (us.empty())
        return;
    std::sort(us.begin(), us.end());
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}

// The baseline: 64 bytes to a child process and back over a socketpair, blocking I/O.
void socketpair_roundtrip(benchmark::State& state)
{
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        state.SkipWithError("socketpair failed");
        return;
    }
    pid_t child = ::fork();  // the benchmark is single-threaded here
    if (child == 0) {
        ::close(sv[0]);
        std::array<char, 64> buf{};
        for (;;) {
            std::size_t got = 0;
            while (got < buf.size()) {
                ssize_t n = ::read(sv[1], buf.data() + got, buf.size() - got);
                if (n <= 0)
                    ::_exit(0);
                got += static_cast<std::size_t>(n);
            }
            if (::write(sv[1], buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()))
                ::_exit(1);
        }
    }
    ::close(sv[1]);
    std::array<char, 64> buf{};
    std::vector<double> us;
    for (auto _ : state) {
        auto t0 = clock_type::now();
        if (::write(sv[0], buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()))
            break;
        std::size_t got = 0;
        while (got < buf.size()) {
            ssize_t n = ::read(sv[0], buf.data() + got, buf.size() - got);
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
    ::close(sv[0]);
    ::waitpid(child, nullptr, 0);
    percentiles(state, us);
}
BENCHMARK(socketpair_roundtrip)->Name("baseline/socketpair_roundtrip_64B")->UseRealTime();

// A pool of real worker processes (the steadyloop binary in worker mode) on a fresh loop.
struct pool_fixture {
    explicit pool_fixture(std::size_t workers)
    {
        loop::bind_loop(ioc);
        pools::worker_pool_config cfg;
        cfg.workers = workers;
        cfg.queue = 1024;
        cfg.max_jobs = 0;
        cfg.executable = STEADYLOOP_BINARY;
        cfg.args = {"__worker", "--memory-mb", "1024"};
        pool = std::make_unique<pools::worker_pool>(ioc, cfg);
        pool->start();
        while (!pool->ready())
            ioc.run_one_for(std::chrono::milliseconds(100));
    }
    ~pool_fixture()
    {
        asio::co_spawn(ioc, pool->stop(std::chrono::milliseconds(1000)), asio::detached);
        ioc.restart();
        ioc.run_for(std::chrono::seconds(5));
        loop::unbind_loop(ioc);
    }
    asio::io_context ioc{1};
    std::unique_ptr<pools::worker_pool> pool;
};

pools::worker_job noop_job() { return {"cpu_sum", {{"n", 1}, {"x", 0}}, {}}; }

// One no-op job at a time: the full trip loop → worker → loop.
void pool_noop_roundtrip(benchmark::State& state)
{
    pool_fixture f(static_cast<std::size_t>(state.range(0)));
    std::vector<double> us;
    asio::co_spawn(f.ioc, [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
            auto t0 = clock_type::now();
            co_await f.pool->run(noop_job());
            us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        }
        f.ioc.stop();  // the pool's own waits would keep run() going
    }, asio::detached);
    f.ioc.restart();
    f.ioc.run_for(std::chrono::minutes(5));
    percentiles(state, us);
}
BENCHMARK(pool_noop_roundtrip)->Name("pool/noop_roundtrip")->Arg(1)->Arg(2)->UseRealTime();

// Moving bytes: `size` bytes to a worker and the same bytes back (the test build's echo
// job), one at a time. Compare with the time of the work itself (a resize, a hash).
void pool_echo_roundtrip(benchmark::State& state)
{
    pool_fixture f(1);
    std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
    std::vector<double> us;
    asio::co_spawn(f.ioc, [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
            auto t0 = clock_type::now();
            pools::worker_job job{"echo", {}, {reinterpret_cast<std::byte const*>(payload.data()), payload.size()}};
            auto out = co_await f.pool->run(std::move(job));
            benchmark::DoNotOptimize(out.data.data());
            us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        }
        f.ioc.stop();
    }, asio::detached);
    f.ioc.restart();
    f.ioc.run_for(std::chrono::minutes(5));
    percentiles(state, us);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 2);
}
BENCHMARK(pool_echo_roundtrip)->Name("pool/echo_roundtrip")->Arg(1 << 20)->Arg(5 << 20)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Runs `total` jobs made by `make_job` through `inflight` concurrent submitters, on the
// fixture's loop, and returns when all are done.
template <class MakeJob>
void run_batch(pool_fixture& f, std::size_t total, std::size_t inflight, MakeJob make_job, std::int64_t& done)
{
    std::size_t remaining = total;
    std::size_t submitters = inflight;
    for (std::size_t i = 0; i < inflight; ++i)
        asio::co_spawn(f.ioc, [&]() -> asio::awaitable<void> {
            while (remaining > 0) {
                --remaining;
                pools::worker_job job = make_job();
                co_await f.pool->run(std::move(job));
                ++done;
            }
            if (--submitters == 0)
                f.ioc.stop();  // the pool's own waits would keep run() going
        }, asio::detached);
    f.ioc.restart();
    f.ioc.run();
}

// Jobs per second with every worker busy: `inflight` jobs always outstanding.
void pool_noop_throughput(benchmark::State& state)
{
    pool_fixture f(static_cast<std::size_t>(state.range(0)));
    std::int64_t done = 0;
    auto t0 = clock_type::now();
    for (auto _ : state)
        run_batch(f, 1000, static_cast<std::size_t>(state.range(1)), noop_job, done);
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    state.counters["jobs_per_s"] = static_cast<double>(done) / secs;
}
BENCHMARK(pool_noop_throughput)->Name("pool/noop_throughput")->Args({2, 32})->UseRealTime()->Unit(benchmark::kMillisecond);

// Argon2id (OWASP baseline) on in-process threads.
void argon2_threads(benchmark::State& state)
{
    jobs::init_crypto();
    for (auto _ : state)
        benchmark::DoNotOptimize(jobs::hash_password("correct horse battery staple", {}));
    state.counters["hashes_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(argon2_threads)->Name("argon2id/in_process")->ThreadRange(1, 2)->UseRealTime()->Unit(benchmark::kMillisecond);

// Argon2id through the worker pool, every worker busy.
void argon2_pool(benchmark::State& state)
{
    std::size_t const workers = static_cast<std::size_t>(state.range(0));
    pool_fixture f(workers);
    std::int64_t done = 0;
    auto make_job = [] {
        return pools::worker_job{
            "password_hash", {{"password", "correct horse battery staple"}, {"m", 19456}, {"t", 2}}, {}};
    };
    auto t0 = clock_type::now();
    for (auto _ : state)
        run_batch(f, 8 * workers, 2 * workers, make_job, done);
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    state.counters["hashes_per_s"] = static_cast<double>(done) / secs;
}
BENCHMARK(argon2_pool)->Name("argon2id/worker_pool")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
