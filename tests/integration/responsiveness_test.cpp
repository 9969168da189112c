// The loop stays free: slow clients, blocking-pool sleeps and async waits do not delay
// anyone else, an inline sleep does (and /loop shows it), and the blocking pool sheds
// load and skips the jobs of clients that left.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace itest;
using clock_type = std::chrono::steady_clock;

std::future<reply> get_async(unsigned short port, std::string target, std::chrono::milliseconds timeout = 8s)
{
    return std::async(std::launch::async, [port, target = std::move(target), timeout] {
        return get(port, target, {}, timeout);
    });
}

bool pool_shows(unsigned short port, std::string_view field, double value)
{
    return number_at(loop_snapshot(port), std::string("blocking_pool/") + std::string(field)) == value;
}

TEST(demo_io, waits_the_requested_time_in_each_mode)
{
    server_process srv;
    double completed_before = 0;
    for (std::string mode : {"async", "thread", "inline"}) {
        SCOPED_TRACE(mode);
        auto r = get(srv.port(), "/demo/io?ms=200&mode=" + mode);
        ASSERT_EQ(r.status(), 200u) << r;
        EXPECT_TRUE(has_standard_headers(r));
        auto j = r.json();
        EXPECT_EQ(j.at("mode").as_string(), mode);
        EXPECT_EQ(j.at("ms").to_number<int>(), 200);
        double const elapsed = j.at("elapsed_ms").to_number<double>();
        EXPECT_GE(elapsed, 200.0);
        EXPECT_LT(elapsed, 1000.0);
        // The client saw the same wait, plus a little transport.
        EXPECT_GE(r.elapsed_ms(), elapsed - 0.5);
        EXPECT_LT(r.elapsed_ms(), elapsed + 300.0);
        // Only mode=thread uses the blocking pool.
        double const completed = number_at(loop_snapshot(srv.port()), "blocking_pool/completed");
        EXPECT_EQ(completed - completed_before, mode == "thread" ? 1.0 : 0.0);
        completed_before = completed;
    }
}

TEST(demo_io, is_not_there_with_demo_off)
{
    server_process srv({"--demo", "off"});
    EXPECT_TRUE(is_problem(get(srv.port(), "/demo/io?ms=1"), 404, "not_found"));
    EXPECT_EQ(get(srv.port(), "/ping").status(), 200u);
}

TEST(loop, stays_responsive_while_the_blocking_pool_sleeps)
{
    server_process srv;
    std::vector<std::future<reply>> sleeps;
    auto const started = clock_type::now();
    for (int i = 0; i < 4; ++i)
        sleeps.push_back(get_async(srv.port(), "/demo/io?ms=1000&mode=thread"));
    ASSERT_TRUE(eventually([&] { return pool_shows(srv.port(), "busy", 4); }, 3s));

    connection c(srv.port());
    double worst = 0;
    for (int i = 0; i < 20; ++i) {
        auto r = c.get("/ping");
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_LT(r.elapsed_ms(), 50.0) << "ping " << i;
        worst = std::max(worst, r.elapsed_ms());
    }
    // The pings really ran while the four sleeps were going on.
    for (auto& f : sleeps)
        EXPECT_EQ(f.wait_for(0s), std::future_status::timeout) << "the pings took too long to overlap the sleeps";

    for (auto& f : sleeps) {
        auto r = f.get();
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_GE(r.json().at("elapsed_ms").to_number<double>(), 1000.0);
    }
    // Four threads slept side by side, not one after the other.
    EXPECT_LT(clock_type::now() - started, 1900ms);

    auto loop = loop_snapshot(srv.port());
    EXPECT_GT(number_at(loop, "lag_ms/samples"), 50);
    EXPECT_LT(number_at(loop, "lag_ms/max"), 50.0) << boost::json::serialize(loop);
    EXPECT_EQ(number_at(loop, "blocking_pool/completed"), 4);
    EXPECT_EQ(number_at(loop, "blocking_pool/busy"), 0);
    std::cout << "worst ping during thread sleeps: " << worst << " ms\n";
}

TEST(loop, stays_responsive_during_async_waits)
{
    server_process srv;
    std::vector<std::future<reply>> waits;
    for (int i = 0; i < 8; ++i)
        waits.push_back(get_async(srv.port(), "/demo/io?ms=600&mode=async"));
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "in_flight") >= 9; }, 3s));
    connection c(srv.port());
    for (int i = 0; i < 10; ++i)
        EXPECT_LT(c.get("/ping").elapsed_ms(), 50.0);
    for (auto& f : waits)
        EXPECT_EQ(f.get().status(), 200u);
    EXPECT_LT(number_at(loop_snapshot(srv.port()), "lag_ms/max"), 50.0);
}

TEST(loop, stalls_every_client_while_an_inline_sleep_runs)
{
    server_process srv;
    connection slow(srv.port());
    slow.send(make_request("GET", "/demo/io?ms=1000&mode=inline"));
    std::this_thread::sleep_for(100ms);

    auto ping = get(srv.port(), "/ping", {}, 5s);
    EXPECT_EQ(ping.status(), 200u) << ping;
    EXPECT_GE(ping.elapsed_ms(), 500.0) << "a ping answered while the loop slept inline";

    auto r = slow.read_response(false, 5s);
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_GE(r.json().at("elapsed_ms").to_number<double>(), 1000.0);

    auto loop = loop_snapshot(srv.port());
    EXPECT_GE(number_at(loop, "lag_ms/max"), 500.0) << boost::json::serialize(loop);
    EXPECT_GE(number_at(loop, "lag_ms/since_start_max"), 500.0);
}

TEST(http_server, serves_others_while_a_client_sends_its_header_slowly)
{
    server_process srv;
    std::string const req = make_request("GET", "/ping", {{"X-Request-Id", "slow-1"}});
    auto slow = std::async(std::launch::async, [&] {
        connection c(srv.port());
        // One header byte per second for three seconds, then the rest.
        for (std::size_t i = 0; i < 3; ++i) {
            c.send(req.substr(i, 1));
            std::this_thread::sleep_for(1s);
        }
        c.send(req.substr(3));
        return c.read_response();
    });

    int answered = 0;
    double worst = 0;
    while (slow.wait_for(100ms) == std::future_status::timeout) {
        connection c(srv.port());
        auto r = c.get("/ping");
        EXPECT_EQ(r.status(), 200u) << r;
        worst = std::max(worst, r.elapsed_ms());
        ++answered;
    }
    EXPECT_GE(answered, 10);
    EXPECT_LT(worst, 50.0);
    auto r = slow.get();
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.header("X-Request-Id"), "slow-1");
}

TEST(blocking_pool, answers_503_at_once_when_threads_and_queue_are_full)
{
    server_process srv({"--blocking-threads", "1", "--blocking-queue", "1"});
    auto first = get_async(srv.port(), "/demo/io?ms=1500&mode=thread");
    ASSERT_TRUE(eventually([&] { return pool_shows(srv.port(), "busy", 1); }, 3s));
    auto second = get_async(srv.port(), "/demo/io?ms=1500&mode=thread");
    ASSERT_TRUE(eventually([&] { return pool_shows(srv.port(), "queued", 1); }, 3s));

    auto r = get(srv.port(), "/demo/io?ms=1500&mode=thread");
    EXPECT_TRUE(is_problem(r, 503, "blocking_pool_full"));
    EXPECT_EQ(r.header("Retry-After"), "1") << r;
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_LT(r.elapsed_ms(), 200.0) << "load shedding must not wait";

    auto loop = loop_snapshot(srv.port());
    EXPECT_GE(number_at(loop, "blocking_pool/rejected"), 1);
    EXPECT_EQ(number_at(loop, "blocking_pool/threads"), 1);
    EXPECT_EQ(number_at(loop, "blocking_pool/capacity"), 1);

    auto r1 = first.get();
    auto r2 = second.get();
    EXPECT_EQ(r1.status(), 200u) << r1;
    EXPECT_EQ(r2.status(), 200u) << r2;
    // The second waited in the queue for the first.
    EXPECT_GE(r2.json().at("elapsed_ms").to_number<double>(), 2500.0) << r2;
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "blocking_pool/completed"), 2);
}

TEST(blocking_pool, never_starts_a_queued_job_whose_client_left)
{
    server_process srv({"--blocking-threads", "1", "--blocking-queue", "4"});
    auto first = get_async(srv.port(), "/demo/io?ms=1000&mode=thread");
    ASSERT_TRUE(eventually([&] { return pool_shows(srv.port(), "busy", 1); }, 3s));
    {
        connection gone(srv.port());
        gone.send(make_request("GET", "/demo/io?ms=1000&mode=thread"));
        ASSERT_TRUE(eventually([&] { return pool_shows(srv.port(), "queued", 1); }, 3s));
    }  // closed while its job waits in the queue

    auto r = first.get();
    EXPECT_EQ(r.status(), 200u) << r;
    // Had the second job started, the thread would stay busy for another second.
    ASSERT_TRUE(eventually(
        [&] {
            auto loop = loop_snapshot(srv.port());
            return number_at(loop, "blocking_pool/busy") == 0 && number_at(loop, "blocking_pool/queued") == 0;
        },
        3s));
    auto loop = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(loop, "blocking_pool/cancelled"), 1) << boost::json::serialize(loop);
    EXPECT_EQ(number_at(loop, "blocking_pool/completed"), 1) << boost::json::serialize(loop);
    // The abandoned request left nothing behind.
    EXPECT_EQ(number_at(loop, "in_flight"), 1);
    EXPECT_EQ(number_at(loop, "connections"), 1);
}

}  // namespace
