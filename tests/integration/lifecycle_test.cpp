// The process around the server: configuration (flags, environment, exit codes),
// graceful shutdown on SIGTERM/SIGINT, connection timeouts, and the log it writes.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <regex>
#include <set>
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

// ---- configuration -------------------------------------------------------------------

TEST(config, exits_2_for_an_unknown_option)
{
    auto r = run_binary({"--no-such-option"});
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, exit_status::exited(2)) << r.output;
    EXPECT_NE(r.output.find("--no-such-option"), std::string::npos) << r.output;
}

TEST(config, exits_2_for_a_port_out_of_range)
{
    auto r = run_binary({"--port", "70000", "--address", "127.0.0.1"});
    EXPECT_EQ(r.status, exit_status::exited(2)) << r.output;
    EXPECT_NE(r.output.find("--port"), std::string::npos) << r.output;
}

TEST(config, exits_2_for_a_bad_value_in_an_environment_variable)
{
    auto r = run_binary({"--address", "127.0.0.1"}, {{"STEADYLOOP_PORT", "abc"}});
    EXPECT_EQ(r.status, exit_status::exited(2)) << r.output;
}

TEST(config, exits_2_for_other_bad_values)
{
    std::vector<std::vector<std::string>> const cases = {
        {"--port", "-1"},           {"--port", "12ab"},          {"--blocking-threads", "0"},
        {"--demo", "maybe"},        {"--log-format", "xml"},     {"--address", "nonsense"},
        {"--max-connections", "0"}, {"--log-level", "loud"},     {"--blocking-queue", "x"},
        {"stray-positional"},       {"--shutdown-grace-ms", "-5"},
    };
    for (auto const& args : cases) {
        SCOPED_TRACE(args.front() + (args.size() > 1 ? " " + args[1] : ""));
        auto r = run_binary(args, {}, 3s);
        EXPECT_EQ(r.status, exit_status::exited(2)) << r.output;
    }
}

TEST(config, prints_help_naming_the_environment_variables)
{
    auto r = run_binary({"--help"});
    EXPECT_EQ(r.status, exit_status::exited(0)) << r.output;
    for (auto name : {"--blocking-queue", "STEADYLOOP_BLOCKING_QUEUE", "STEADYLOOP_BLOCKING_THREADS", "STEADYLOOP_PORT",
                      "STEADYLOOP_MAX_CONNECTIONS", "STEADYLOOP_SHUTDOWN_GRACE_MS", "STEADYLOOP_LOG_FORMAT",
                      "STEADYLOOP_DEMO"})
        EXPECT_NE(r.output.find(name), std::string::npos) << name << " missing from --help:\n" << r.output;
}

TEST(config, reads_options_from_environment_variables)
{
    server_process srv({}, {{"STEADYLOOP_DEMO", "off"}, {"STEADYLOOP_BLOCKING_THREADS", "3"}});
    EXPECT_TRUE(is_problem(get(srv.port(), "/demo/io?ms=0"), 404, "not_found"));
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "blocking_pool/threads"), 3);
}

TEST(config, prefers_a_flag_to_its_environment_variable)
{
    server_process srv({"--demo", "on", "--blocking-threads", "5"},
                       {{"STEADYLOOP_DEMO", "off"}, {"STEADYLOOP_BLOCKING_THREADS", "3"}});
    EXPECT_EQ(get(srv.port(), "/demo/io?ms=0").status(), 200u);
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "blocking_pool/threads"), 5);
}

TEST(config, fails_to_start_when_the_port_is_taken)
{
    server_process first;
    auto r = run_binary({"--port", std::to_string(first.port()), "--address", "127.0.0.1", "--db", ":memory:"});
    EXPECT_FALSE(r.timed_out) << "a second server on a taken port kept running";
    EXPECT_NE(r.status.code, 0) << r.output;
    EXPECT_NE(r.output.find("cannot listen"), std::string::npos) << r.output;
    // The first one is unharmed.
    EXPECT_EQ(get(first.port(), "/ping").status(), 200u);
}

// The harness itself: a server that does not start is a clear failure, not a hang.
TEST(config, reports_a_server_that_does_not_start_with_its_output)
{
    try {
        server_process srv({"--no-such-option"});
        ADD_FAILURE() << "a server with an unknown option started on port " << srv.port();
    } catch (std::runtime_error const& e) {
        std::string const what = e.what();
        EXPECT_NE(what.find("exit code 2"), std::string::npos) << what;
        EXPECT_NE(what.find("--no-such-option"), std::string::npos) << what;
    }
}

// ---- shutdown -------------------------------------------------------------------------

TEST(lifecycle, exits_0_on_sigterm_when_idle)
{
    server_process srv;
    auto start = clock_type::now();
    srv.terminate();
    auto st = srv.wait_exit(5s);
    ASSERT_TRUE(st.has_value()) << srv.log();
    EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    EXPECT_LT(clock_type::now() - start, 1s);
}

TEST(lifecycle, exits_0_on_sigint)
{
    server_process srv;
    ASSERT_EQ(::kill(srv.pid(), SIGINT), 0);
    auto st = srv.wait_exit(5s);
    ASSERT_TRUE(st.has_value()) << srv.log();
    EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
}

TEST(lifecycle, drains_in_flight_requests_on_sigterm)
{
    server_process srv({"--blocking-threads", "10"});
    connection idle(srv.port());  // an open keep-alive connection with nothing in flight
    ASSERT_EQ(idle.get("/ping").status(), 200u);

    std::vector<std::future<reply>> jobs;
    for (int i = 0; i < 10; ++i)
        jobs.push_back(get_async(srv.port(), "/demo/io?ms=1000&mode=thread"));
    ASSERT_TRUE(eventually(
        [&] { return number_at(loop_snapshot(srv.port()), "blocking_pool/busy") == 10; }, 3s));

    auto const signalled = clock_type::now();
    srv.terminate();

    // The listener closes: new connections are refused.
    EXPECT_TRUE(eventually(
        [&] { return connection::connect_error(srv.port()) == std::errc::connection_refused; }, 2s, 5ms));
    // The idle connection is closed; if it still answers anything, it is not "ready".
    if (idle.try_send(make_request("GET", "/readyz"))) {
        if (auto r = idle.try_read_response(false, 3s)) {
            EXPECT_TRUE(is_problem(*r, 503, "draining"));
        }
    }
    EXPECT_TRUE(idle.wait_closed(3s)) << "an idle keep-alive connection stayed open during the drain";

    // Every in-flight request finishes, and says the connection closes.
    for (auto& f : jobs) {
        auto r = f.get();
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_FALSE(r.message.keep_alive()) << r;
        EXPECT_GE(r.json().at("elapsed_ms").to_number<double>(), 1000.0);
    }
    auto st = srv.wait_exit(5s);
    ASSERT_TRUE(st.has_value()) << "still running 5 s after the last request\n" << srv.log();
    EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    EXPECT_LT(clock_type::now() - signalled, 3s);
}

TEST(lifecycle, refuses_new_connections_while_an_async_request_finishes)
{
    server_process srv;
    connection busy(srv.port());
    busy.send(make_request("GET", "/demo/io?ms=800&mode=async"));
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "in_flight") == 2; }, 3s));
    srv.terminate();
    ASSERT_TRUE(eventually(
        [&] { return connection::connect_error(srv.port()) == std::errc::connection_refused; }, 2s, 5ms));
    auto r = busy.read_response(false, 3s);
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.header("Connection"), "close") << r;
    EXPECT_TRUE(busy.wait_closed(2s));
    auto st = srv.wait_exit(3s);
    ASSERT_TRUE(st.has_value()) << srv.log();
    EXPECT_EQ(*st, exit_status::exited(0));
}

// API.md: in-flight requests finish "up to the grace period", then the process exits.
TEST(lifecycle, exits_soon_after_the_grace_period_with_a_long_request_in_flight)
{
    server_process srv({"--shutdown-grace-ms", "300"});
    connection c(srv.port());
    c.send(make_request("GET", "/demo/io?ms=8000&mode=async"));
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "in_flight") == 2; }, 3s));

    auto const signalled = clock_type::now();
    srv.terminate();
    // The request outlives the grace period: its connection is closed unanswered.
    EXPECT_FALSE(c.try_read_response(false, 3s).has_value());
    auto st = srv.wait_exit(3s);
    auto const took = std::chrono::duration<double, std::milli>(clock_type::now() - signalled).count();
    EXPECT_TRUE(st.has_value()) << "still running " << took
                                << " ms after SIGTERM with --shutdown-grace-ms 300\n" << srv.log();
    if (st) {
        EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    }
    EXPECT_LT(took, 2000.0) << srv.log();
}

// ---- timeouts -------------------------------------------------------------------------

TEST(timeouts, closes_an_idle_keep_alive_connection)
{
    server_process srv({"--idle-timeout-ms", "300"});
    connection c(srv.port());
    ASSERT_EQ(c.get("/ping").status(), 200u);
    auto start = clock_type::now();
    EXPECT_TRUE(c.wait_closed(3s));
    auto took = clock_type::now() - start;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 1500ms);
}

TEST(timeouts, closes_a_connection_that_sends_nothing)
{
    server_process srv({"--header-timeout-ms", "300"});
    connection c(srv.port());
    auto start = clock_type::now();
    EXPECT_TRUE(c.wait_closed(3s));
    EXPECT_GE(clock_type::now() - start, 250ms);
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "connections"), 1);
}

TEST(timeouts, bounds_the_whole_header_however_slowly_it_trickles)
{
    server_process srv({"--header-timeout-ms", "300"});
    connection c(srv.port());
    std::string const req = make_request("GET", "/ping", {{"X-Pad", std::string(200, 'p')}});
    auto start = clock_type::now();
    bool closed = false;
    // A byte every 20 ms would take 5 s; the header timeout must end it long before.
    for (std::size_t i = 0; i < req.size() - 4 && !closed; ++i) {
        if (!c.try_send(req.substr(i, 1)))
            break;
        closed = c.wait_closed(20ms);
    }
    auto took = clock_type::now() - start;
    EXPECT_TRUE(closed || c.wait_closed(1s));
    EXPECT_LT(took, 1500ms);
    EXPECT_GE(took, 250ms);
}

TEST(timeouts, closes_a_connection_whose_body_stalls)
{
    server_process srv({"--body-timeout-ms", "300"});
    connection c(srv.port());
    c.send("GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello");
    auto start = clock_type::now();
    EXPECT_TRUE(c.wait_closed(3s));
    EXPECT_GE(clock_type::now() - start, 250ms);
    // The server is fine afterwards, and the abandoned request is not counted as in flight.
    auto loop = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(loop, "in_flight"), 1);
    EXPECT_EQ(number_at(loop, "connections"), 1);
}

// ---- logging --------------------------------------------------------------------------

TEST(logging, writes_one_json_object_per_line_with_log_format_json)
{
    server_process srv({"--log-format", "json"});
    EXPECT_EQ(get(srv.port(), "/ping", {{"X-Request-Id", "json-log-1"}}).status(), 200u);
    EXPECT_EQ(get(srv.port(), "/no/such?x=%22q%22").status(), 404u);
    connection bad(srv.port());
    EXPECT_EQ(bad.request("BAD\r\n\r\n").status(), 400u);
    srv.terminate();
    auto st = srv.wait_exit(5s);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, exit_status::exited(0));

    auto lines = srv.log_lines_after_listening();
    ASSERT_GE(lines.size(), 4u) << srv.log();
    std::regex const ts_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
    std::set<std::string> const levels = {"trace", "debug", "info", "warning", "error", "critical"};
    bool access_line = false;
    for (auto const& line : lines) {
        SCOPED_TRACE(line);
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        ASSERT_FALSE(ec) << "not JSON: " << ec.message();
        ASSERT_TRUE(v.is_object());
        auto const& o = v.get_object();
        for (auto key : {"ts", "level", "logger", "msg"}) {
            ASSERT_TRUE(o.contains(key) && o.at(key).is_string()) << "no string field " << key;
        }
        EXPECT_TRUE(std::regex_match(std::string(o.at("ts").as_string()), ts_re));
        EXPECT_TRUE(levels.contains(std::string(o.at("level").as_string())));
        EXPECT_FALSE(o.at("logger").as_string().empty());
        if (o.at("msg").as_string().find("json-log-1") != boost::json::string::npos)
            access_line = true;
    }
    EXPECT_TRUE(access_line) << "no log line names request json-log-1\n" << srv.log();
}

// A client controls the request target, and Beast lets raw bytes >= 0x80 through: the
// JSON log must still be valid JSON (UTF-8, RFC 8259) when one of them is not UTF-8.
TEST(logging, keeps_json_lines_valid_for_a_target_that_is_not_utf8)
{
    server_process srv({"--log-format", "json"});
    connection c(srv.port());
    auto r = c.request("GET /x\xff HTTP/1.1\r\nHost: x\r\nX-Request-Id: raw-ff\r\n\r\n");
    EXPECT_TRUE(is_problem(r, 400, "bad_request"));
    srv.terminate();
    ASSERT_TRUE(srv.wait_exit(5s).has_value());

    bool seen = false;
    for (auto const& line : srv.log_lines_after_listening()) {
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        EXPECT_FALSE(ec) << "not JSON (" << ec.message() << "): " << line;
        if (line.find("raw-ff") != std::string::npos)
            seen = true;
    }
    EXPECT_TRUE(seen) << srv.log();
}

TEST(logging, leaves_out_access_lines_below_the_log_level)
{
    server_process srv({"--log-level", "warn"});
    EXPECT_EQ(get(srv.port(), "/ping", {{"X-Request-Id", "quiet-1"}}).status(), 200u);
    srv.terminate();
    ASSERT_TRUE(srv.wait_exit(5s).has_value());
    auto log = srv.log();
    EXPECT_EQ(log.find("quiet-1"), std::string::npos) << log;
    EXPECT_EQ(log.find(" info "), std::string::npos) << log;
}

TEST(logging, writes_an_access_line_per_request_with_its_id)
{
    server_process srv;
    EXPECT_EQ(get(srv.port(), "/ping", {{"X-Request-Id", "text-log-7"}}).status(), 200u);
    EXPECT_EQ(get(srv.port(), "/nope", {{"X-Request-Id", "text-log-8"}}).status(), 404u);
    // Lines are written by a background thread: wait for them to appear.
    auto has = [&](std::string const& what) {
        return eventually([&] { return srv.log().find(what) != std::string::npos; }, 2s);
    };
    EXPECT_TRUE(has("req=text-log-7")) << srv.log();
    EXPECT_TRUE(has("req=text-log-8")) << srv.log();
    auto log = srv.log();
    EXPECT_TRUE(std::regex_search(log, std::regex(R"(GET "/ping" 200 .*req=text-log-7)"))) << log;
    EXPECT_TRUE(std::regex_search(log, std::regex(R"(GET "/nope" 404 .*req=text-log-8)"))) << log;
}

}  // namespace
