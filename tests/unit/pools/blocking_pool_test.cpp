#include "steadyloop/pools/blocking_pool.hpp"

#include "run_async.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

using namespace steadyloop;
using boost::asio::awaitable;
using namespace std::chrono_literals;

namespace {

// Waits on the loop (without blocking it) until `pred` holds.
awaitable<void> wait_until(std::function<bool()> pred)
{
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor);
    while (!pred()) {
        t.expires_after(1ms);
        co_await t.async_wait(boost::asio::use_awaitable);
    }
}

}  // namespace

TEST(blocking_pool, returns_the_value_computed_off_the_loop)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(2, 4);
    auto loop_thread = std::this_thread::get_id();
    auto [value, thread] = test::run_async(ioc, [&]() -> awaitable<std::pair<std::string, std::thread::id>> {
        co_return co_await pool.run([] { return std::pair{std::string("done"), std::this_thread::get_id()}; });
    }());
    EXPECT_EQ(value, "done");
    EXPECT_NE(thread, loop_thread);
    EXPECT_EQ(pool.stats().completed, 1u);
}

TEST(blocking_pool, resumes_the_awaiting_coroutine_on_the_loop)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(1, 1);
    bool on_loop_after = test::run_async(ioc, [&]() -> awaitable<bool> {
        co_await pool.run([] {});
        co_return loop::on_loop();
    }());
    EXPECT_TRUE(on_loop_after);
}

TEST(blocking_pool, rethrows_the_job_exception_on_the_loop)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(1, 1);
    auto run = [&]() -> awaitable<int> { co_return co_await pool.run([]() -> int { throw std::out_of_range("nope"); }); };
    try {
        test::run_async(ioc, run());
        FAIL() << "expected the job's exception";
    } catch (std::out_of_range const& e) {
        EXPECT_STREQ(e.what(), "nope");
    }
    EXPECT_EQ(pool.stats().busy, 0u);
}

TEST(blocking_pool, rejects_at_once_beyond_threads_plus_queue)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(1, 1);
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::atomic<int> started{0};

    auto scenario = [&]() -> awaitable<std::string> {
        auto ex = co_await boost::asio::this_coro::executor;
        // Two admitted jobs (one running, one queued) fill the pool.
        for (int i = 0; i < 2; ++i)
            boost::asio::co_spawn(ex, pool.run([gate, &started] { ++started; gate.wait(); }),
                                  boost::asio::detached);
        co_await wait_until([&] { return started.load() == 1; });
        std::string code;
        try {
            co_await pool.run([] {});
        } catch (pools::pool_full const& e) {
            code = e.code();
        }
        release.set_value();
        co_await wait_until([&] { return pool.stats().completed == 2; });
        co_return code;
    };
    EXPECT_EQ(test::run_async(ioc, scenario()), "blocking_pool_full");
    auto s = pool.stats();
    EXPECT_EQ(s.rejected, 1u);
    EXPECT_EQ(s.completed, 2u);
    EXPECT_EQ(started.load(), 2);
}

TEST(blocking_pool, admits_again_once_jobs_finish)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(1, 0);
    int sum = test::run_async(ioc, [&]() -> awaitable<int> {
        int total = 0;
        for (int i = 1; i <= 5; ++i)
            total += co_await pool.run([i] { return i; });
        co_return total;
    }());
    EXPECT_EQ(sum, 15);
    EXPECT_EQ(pool.stats().rejected, 0u);
}

TEST(blocking_pool, never_starts_a_queued_job_whose_requester_left)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(1, 4);
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::atomic<bool> first_started{false};
    std::atomic<bool> second_ran{false};
    pools::cancel_source gone;

    auto scenario = [&]() -> awaitable<bool> {
        auto ex = co_await boost::asio::this_coro::executor;
        boost::asio::co_spawn(ex, pool.run([gate, &first_started] { first_started = true; gate.wait(); }),
                              boost::asio::detached);
        co_await wait_until([&] { return first_started.load(); });
        // The second job waits in the queue; its client leaves; then the thread frees up.
        bool cancelled = false;
        auto second = [&]() -> awaitable<void> {
            try {
                co_await pool.run([&] { second_ran = true; }, gone.token());
            } catch (pools::job_cancelled const&) {
                cancelled = true;
            }
        };
        boost::asio::co_spawn(ex, second(), boost::asio::detached);
        co_await wait_until([&] { return pool.stats().queued == 1; });
        gone.cancel();
        release.set_value();
        co_await wait_until([&] { return pool.stats().queued == 0 && pool.stats().busy == 0 && cancelled; });
        co_return cancelled;
    };
    EXPECT_TRUE(test::run_async(ioc, scenario()));
    EXPECT_FALSE(second_ran.load());
    EXPECT_EQ(pool.stats().cancelled, 1u);
    EXPECT_EQ(pool.stats().completed, 1u);
}

TEST(blocking_pool, reports_busy_and_queued_while_jobs_wait)
{
    boost::asio::io_context ioc{1};
    pools::blocking_pool pool(2, 8);
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::atomic<int> started{0};
    auto scenario = [&]() -> awaitable<pools::blocking_pool_stats> {
        auto ex = co_await boost::asio::this_coro::executor;
        for (int i = 0; i < 5; ++i)
            boost::asio::co_spawn(ex, pool.run([gate, &started] { ++started; gate.wait(); }),
                                  boost::asio::detached);
        co_await wait_until([&] { return started.load() == 2; });
        auto during = pool.stats();
        release.set_value();
        co_await wait_until([&] { return pool.stats().completed == 5; });
        co_return during;
    };
    auto during = test::run_async(ioc, scenario());
    EXPECT_EQ(during.threads, 2u);
    EXPECT_EQ(during.busy, 2u);
    EXPECT_EQ(during.queued, 3u);
    EXPECT_EQ(during.capacity, 8u);
}
