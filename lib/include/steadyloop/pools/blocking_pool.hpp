// The bounded blocking pool: threads for calls that block (SQLite, getaddrinfo, sleeps),
// behind an admission limit counted on the loop. `co_await pool.run(fn)` resumes on the
// loop with fn's value, or rethrows fn's exception there.
#pragma once

#include "steadyloop/loop/loop_thread.hpp"
#include "steadyloop/pools/cancel.hpp"
#include "steadyloop/pools/errors.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace steadyloop::pools {

struct blocking_pool_stats {
    std::size_t threads = 0;
    std::size_t busy = 0;
    std::size_t queued = 0;
    std::size_t capacity = 0;  // queue length beyond the threads
    std::uint64_t completed = 0;
    std::uint64_t rejected = 0;
    std::uint64_t cancelled = 0;
};

class blocking_pool {
public:
    // How much lower the pool threads' priority is than the loop's (a nice increment).
    static constexpr int thread_nice = 5;

    blocking_pool(std::size_t threads, std::size_t queue);
    ~blocking_pool();
    blocking_pool(blocking_pool const&) = delete;
    blocking_pool& operator=(blocking_pool const&) = delete;

    // Runs fn on a pool thread. Must be awaited on the loop. With g++ 12, pass a named
    // callable when it owns resources (captures a std::string by value, say): g++ 12
    // destroys such a temporary in a co_await expression twice. Throws pool_full at once
    // when threads + queue jobs are already admitted, job_cancelled when `token` was
    // cancelled before the job left the queue.
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&>> run(F fn, cancel_token token = {});

    blocking_pool_stats stats() const noexcept;

    // Stops taking queued jobs and waits for the running ones (shutdown).
    void join();

private:
    // What a job left behind for the awaiting coroutine.
    template <class R>
    struct outcome {
        std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value{};
        std::exception_ptr error;
    };

    void admit();
    void release() noexcept;

    boost::asio::thread_pool pool_;
    std::size_t threads_;
    std::size_t queue_;
    std::size_t admitted_ = 0;  // loop-only
    std::atomic<std::size_t> busy_{0};
    std::atomic<std::size_t> queued_{0};
    std::atomic<std::uint64_t> completed_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<std::uint64_t> cancelled_{0};
};

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> blocking_pool::run(F fn, cancel_token token)
{
    using R = std::invoke_result_t<F&>;
    STEADYLOOP_ASSERT_ON_LOOP();
    admit();  // throws pool_full
    struct release_on_exit {
        blocking_pool* p;
        ~release_on_exit() { p->release(); }
    } releaser{this};

    outcome<R> out;
    // Both fn and out live in this coroutine frame, which stays suspended until the job
    // has finished with them and the completion was posted back to the loop.
    co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(
        [this, &fn, &out, &token](auto handler) {
            auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
            boost::asio::post(pool_, [this, &fn, &out, &token, handler = std::move(handler),
                                      work = std::move(work)]() mutable {
                queued_.fetch_sub(1, std::memory_order_relaxed);
                if (token.cancelled()) {
                    cancelled_.fetch_add(1, std::memory_order_relaxed);
                    out.error = std::make_exception_ptr(job_cancelled{});
                } else {
                    busy_.fetch_add(1, std::memory_order_relaxed);
                    try {
                        if constexpr (std::is_void_v<R>) {
                            fn();
                            out.value = true;
                        } else {
                            out.value.emplace(fn());
                        }
                    } catch (...) {
                        out.error = std::current_exception();
                    }
                    busy_.fetch_sub(1, std::memory_order_relaxed);
                    completed_.fetch_add(1, std::memory_order_relaxed);
                }
                auto ex = work.get_executor();
                boost::asio::post(ex, std::move(handler));
                work.reset();
            });
        },
        boost::asio::use_awaitable);

    if (out.error)
        std::rethrow_exception(out.error);
    if constexpr (!std::is_void_v<R>)
        co_return std::move(*out.value);
}

}  // namespace steadyloop::pools
