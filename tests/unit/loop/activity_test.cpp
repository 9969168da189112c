#include "steadyloop/loop/activity.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace steadyloop::loop;
namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(activity_board, names_the_request_of_the_running_tag_until_its_turn_ends)
{
    activity_board board;
    EXPECT_FALSE(board.read().running);
    auto h = board.acquire();
    board.tag(h) = {"GET /demo/io", "req-1"};
    bool const nested = board.enter(h);
    EXPECT_FALSE(nested);
    auto s = board.read();
    EXPECT_TRUE(s.running);
    EXPECT_EQ(s.route, "GET /demo/io");
    EXPECT_EQ(s.request_id, "req-1");
    board.tag(h) = {"PUT /kv/{key}", "req-2"};
    board.update(h);
    EXPECT_EQ(board.read().route, "PUT /kv/{key}");
    board.leave(nested);
    EXPECT_FALSE(board.read().running);
    board.release(h);
}

TEST(activity_board, cuts_long_texts_to_its_capacity)
{
    activity_board board;
    auto h = board.acquire();
    board.tag(h) = {std::string(500, 'r'), std::string(300, 'i')};
    board.enter(h);
    auto s = board.read();
    EXPECT_EQ(s.route, std::string(activity_board::route_capacity, 'r'));
    EXPECT_EQ(s.request_id, std::string(activity_board::id_capacity, 'i'));
}

TEST(activity_board, a_released_handle_shows_no_request_even_when_its_slot_is_reused)
{
    activity_board board;
    auto old = board.acquire();
    board.tag(old) = {"GET /old", "old-id"};
    board.release(old);
    auto fresh = board.acquire();
    EXPECT_EQ(fresh.index, old.index);  // the slot is reused…
    EXPECT_NE(fresh, old);              // …under a new generation
    board.tag(fresh) = {"GET /new", "new-id"};
    board.enter(old);  // a late handler of the connection that is gone
    auto s = board.read();
    EXPECT_TRUE(s.route.empty());
    EXPECT_TRUE(s.request_id.empty());
    board.enter(fresh);
    EXPECT_EQ(board.read().route, "GET /new");
}

TEST(activity_board, a_reader_on_another_thread_sees_whole_texts_only)
{
    activity_board board;
    auto a = board.acquire();
    auto b = board.acquire();
    board.tag(a) = {std::string(100, 'a'), std::string(100, 'A')};
    board.tag(b) = {std::string(60, 'b'), std::string(20, 'B')};
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0};
    std::thread reader([&] {
        while (!stop.load()) {
            auto s = board.read();
            bool const is_a = s.route == std::string(100, 'a') && s.request_id == std::string(100, 'A');
            bool const is_b = s.route == std::string(60, 'b') && s.request_id == std::string(20, 'B');
            if (!is_a && !is_b && !(s.route.empty() && s.request_id.empty()))
                ++torn;
        }
    });
    for (int i = 0; i < 200000; ++i) {
        board.enter(i % 2 ? a : b);
        board.leave(false);
    }
    stop = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0);
}

// A coroutine spawned on a tagged executor is named on the board whenever it runs, also
// after it resumed from a wait, and not while other work runs.
TEST(tagged_executor, names_a_coroutine_each_time_it_resumes)
{
    asio::io_context ioc(1);
    activity_board board;
    auto ha = board.acquire();
    auto hb = board.acquire();
    board.tag(ha) = {"GET /a", "a"};
    board.tag(hb) = {"GET /b", "b"};
    std::vector<std::string> seen;
    auto body = [&](std::chrono::milliseconds step) -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 3; ++i) {
            seen.push_back(board.read().route);
            t.expires_after(step);
            co_await t.async_wait(asio::use_awaitable);
        }
        seen.push_back(board.read().route);
    };
    asio::co_spawn(tagged_executor(ioc.get_executor(), &board, ha), body(3ms), asio::detached);
    asio::co_spawn(tagged_executor(ioc.get_executor(), &board, hb), body(5ms), asio::detached);
    std::string plain = "unset";
    bool plain_running = true;
    asio::post(ioc, [&] {
        plain_running = board.read().running;
        plain = board.read().route;
    });
    ioc.run();
    ASSERT_EQ(seen.size(), 8u);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), "GET /a"), 4);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), "GET /b"), 4);
    EXPECT_FALSE(plain_running);  // untagged work is nobody's request
    EXPECT_FALSE(board.read().running);
}

// The completion of a coroutine spawned on a tagged executor may release the tag (as a
// server does when a connection ends); handlers still pending for it are then harmless.
TEST(tagged_executor, survives_handlers_that_run_after_their_connection_is_released)
{
    asio::io_context ioc(1);
    activity_board board;
    for (int round = 0; round < 50; ++round) {
        auto h = board.acquire();
        board.tag(h) = {"GET /gone", std::to_string(round)};
        auto ex = tagged_executor(ioc.get_executor(), &board, h);
        auto body = []() -> asio::awaitable<void> {
            // A timer whose cancelled wait completes after the coroutine ended.
            auto t = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, 1h);
            t->async_wait([t](boost::system::error_code) {});
            co_return;
        };
        asio::co_spawn(ex, body(), [&board, h](std::exception_ptr) { board.release(h); });
    }
    ioc.run_for(200ms);
    EXPECT_FALSE(board.read().running);
}
