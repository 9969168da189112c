#include "steadyloop/pools/worker_pool.hpp"

#include "steadyloop/loop/loop_thread.hpp"
#include "steadyloop/obs/logging.hpp"
#include "steadyloop/pools/frame.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <optional>
#include <system_error>

extern char** environ;

namespace steadyloop::pools {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}

struct worker_pool::worker {
    worker(asio::io_context& ioc, std::size_t s) : slot(s), sock(ioc), deadline(ioc) {}
    std::size_t slot;
    pid_t pid = -1;
    asio::local::stream_protocol::socket sock;
    asio::steady_timer deadline;
    state st = state::starting;
    pending* job = nullptr;
    std::uint64_t jobs_done = 0;
    bool retiring = false;  // EOF is expected: recycled, or the pool is stopping
    bool killed = false;    // SIGKILLed by us for a job past its deadline
    bool replacement = false;  // started to replace a recycled worker: counts as ready while it starts
    bool ended = false;     // on_gone has run
};

// A job waiting for, or running on, a worker. Lives in run()'s coroutine frame.
struct worker_pool::pending {
    pending(worker_pool& p, asio::io_context& ioc) : pool(p), done(ioc, asio::steady_timer::time_point::max()) {}
    ~pending()
    {
        if (finished)
            return;
        // The awaiting coroutine is being destroyed (only at exit): unlink everything
        // that still points here, and stop a write that may still read our buffers.
        std::erase(pool.queue_, this);
        if (w != nullptr) {
            w->job = nullptr;
            boost::system::error_code ec;
            w->sock.close(ec);
        }
    }
    worker_pool& pool;
    std::uint64_t id = 0;
    worker_job const* job = nullptr;
    cancel_token token;
    std::string meta_text;
    asio::steady_timer done;  // cancelled when the job finishes
    worker* w = nullptr;      // the worker running it
    std::optional<worker_result> result;
    std::exception_ptr error;
    bool finished = false;
};

worker_pool::worker_pool(asio::io_context& ioc, worker_pool_config cfg)
    : ioc_(ioc), cfg_(std::move(cfg)), log_(obs::logger("pool")), sigchld_(ioc, SIGCHLD)
{
    slots_.resize(cfg_.workers);
    respawn_timers_.resize(cfg_.workers);
    counters_.workers = cfg_.workers;
    counters_.capacity = cfg_.queue;
}

worker_pool::~worker_pool()
{
    // Normally stop() has reaped everything; after an early failure, do it here.
    for (auto const& [pid, slot] : children_) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

void worker_pool::start()
{
    watch_children();
    for (std::size_t i = 0; i < slots_.size(); ++i)
        spawn(i);
}

bool worker_pool::ready() const noexcept
{
    // A worker starting in place of a recycled one does not make the pool unready: that
    // is routine, and readiness should not flap with it.
    return std::all_of(slots_.begin(), slots_.end(), [](auto const& w) {
        return w && (w->st == state::idle || w->st == state::busy || (w->st == state::starting && w->replacement));
    });
}

worker_pool_stats worker_pool::stats() const noexcept
{
    auto s = counters_;
    s.alive = 0;
    s.busy = 0;
    for (auto const& w : slots_) {
        if (w && (w->st == state::idle || w->st == state::busy))
            ++s.alive;
        if (w && w->st == state::busy)
            ++s.busy;
    }
    s.queued = queue_.size();
    return s;
}

std::vector<pid_t> worker_pool::worker_pids() const
{
    std::vector<pid_t> out;
    for (auto const& w : slots_)
        if (w && w->st != state::gone)
            out.push_back(w->pid);
    return out;
}

void worker_pool::spawn(std::size_t slot, bool replacement)
{
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        throw std::system_error(errno, std::generic_category(), "socketpair");
    // Larger socket buffers (the kernel caps them at net.core.wmem_max/rmem_max): a
    // megabyte body or a multi-megabyte photo crosses in a few writes instead of dozens of
    // wake-ups of each side. Memory is only used while bytes are in flight.
    int const socket_buffer = 4 * 1024 * 1024;
    for (int fd : sv) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &socket_buffer, sizeof socket_buffer);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &socket_buffer, sizeof socket_buffer);
    }

    // The child gets its end of the socketpair as fd 3 and nothing else beyond 0-2;
    // every signal back at its default and none blocked.
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> args;
    args.push_back(cfg_.executable);
    args.insert(args.end(), cfg_.args.begin(), cfg_.args.end());
    args.push_back("--parent-pid");
    args.push_back(std::to_string(::getpid()));
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, cfg_.executable.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(sv[1]);
    if (rc != 0) {
        ::close(sv[0]);
        throw std::system_error(rc, std::generic_category(), "posix_spawn " + cfg_.executable);
    }

    auto w = std::make_shared<worker>(ioc_, slot);
    w->pid = pid;
    w->replacement = replacement;
    w->sock.assign(asio::local::stream_protocol(), sv[0]);
    slots_[slot] = w;
    children_[pid] = slot;
    log_->debug("worker slot={} pid={} spawned", slot, pid);
    asio::co_spawn(ioc_, read_loop(w), asio::detached);
}

void worker_pool::respawn_later(std::size_t slot, std::chrono::milliseconds delay)
{
    auto& timer = respawn_timers_[slot];
    if (!timer)
        timer = std::make_unique<asio::steady_timer>(ioc_);
    timer->expires_after(delay);
    timer->async_wait([this, slot](boost::system::error_code ec) {
        if (ec || stopping_)
            return;
        ++counters_.respawns;
        try {
            spawn(slot);
        } catch (std::exception const& e) {
            log_->error("worker slot={} could not be respawned: {}; retrying in 1 s", slot, e.what());
            respawn_later(slot, 1s);
        }
    });
}

asio::awaitable<worker_result> worker_pool::run(worker_job job, cancel_token token)
{
    STEADYLOOP_ASSERT_ON_LOOP();
    if (stopping_)
        throw pool_error(503, "shutting_down", "the worker pool is shutting down", true);
    // Jobs whose clients left do not hold queue places.
    std::erase_if(queue_, [this](pending* q) {
        if (!q->token.cancelled())
            return false;
        ++counters_.cancelled;
        q->error = std::make_exception_ptr(job_cancelled{});
        finish(*q);
        return true;
    });
    bool const idle = std::any_of(slots_.begin(), slots_.end(), [](auto const& w) { return w && w->st == state::idle; });
    if (!idle && queue_.size() >= cfg_.queue) {
        ++counters_.rejected;
        throw pool_full("worker_pool_full", fmt::format("every worker is busy and {} jobs are queued; retry shortly",
                                                        queue_.size()));
    }

    pending p(*this, ioc_);
    p.id = next_job_id_++;
    p.job = &job;
    p.token = std::move(token);
    boost::json::object meta = job.params;
    meta["job"] = job.name;
    p.meta_text = boost::json::serialize(meta);
    queue_.push_back(&p);
    dispatch();
    if (!p.finished)
        co_await p.done.async_wait(use_tuple);
    if (p.error)
        std::rethrow_exception(p.error);
    co_return std::move(*p.result);
}

void worker_pool::dispatch()
{
    while (!queue_.empty()) {
        pending* p = queue_.front();
        if (p->token.cancelled()) {
            queue_.pop_front();
            ++counters_.cancelled;
            p->error = std::make_exception_ptr(job_cancelled{});
            finish(*p);
            continue;
        }
        auto it = std::find_if(slots_.begin(), slots_.end(), [](auto const& w) { return w && w->st == state::idle; });
        if (it == slots_.end())
            return;
        queue_.pop_front();
        assign(*it, p);
    }
}

void worker_pool::assign(std::shared_ptr<worker> const& w, pending* p)
{
    w->st = state::busy;
    w->job = p;
    p->w = w.get();
    w->deadline.expires_after(cfg_.job_timeout);
    w->deadline.async_wait([this, weak = std::weak_ptr<worker>(w), id = p->id](boost::system::error_code ec) {
        auto sw = weak.lock();
        if (ec || !sw || sw->job == nullptr || sw->job->id != id)
            return;
        on_timeout(sw);
    });
    asio::co_spawn(ioc_, write_job(w, p), asio::detached);
}

asio::awaitable<void> worker_pool::write_job(std::shared_ptr<worker> w, pending* p)
{
    // The buffers belong to the pending job: if it finishes early (timeout, crash) the
    // socket is closed first, which ends this write before the buffers go away.
    auto prefix = wire::encode_prefix(wire::frame_kind::job, p->id, p->meta_text.size(), p->job->data.size());
    std::array<asio::const_buffer, 3> bufs{asio::buffer(prefix), asio::buffer(p->meta_text),
                                           asio::buffer(p->job->data.data(), p->job->data.size())};
    auto [ec, n] = co_await asio::async_write(w->sock, bufs, use_tuple);
    (void)n;
    // A failed write means the worker closed its end. Its answer, if it sent one before
    // going, is still in the socket: the read loop delivers it, then sees the end.
    if (ec && !w->ended)
        log_->debug("worker slot={} pid={} write failed: {}", w->slot, w->pid, ec.message());
}

asio::awaitable<void> worker_pool::read_loop(std::shared_ptr<worker> w)
{
    std::array<std::byte, wire::header_size + 4> prefix{};  // header + the meta length
    std::string meta;
    std::string why = "end of stream";
    for (;;) {
        auto [ec, n] = co_await asio::async_read(w->sock, asio::buffer(prefix), use_tuple);
        if (ec) {
            if (ec != asio::error::eof)
                why = ec.message();
            break;
        }
        wire::frame_error fe{};
        auto h = wire::decode_header(prefix, fe);
        auto meta_len = h ? wire::decode_meta_length(*h, std::span(prefix).subspan(wire::header_size), fe)
                          : std::nullopt;
        if (!h || !meta_len) {
            why = std::string("protocol error: ") + wire::to_string(fe);
            break;
        }
        // Meta and data are read straight into their own strings: the data becomes the
        // result without another copy.
        meta.resize(*meta_len);
        std::string data(h->length - 4 - *meta_len, '\0');
        std::array<asio::mutable_buffer, 2> bufs{asio::buffer(meta), asio::buffer(data)};
        auto [pec, pn] = co_await asio::async_read(w->sock, bufs, use_tuple);
        if (pec) {
            why = "truncated frame: " + pec.message();
            break;
        }
        if (h->kind == wire::frame_kind::ready && w->st == state::starting) {
            w->st = state::idle;
            log_->debug("worker slot={} pid={} ready", w->slot, w->pid);
            dispatch();
        } else if (h->kind == wire::frame_kind::result || h->kind == wire::frame_kind::error) {
            if (!on_result(*w, h->job_id, h->kind == wire::frame_kind::result, meta, std::move(data))) {
                why = "protocol error: an answer to a job it was not given";
                break;
            }
        } else {
            why = "protocol error: unexpected frame kind";
            break;
        }
    }
    on_gone(w, why);
}

bool worker_pool::on_result(worker& w, std::uint64_t job_id, bool ok, std::string_view meta, std::string data)
{
    if (w.job == nullptr || w.job->id != job_id)
        return false;
    pending* p = w.job;
    w.job = nullptr;
    p->w = nullptr;
    w.deadline.cancel();
    ++w.jobs_done;

    boost::system::error_code jec;
    auto mv = boost::json::parse(meta, jec);
    if (jec || !mv.is_object()) {
        ++counters_.failed;
        p->error = std::make_exception_ptr(pool_error(500, "job_failed", "the worker sent a malformed answer"));
    } else if (ok) {
        ++counters_.completed;
        crash_streak_ = 0;
        p->result = worker_result{std::move(mv.as_object()), std::move(data), w.pid};
    } else {
        ++counters_.completed;
        ++counters_.failed;
        auto const& o = mv.as_object();
        int status = 500;
        if (auto const* s = o.if_contains("status"); s && s->is_int64())
            status = static_cast<int>(std::clamp<std::int64_t>(s->as_int64(), 400, 599));
        auto str = [&](char const* key, char const* fallback) {
            auto const* v = o.if_contains(key);
            return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
        };
        p->error = std::make_exception_ptr(
            pool_error(status, str("code", "job_failed"), str("message", "the job failed")));
    }
    finish(*p);

    if (cfg_.max_jobs > 0 && w.jobs_done >= cfg_.max_jobs && !stopping_) {
        // Recycle: the worker sees EOF and exits; a fresh one takes its slot at once.
        ++counters_.recycled;
        w.retiring = true;
        w.st = state::gone;
        boost::system::error_code ec;
        w.sock.shutdown(asio::socket_base::shutdown_send, ec);
        log_->debug("worker slot={} pid={} recycled after {} jobs", w.slot, w.pid, w.jobs_done);
        try {
            spawn(w.slot, true);
        } catch (std::exception const& e) {
            log_->error("worker slot={} could not be replaced: {}; retrying in 1 s", w.slot, e.what());
            respawn_later(w.slot, 1s);
        }
    } else {
        w.st = state::idle;
    }
    dispatch();
    return true;
}

void worker_pool::on_timeout(std::shared_ptr<worker> const& w)
{
    pending* p = w->job;
    w->job = nullptr;
    p->w = nullptr;
    ++counters_.timeouts;
    w->killed = true;
    w->st = state::gone;
    ::kill(w->pid, SIGKILL);
    boost::system::error_code ec;
    w->sock.close(ec);  // ends the read loop (→ on_gone → replacement) and any write in flight
    log_->warn("worker slot={} pid={} killed: job ran past {} ms", w->slot, w->pid, cfg_.job_timeout.count());
    p->error = std::make_exception_ptr(pool_error(
        504, "job_timeout",
        fmt::format("the job ran past its deadline of {} ms; its worker was stopped", cfg_.job_timeout.count())));
    finish(*p);
}

void worker_pool::on_gone(std::shared_ptr<worker> const& w, std::string const& why)
{
    if (w->ended)
        return;
    w->ended = true;
    w->st = state::gone;
    w->deadline.cancel();
    boost::system::error_code ec;
    w->sock.close(ec);
    if (w->retiring)
        return;  // recycled or stopping: expected
    // Only workers that die before answering any job make a crash loop (a start-up that
    // fails, a job that kills every fresh worker in turn); one that has served jobs and is
    // then killed (from outside, by the OOM killer, by a poison input) is replaced at once.
    bool const fresh = w->jobs_done == 0;
    if (!w->killed) {
        // It may still be running (a protocol error): make sure it is gone; SIGCHLD reaps it.
        ::kill(w->pid, SIGKILL);
        ++counters_.crashes;
        if (fresh)
            ++crash_streak_;
    }
    if (w->job != nullptr) {
        pending* p = w->job;
        w->job = nullptr;
        p->w = nullptr;
        p->error = std::make_exception_ptr(pool_error(
            500, "worker_crashed", "the worker process running this job died; the job was not retried"));
        finish(*p);
    }
    if (stopping_ || slots_[w->slot] != w)
        return;
    // Back off when workers keep dying, so a crash loop cannot spin.
    auto delay = 0ms;
    if (!w->killed && fresh && crash_streak_ > 1)
        delay = std::min<std::chrono::milliseconds>(5000ms, 100ms * (1u << std::min(crash_streak_ - 2, 6u)));
    if (!w->killed)
        log_->warn("worker slot={} pid={} died ({}); respawning in {} ms", w->slot, w->pid, why, delay.count());
    respawn_later(w->slot, delay);
    dispatch();
}

void worker_pool::finish(pending& p)
{
    p.finished = true;
    p.w = nullptr;
    p.done.cancel();
}

void worker_pool::watch_children()
{
    sigchld_.async_wait([this](boost::system::error_code ec, int) {
        if (ec)
            return;
        reap();
        watch_children();
    });
}

void worker_pool::reap()
{
    // Every child, whoever it was: as PID 1 in a container nothing else would.
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        children_.erase(pid);
        if (WIFSIGNALED(status))
            log_->debug("child pid={} reaped, killed by signal {}", pid, WTERMSIG(status));
        else
            log_->debug("child pid={} reaped, exit code {}", pid, WEXITSTATUS(status));
    }
}

void worker_pool::kill_all() noexcept
{
    stopping_ = true;
    for (auto const& [pid, slot] : children_)
        ::kill(pid, SIGKILL);
    for (auto const& [pid, slot] : children_)
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }  // quick: each was just SIGKILLed (SIGCHLD itself interrupts the wait)
    children_.clear();
}

asio::awaitable<void> worker_pool::stop(std::chrono::milliseconds grace)
{
    STEADYLOOP_ASSERT_ON_LOOP();
    stopping_ = true;
    for (auto& t : respawn_timers_)
        if (t)
            t->cancel();
    while (!queue_.empty()) {
        pending* p = queue_.front();
        queue_.pop_front();
        p->error = std::make_exception_ptr(pool_error(503, "shutting_down", "the service is shutting down", true));
        finish(*p);
    }
    // Each worker reads EOF after its current job and exits.
    for (auto& w : slots_) {
        if (!w)
            continue;
        w->retiring = true;
        boost::system::error_code ec;
        w->sock.shutdown(asio::socket_base::shutdown_send, ec);
    }
    asio::steady_timer tick(ioc_);
    auto wait_reaped = [&](std::chrono::milliseconds limit) -> asio::awaitable<void> {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!children_.empty() && std::chrono::steady_clock::now() < deadline) {
            reap();
            tick.expires_after(5ms);
            co_await tick.async_wait(use_tuple);
        }
        reap();
    };
    co_await wait_reaped(grace);
    if (!children_.empty()) {
        log_->warn("{} workers still running after {} ms; killing them", children_.size(), grace.count());
        for (auto const& [pid, slot] : children_)
            ::kill(pid, SIGKILL);
        co_await wait_reaped(2000ms);
    }
    for (auto& w : slots_)
        if (w) {
            boost::system::error_code ec;
            w->sock.close(ec);
        }
    boost::system::error_code ec;
    sigchld_.cancel(ec);
}

}  // namespace steadyloop::pools
