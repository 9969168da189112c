// The worker pool: pre-started worker processes for CPU-heavy jobs, each on its own
// AF_UNIX socketpair. Everything here runs on the loop thread: the queue, the idle
// workers, the per-job deadlines, the reaping of children. `co_await pool.run(job)`
// resumes with the worker's answer or throws a pool_error (full, timeout, crash, failure).
//
// Workers are posix_spawn()ed copies of an executable run in worker mode (normally this
// very binary, /proc/self/exe): the multi-threaded main process never fork()s and goes
// on running C++ in the child, and starting and replacing a worker is one code path.
#pragma once

#include "steadyloop/pools/cancel.hpp"
#include "steadyloop/pools/errors.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <spdlog/logger.h>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace steadyloop::pools {

struct worker_pool_config {
    std::size_t workers = 2;
    std::size_t queue = 64;  // jobs that may wait for a free worker
    std::chrono::milliseconds job_timeout{30'000};
    std::uint64_t max_jobs = 10'000;  // recycle a worker after this many jobs; 0 = never
    std::string executable = "/proc/self/exe";
    std::vector<std::string> args;  // argv[1..] that start the executable in worker mode
};

// A job: its name in the worker's job table, small JSON parameters, and input bytes
// that the caller keeps alive until the job is done (they are written, not copied).
struct worker_job {
    std::string name;
    boost::json::object params;
    std::span<std::byte const> data;
};

struct worker_result {
    boost::json::object meta;
    std::string data;
    int pid = 0;  // the worker that ran it
};

struct worker_pool_stats {
    std::size_t workers = 0;  // configured
    std::size_t alive = 0;    // started and answering
    std::size_t busy = 0;
    std::size_t queued = 0;
    std::size_t capacity = 0;  // queue length
    std::uint64_t completed = 0;
    std::uint64_t rejected = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t crashes = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t recycled = 0;
    std::uint64_t respawns = 0;
    std::uint64_t failed = 0;  // jobs that answered with an error
};

class worker_pool {
public:
    worker_pool(boost::asio::io_context& ioc, worker_pool_config cfg);
    ~worker_pool();
    worker_pool(worker_pool const&) = delete;
    worker_pool& operator=(worker_pool const&) = delete;

    // Spawns every worker (loop thread, before the listener opens). Throws when the
    // first spawn fails outright (e.g. the executable is missing).
    void start();
    // True once every worker has reported that it is up.
    bool ready() const noexcept;

    // Runs `job` on a free worker, queueing it while all are busy. Throws pool_full at
    // once when the queue is full, job_cancelled when `token` fired while it was queued,
    // and pool_error for a timeout (504 job_timeout), a worker that died (500
    // worker_crashed) or a job that failed (the worker's code).
    boost::asio::awaitable<worker_result> run(worker_job job, cancel_token token = {});

    // Stops every worker (each sees EOF and exits), waits up to `grace` for them to be
    // reaped, then SIGKILLs and reaps what is left.
    boost::asio::awaitable<void> stop(std::chrono::milliseconds grace);

    // At exit when there is no time left: SIGKILL every worker and reap it, now.
    void kill_all() noexcept;

    worker_pool_stats stats() const noexcept;
    std::vector<pid_t> worker_pids() const;

private:
    struct worker;
    struct pending;
    enum class state { starting, idle, busy, gone };

    void spawn(std::size_t slot, bool replacement = false);
    void respawn_later(std::size_t slot, std::chrono::milliseconds delay);
    boost::asio::awaitable<void> read_loop(std::shared_ptr<worker> w);
    boost::asio::awaitable<void> write_job(std::shared_ptr<worker> w, pending* p);
    void dispatch();
    void assign(std::shared_ptr<worker> const& w, pending* p);
    // False when the worker answered a job it was not given (a protocol error).
    bool on_result(worker& w, std::uint64_t job_id, bool ok, std::string_view meta, std::string data);
    void on_timeout(std::shared_ptr<worker> const& w);
    void on_gone(std::shared_ptr<worker> const& w, std::string const& why);
    void finish(pending& p);
    void watch_children();
    void reap();

    boost::asio::io_context& ioc_;
    worker_pool_config cfg_;
    std::shared_ptr<spdlog::logger> log_;
    std::vector<std::shared_ptr<worker>> slots_;
    std::unordered_map<pid_t, std::size_t> children_;  // spawned and not yet reaped
    std::deque<pending*> queue_;
    std::vector<std::unique_ptr<boost::asio::steady_timer>> respawn_timers_;  // per slot
    boost::asio::signal_set sigchld_;
    std::uint64_t next_job_id_ = 1;
    unsigned crash_streak_ = 0;  // deaths of workers that never answered a job, since the last job that succeeded
    bool stopping_ = false;
    worker_pool_stats counters_;
};

}  // namespace steadyloop::pools
