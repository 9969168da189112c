#include "steadyloop/loop/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

using namespace steadyloop::loop;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// A loop with its lag timer running on a thread of its own, a board and a watchdog.
struct watched_loop {
    asio::io_context ioc{1};
    lag_monitor lag{ioc};
    activity_board board;
    std::mutex mutex;
    std::vector<stall> stalls;
    watchdog dog{lag, board, 60ms, [this](stall s) {
                     std::lock_guard lock(mutex);
                     stalls.push_back(std::move(s));
                 }};
    std::thread runner;

    watched_loop()
    {
        lag.start();
        dog.start();
        runner = std::thread([this] { ioc.run(); });
    }
    ~watched_loop()
    {
        dog.stop();
        asio::post(ioc, [this] { lag.stop(); });
        runner.join();
    }
    std::vector<stall> seen()
    {
        std::lock_guard lock(mutex);
        return stalls;
    }
};

}  // namespace

TEST(watchdog, names_the_request_that_blocks_the_loop_and_measures_the_stall)
{
    watched_loop w;
    auto h = w.board.acquire();
    w.board.tag(h) = {"GET /demo/io", "blocker-1"};
    std::this_thread::sleep_for(50ms);
    asio::post(tagged_executor(w.ioc.get_executor(), &w.board, h), [] { std::this_thread::sleep_for(300ms); });
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (w.seen().empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    auto stalls = w.seen();
    ASSERT_EQ(stalls.size(), 1u);
    EXPECT_EQ(w.dog.count(), 1u);
    EXPECT_EQ(stalls[0].route, "GET /demo/io");
    EXPECT_EQ(stalls[0].request_id, "blocker-1");
    EXPECT_GE(stalls[0].duration_ms, 290.0);
    EXPECT_LT(stalls[0].duration_ms, 1000.0);
}

TEST(watchdog, a_block_outside_any_request_is_a_stall_of_no_route)
{
    watched_loop w;
    std::this_thread::sleep_for(50ms);
    asio::post(w.ioc, [] { std::this_thread::sleep_for(250ms); });
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (w.seen().empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    auto stalls = w.seen();
    ASSERT_EQ(stalls.size(), 1u);
    EXPECT_EQ(stalls[0].route, "(none)");
    EXPECT_TRUE(stalls[0].request_id.empty());
}

TEST(watchdog, reports_nothing_while_the_loop_turns)
{
    watched_loop w;
    // Short work on the loop, well under the threshold, many times.
    for (int i = 0; i < 20; ++i) {
        asio::post(w.ioc, [] { std::this_thread::sleep_for(2ms); });
        std::this_thread::sleep_for(15ms);
    }
    EXPECT_EQ(w.dog.count(), 0u);
    EXPECT_TRUE(w.seen().empty());
}
