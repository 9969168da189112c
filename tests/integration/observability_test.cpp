// Seeing the loop: /metrics as Prometheus text whose counters follow the requests, the
// stall detector naming the route that blocked the loop (and staying quiet otherwise),
// /loop/stream as Server-Sent Events that drop a reader who stopped reading, and
// /demo/compare's measured executor table.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace itest;

// ---------------------------------------------------------------------------------------
// Prometheus text exposition, read strictly.

struct sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct exposition {
    std::map<std::string, std::string> types;  // family → counter, gauge, histogram, …
    std::set<std::string> helped;              // families with # HELP
    std::vector<sample> samples;
    std::vector<std::string> bad_lines;

    // The value of `name` whose labels include every one of `want`; -1 when absent.
    double value(std::string const& name, std::map<std::string, std::string> const& want = {}) const
    {
        for (auto const& s : samples) {
            if (s.name != name)
                continue;
            bool all = true;
            for (auto const& [k, v] : want)
                if (auto it = s.labels.find(k); it == s.labels.end() || it->second != v)
                    all = false;
            if (all)
                return s.value;
        }
        return -1;
    }
};

exposition parse_exposition(std::string const& text)
{
    static std::regex const help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
    static std::regex const type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
    static std::regex const line(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$)");
    static std::regex const label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
    exposition out;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) {
        std::smatch m;
        if (l.empty())
            continue;
        if (std::regex_match(l, m, help)) {
            out.helped.insert(m[1]);
        } else if (std::regex_match(l, m, type)) {
            out.types[m[1]] = m[2];
        } else if (std::regex_match(l, m, line)) {
            sample s;
            s.name = m[1];
            std::string labels = m[3];
            for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it)
                s.labels[(*it)[1]] = (*it)[2];
            s.value = std::stod(m[4]);
            out.samples.push_back(std::move(s));
        } else {
            out.bad_lines.push_back(l);
        }
    }
    return out;
}

// The family a sample belongs to: histogram series carry a suffix.
std::string family_of(std::string const& name, exposition const& e)
{
    if (e.types.contains(name))
        return name;
    for (std::string suffix : {"_bucket", "_sum", "_count"})
        if (name.ends_with(suffix)) {
            auto base = name.substr(0, name.size() - suffix.size());
            if (e.types.contains(base))
                return base;
        }
    return name;
}

exposition scrape(unsigned short port)
{
    auto r = get(port, "/metrics");
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return parse_exposition(r.body());
}

TEST(metrics, is_well_formed_prometheus_text_with_every_documented_family)
{
    server_process srv;
    get(srv.port(), "/ping");
    // The loop's lag histogram fills itself from the 10 ms timer.
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "lag_ms/samples") >= 3; }, 2s));
    auto r = get(srv.port(), "/metrics");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_TRUE(has_standard_headers(r));
    auto e = parse_exposition(r.body());
    EXPECT_TRUE(e.bad_lines.empty()) << "first malformed line: " << e.bad_lines.front();
    for (auto const& s : e.samples) {
        auto family = family_of(s.name, e);
        EXPECT_TRUE(e.types.contains(family)) << s.name << " has no # TYPE";
        EXPECT_TRUE(e.helped.contains(family)) << s.name << " has no # HELP";
    }
    std::map<std::string, std::string> const documented{
        {"steadyloop_http_requests_total", "counter"},
        {"steadyloop_http_request_duration_seconds", "histogram"},
        {"steadyloop_loop_lag_seconds", "histogram"},
        {"steadyloop_loop_stalls_total", "counter"},
        {"steadyloop_connections_open", "gauge"},
        {"steadyloop_in_flight_requests", "gauge"},
        {"steadyloop_blocking_pool_threads", "gauge"},
        {"steadyloop_blocking_pool_busy", "gauge"},
        {"steadyloop_blocking_pool_queued", "gauge"},
        {"steadyloop_blocking_pool_capacity", "gauge"},
        {"steadyloop_blocking_pool_completed_total", "counter"},
        {"steadyloop_blocking_pool_rejected_total", "counter"},
        {"steadyloop_worker_pool_workers", "gauge"},
        {"steadyloop_worker_pool_alive", "gauge"},
        {"steadyloop_worker_pool_busy", "gauge"},
        {"steadyloop_worker_pool_queued", "gauge"},
        {"steadyloop_worker_pool_capacity", "gauge"},
        {"steadyloop_worker_pool_completed_total", "counter"},
        {"steadyloop_worker_pool_rejected_total", "counter"},
        {"steadyloop_worker_pool_crashes_total", "counter"},
        {"steadyloop_worker_pool_timeouts_total", "counter"},
        {"steadyloop_worker_pool_recycled_total", "counter"},
        {"steadyloop_worker_pool_respawns_total", "counter"},
    };
    for (auto const& [name, type] : documented) {
        SCOPED_TRACE(name);
        ASSERT_TRUE(e.types.contains(name));
        EXPECT_EQ(e.types.at(name), type);
    }
    EXPECT_GE(e.value("steadyloop_loop_lag_seconds_count"), 3);
    EXPECT_EQ(e.value("steadyloop_loop_lag_seconds_bucket", {{"le", "+Inf"}}),
              e.value("steadyloop_loop_lag_seconds_count"));
    EXPECT_EQ(e.value("steadyloop_worker_pool_workers"), number_at(loop_snapshot(srv.port()), "worker_pool/workers"));
}

TEST(metrics, request_counters_and_histograms_follow_the_requests_made)
{
    server_process srv;
    auto const before = scrape(srv.port());
    double const pings_before =
        std::max(0.0, before.value("steadyloop_http_requests_total", {{"route", "/ping"}, {"status", "200"}}));

    connection c(srv.port());
    for (int i = 0; i < 7; ++i)
        ASSERT_EQ(c.get("/ping").status(), 200u);
    ASSERT_EQ(c.get("/kv/qqq1").status(), 404u);
    ASSERT_EQ(c.get("/kv/qqq2/qqq3").status(), 404u);
    ASSERT_EQ(c.get("/no/such/path/qqq4").status(), 404u);
    ASSERT_EQ(c.get("/demo/io?ms=1&mode=thread").status(), 200u);
    c.close();

    auto const after = scrape(srv.port());
    EXPECT_EQ(after.value("steadyloop_http_requests_total", {{"method", "GET"}, {"route", "/ping"}, {"status", "200"}}) -
                  pings_before,
              7);
    EXPECT_GE(after.value("steadyloop_http_request_duration_seconds_count", {{"method", "GET"}, {"route", "/ping"}}),
              7);
    // Routes are labelled by their pattern, never by the path asked for.
    EXPECT_EQ(after.value("steadyloop_http_requests_total", {{"route", "/kv/{key}"}, {"status", "404"}}), 2);
    EXPECT_EQ(after.value("steadyloop_http_requests_total", {{"route", "(none)"}, {"status", "404"}}), 1);
    for (auto const& s : after.samples)
        if (auto it = s.labels.find("route"); it != s.labels.end()) {
            EXPECT_EQ(it->second.find("qqq"), std::string::npos) << "a raw path leaked into a label: " << it->second;
        }
    // The pool totals are the pools' own counts: two key lookups and one sleep.
    EXPECT_EQ(after.value("steadyloop_blocking_pool_completed_total") -
                  std::max(0.0, before.value("steadyloop_blocking_pool_completed_total")),
              3);
    EXPECT_EQ(after.value("steadyloop_blocking_pool_threads"), number_at(loop_snapshot(srv.port()), "blocking_pool/threads"));
}

// ---------------------------------------------------------------------------------------
// The stall detector.

TEST(stalls, an_inline_demo_request_is_a_stall_that_names_its_route_and_request)
{
    server_process srv;
    auto before = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(before, "stalls/threshold_ms"), 100);
    double const count_before = number_at(before, "stalls/count");

    auto r = get(srv.port(), "/demo/io?mode=inline&ms=500", {{"X-Request-Id", "inline-stall-1"}});
    ASSERT_EQ(r.status(), 200u) << r;

    boost::json::object snap;
    ASSERT_TRUE(eventually(
        [&] {
            snap = loop_snapshot(srv.port());
            return snap.at("stalls").at("last").is_object();
        },
        2s));
    auto const& stalls = snap.at("stalls").as_object();
    EXPECT_EQ(number_at(snap, "stalls/count") - count_before, 1);
    auto const& last = stalls.at("last").as_object();
    EXPECT_EQ(last.at("route").as_string(), "GET /demo/io");
    EXPECT_EQ(last.at("request_id").as_string(), "inline-stall-1");
    double const duration = last.at("duration_ms").to_number<double>();
    EXPECT_GE(duration, 450.0);
    EXPECT_LT(duration, 2000.0);
    EXPECT_TRUE(std::regex_match(std::string(last.at("at").as_string()),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << last.at("at");

    // One warning in the log, naming the route; and the counter in /metrics.
    auto log = srv.log();
    EXPECT_NE(log.find("route=\"GET /demo/io\" req=inline-stall-1"), std::string::npos) << log;
    EXPECT_EQ(scrape(srv.port()).value("steadyloop_loop_stalls_total"), number_at(snap, "stalls/count"));
}

TEST(stalls, the_last_second_of_lag_shows_a_block_and_then_forgets_it)
{
    server_process srv;
    ASSERT_EQ(get(srv.port(), "/demo/io?mode=inline&ms=300").status(), 200u);
    auto snap = loop_snapshot(srv.port());
    EXPECT_GE(number_at(snap, "lag_ms/last_second/max"), 250.0);
    EXPECT_GE(number_at(snap, "lag_ms/max"), 250.0);
    // A second later the last second is quiet again; the 10 s window still remembers.
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "lag_ms/last_second/max") < 50.0; },
                           3s, 100ms));
    snap = loop_snapshot(srv.port());
    EXPECT_GE(number_at(snap, "lag_ms/max"), 250.0);
    EXPECT_LE(number_at(snap, "lag_ms/last_second/p99"), number_at(snap, "lag_ms/last_second/max"));
}

TEST(stalls, the_threshold_is_configurable_and_shorter_blocks_are_not_stalls)
{
    server_process srv({"--stall-threshold-ms", "400"});
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "stalls/threshold_ms"), 400);
    ASSERT_EQ(get(srv.port(), "/demo/io?mode=inline&ms=150").status(), 200u);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "stalls/count"), 0);
    ASSERT_EQ(get(srv.port(), "/demo/io?mode=inline&ms=700").status(), 200u);
    EXPECT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "stalls/count") == 1; }, 2s));

    auto bad = run_binary({"--stall-threshold-ms", "5"});
    EXPECT_EQ(bad.status, exit_status::exited(2)) << bad.output;
}

TEST(stalls, none_while_only_thread_process_and_async_demos_run)
{
    server_process srv;
    std::vector<std::future<reply>> work;
    for (std::string target : {"/demo/io?mode=thread&ms=600", "/demo/io?mode=async&ms=600",
                               "/demo/io?mode=thread&ms=400", "/demo/cpu?mode=process&n=200000000",
                               "/demo/cpu?mode=process&n=200000000", "/demo/cpu?mode=thread&n=100000000"})
        work.push_back(std::async(std::launch::async, [&srv, target] { return get(srv.port(), target, {}, 30s); }));
    for (auto& f : work) {
        auto r = f.get();
        EXPECT_EQ(r.status(), 200u) << r;
    }
    auto snap = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(snap, "stalls/count"), 0) << boost::json::serialize(snap);
    EXPECT_TRUE(snap.at("stalls").at("last").is_null());
}

// ---------------------------------------------------------------------------------------
// /loop/stream: Server-Sent Events over a raw socket.

// A client that reads a streamed (chunked) answer piece by piece.
class stream_client {
public:
    explicit stream_client(unsigned short port, int receive_buffer = 0)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (receive_buffer > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("connect failed");
    }
    ~stream_client()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    stream_client(stream_client const&) = delete;
    stream_client& operator=(stream_client const&) = delete;

    void send(std::string const& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }

    // Reads until `pred(received)` holds or `timeout` passes; false at EOF or timeout.
    template <class Pred>
    bool read_until(Pred pred, std::chrono::milliseconds timeout)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred(data)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return false;
            char buf[16384];
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed = true;
                return pred(data);
            }
            data.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }

    // The header block and the de-chunked body received so far.
    std::string header() const { return data.substr(0, data.find("\r\n\r\n") + 4); }
    std::string body() const
    {
        std::string out;
        auto pos = data.find("\r\n\r\n");
        if (pos == std::string::npos)
            return out;
        pos += 4;
        for (;;) {
            auto eol = data.find("\r\n", pos);
            if (eol == std::string::npos)
                break;
            auto size = std::stoul(data.substr(pos, eol - pos), nullptr, 16);
            if (size == 0 || eol + 2 + size + 2 > data.size())
                break;
            out.append(data, eol + 2, size);
            pos = eol + 2 + size + 2;
        }
        return out;
    }
    // The `data:` payloads of the complete events received so far.
    std::vector<std::string> events() const
    {
        std::vector<std::string> out;
        auto b = body();
        std::size_t pos = 0;
        for (;;) {
            auto end = b.find("\n\n", pos);
            if (end == std::string::npos)
                break;
            auto event = b.substr(pos, end - pos);
            if (event.starts_with("data: "))
                out.push_back(event.substr(6));
            pos = end + 2;
        }
        return out;
    }
    bool ended_cleanly() const { return data.ends_with("0\r\n\r\n"); }

    std::string data;
    bool closed = false;

private:
    int fd_ = -1;
};

TEST(loop_stream, sends_a_json_snapshot_at_once_and_then_every_interval)
{
    server_process srv;
    stream_client c(srv.port());
    c.send(make_request("GET", "/loop/stream"));
    auto const start = std::chrono::steady_clock::now();
    ASSERT_TRUE(c.read_until([&](auto const&) { return c.events().size() >= 3; }, 2s)) << c.data;
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, 400ms) << "events come every 250 ms by default";

    auto h = c.header();
    EXPECT_TRUE(h.starts_with("HTTP/1.1 200 OK\r\n")) << h;
    EXPECT_NE(h.find("Content-Type: text/event-stream\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("Cache-Control: no-cache\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << h;
    EXPECT_NE(h.find("X-Request-Id: "), std::string::npos) << h;
    EXPECT_EQ(h.find("Content-Length"), std::string::npos) << h;

    double last_uptime = -1;
    for (auto const& e : c.events()) {
        auto v = boost::json::parse(e);
        ASSERT_TRUE(v.is_object()) << e;
        auto const& o = v.as_object();
        for (auto key : {"uptime_s", "lag_ms", "stalls", "connections", "in_flight", "requests", "blocking_pool",
                         "worker_pool"})
            EXPECT_TRUE(o.contains(key)) << key << " missing from " << e;
        double uptime = o.at("uptime_s").to_number<double>();
        EXPECT_GE(uptime, last_uptime);
        last_uptime = uptime;
    }
    // The open stream is counted as a stream, not as a request in flight.
    auto snap = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(snap, "streams"), 1);
    EXPECT_EQ(number_at(snap, "in_flight"), 1);  // this /loop request itself
}

TEST(loop_stream, takes_interval_ms_from_50_to_5000)
{
    server_process srv;
    {
        stream_client c(srv.port());
        c.send(make_request("GET", "/loop/stream?interval_ms=50"));
        auto const start = std::chrono::steady_clock::now();
        ASSERT_TRUE(c.read_until([&](auto const&) { return c.events().size() >= 6; }, 2s)) << c.data;
        EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
    }
    for (auto bad : {"49", "5001", "0", "-1", "x", "", "250.5"}) {
        SCOPED_TRACE(bad);
        auto r = get(srv.port(), std::string("/loop/stream?interval_ms=") + bad);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        EXPECT_TRUE(names(r, "interval_ms")) << r;
    }
    // HEAD gets the header only.
    auto h = head(srv.port(), "/loop/stream");
    EXPECT_EQ(h.status(), 200u);
    EXPECT_EQ(h.header("Content-Type"), "text/event-stream");
}

TEST(loop_stream, drops_a_reader_that_stopped_reading_without_growing_the_service)
{
    server_process srv;
    auto rss_kib = [&] {
        std::ifstream status("/proc/" + std::to_string(srv.pid()) + "/status");
        std::string line;
        while (std::getline(status, line))
            if (line.starts_with("VmRSS:"))
                return std::stol(line.substr(6));
        return -1L;
    };
    // Warm up the paths the stream takes, then measure.
    {
        stream_client warm(srv.port());
        warm.send(make_request("GET", "/loop/stream?interval_ms=50"));
        ASSERT_TRUE(warm.read_until([&](auto const&) { return warm.events().size() >= 3; }, 2s));
    }
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "streams") == 0; }, 3s));
    long const rss_before = rss_kib();

    // A subscriber with a tiny receive window that never reads.
    stream_client stuck(srv.port(), 2048);
    stuck.send(make_request("GET", "/loop/stream?interval_ms=50"));
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "streams") == 1; }, 2s));
    // Everyone else is served meanwhile.
    for (int i = 0; i < 5; ++i) {
        auto r = get(srv.port(), "/ping");
        EXPECT_EQ(r.status(), 200u);
        EXPECT_LT(r.elapsed_ms(), 100.0);
    }
    // Its buffers fill within seconds, and the server gives up on it (5 s per write).
    auto const start = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "streams") == 0; }, 30s, 100ms))
        << srv.log();
    std::cout << "stuck subscriber dropped after "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
    EXPECT_NE(srv.log().find("stream ended: reader too slow"), std::string::npos) << srv.log();
    long const rss_after = rss_kib();
    EXPECT_LT(rss_after - rss_before, 4 * 1024) << "RSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
}

TEST(loop_stream, a_hundred_subscribers_do_not_slow_the_loop)
{
    server_process srv;
    std::vector<std::unique_ptr<stream_client>> subscribers;
    for (int i = 0; i < 100; ++i) {
        subscribers.push_back(std::make_unique<stream_client>(srv.port()));
        subscribers.back()->send(make_request("GET", "/loop/stream?interval_ms=50"));
    }
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "streams") == 100; }, 5s));
    connection c(srv.port());
    double worst = 0;
    for (int i = 0; i < 50; ++i) {
        auto r = c.get("/ping");
        ASSERT_EQ(r.status(), 200u);
        worst = std::max(worst, r.elapsed_ms());
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_LT(worst, 50.0);
    // Each subscriber really receives its events meanwhile.
    for (auto& s : subscribers)
        EXPECT_TRUE(s->read_until([&](auto const&) { return s->events().size() >= 3; }, 2s));
}

TEST(loop_stream, ends_cleanly_and_promptly_on_sigterm)
{
    server_process srv({"--shutdown-grace-ms", "10000"});
    stream_client c(srv.port());
    c.send(make_request("GET", "/loop/stream?interval_ms=1000"));
    ASSERT_TRUE(c.read_until([&](auto const&) { return c.events().size() >= 1; }, 2s));
    auto const start = std::chrono::steady_clock::now();
    srv.terminate();
    auto st = srv.wait_exit(5s);
    ASSERT_TRUE(st.has_value()) << "a stream held the shutdown";
    EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    c.read_until([](auto const&) { return false; }, 1s);
    EXPECT_TRUE(c.ended_cleanly()) << "the stream ends with the last chunk";
}

// ---------------------------------------------------------------------------------------
// /demo/compare.

TEST(demo_compare, cpu_inline_lag_is_far_above_thread_and_process_lag)
{
    server_process srv;
    auto r = get(srv.port(), "/demo/compare?kind=cpu&jobs=4", {}, 60s);
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_TRUE(has_standard_headers(r));
    std::cout << r.body();
    auto j = r.json();
    EXPECT_EQ(j.at("kind").as_string(), "cpu");
    EXPECT_EQ(j.at("jobs").to_number<int>(), 4);
    auto const& rows = j.at("rows").as_array();
    ASSERT_EQ(rows.size(), 3u);
    std::map<std::string, boost::json::object> by_mode;
    for (auto const& row : rows)
        by_mode[std::string(row.at("mode").as_string())] = row.as_object();
    ASSERT_EQ(std::string(rows[0].at("mode").as_string()), "inline");
    ASSERT_EQ(std::string(rows[1].at("mode").as_string()), "thread");
    ASSERT_EQ(std::string(rows[2].at("mode").as_string()), "process");
    auto lag_max = [&](std::string const& m) { return by_mode[m].at("lag_max_ms").to_number<double>(); };
    // Inline, the loop waited for the whole batch; in the pools it kept turning.
    double const job_ms = j.at("job_ms").to_number<double>();
    EXPECT_GE(lag_max("inline"), job_ms);
    EXPECT_GT(lag_max("inline"), 3 * std::max(lag_max("thread"), lag_max("process")));
    EXPECT_EQ(by_mode["inline"].at("verdict").as_string(), "blocks the loop");
    for (auto const& row : rows) {
        EXPECT_GT(row.at("wall_ms").to_number<double>(), 0);
        EXPECT_GT(row.at("jobs_per_s").to_number<double>(), 0);
        EXPECT_LE(row.at("lag_p99_ms").to_number<double>(), row.at("lag_max_ms").to_number<double>());
    }
    // The pools did the work: the worker pool ran 4 cpu_sum jobs, the blocking pool 4 more.
    auto snap = loop_snapshot(srv.port());
    EXPECT_GE(number_at(snap, "worker_pool/completed"), 4);
    EXPECT_GE(number_at(snap, "blocking_pool/completed"), 4);
}

TEST(demo_compare, text_format_is_an_aligned_table_with_the_mode_first)
{
    server_process srv;
    for (auto const& [target, hdrs] : std::vector<std::pair<std::string, headers>>{
             {"/demo/compare?kind=io&jobs=4&ms=50&format=text", {}},
             {"/demo/compare?kind=io&jobs=4&ms=50", {{"Accept", "text/plain"}}}}) {
        SCOPED_TRACE(target);
        auto r = get(srv.port(), target, hdrs, 30s);
        ASSERT_EQ(r.status(), 200u) << r;
        EXPECT_TRUE(r.header("Content-Type").starts_with("text/plain")) << r;
        std::cout << r.body();
        std::vector<std::string> lines;
        std::istringstream in(r.body());
        for (std::string l; std::getline(in, l);)
            lines.push_back(l);
        ASSERT_EQ(lines.size(), 5u) << r.body();  // a title, the column names, three modes
        EXPECT_TRUE(lines[1].starts_with("mode ")) << lines[1];
        EXPECT_TRUE(lines[2].starts_with("inline ")) << lines[2];
        EXPECT_TRUE(lines[3].starts_with("thread ")) << lines[3];
        EXPECT_TRUE(lines[4].starts_with("async ")) << lines[4];
        // Aligned: every row as wide as the header up to the verdict column.
        auto verdict_at = lines[1].find("verdict");
        for (std::size_t i = 2; i < 5; ++i)
            EXPECT_EQ(lines[i].find_first_not_of(' ', verdict_at - 1), verdict_at) << lines[i];
        EXPECT_NE(lines[2].find("blocks the loop"), std::string::npos) << lines[2];
        EXPECT_EQ(lines[4].find("blocks the loop"), std::string::npos) << lines[4];
    }
}

TEST(demo_compare, refuses_bad_parameters_and_a_second_run_at_once)
{
    server_process srv;
    for (auto [target, param] : std::vector<std::pair<std::string, std::string>>{
             {"/demo/compare?kind=gpu", "kind"},
             {"/demo/compare?jobs=0", "jobs"},
             {"/demo/compare?jobs=65", "jobs"},
             {"/demo/compare?jobs=abc", "jobs"},
             {"/demo/compare?n=0", "n"},
             {"/demo/compare?kind=io&ms=0", "ms"},
             {"/demo/compare?format=xml", "format"}}) {
        SCOPED_TRACE(target);
        auto r = get(srv.port(), target);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        EXPECT_TRUE(names(r, param)) << r;
    }
    auto first = std::async(std::launch::async,
                            [&] { return get(srv.port(), "/demo/compare?kind=io&jobs=2&ms=500", {}, 30s); });
    std::this_thread::sleep_for(300ms);
    auto second = get(srv.port(), "/demo/compare?kind=io&jobs=1&ms=1");
    EXPECT_TRUE(is_problem(second, 503, "compare_running"));
    EXPECT_EQ(second.header("Retry-After"), "1");
    EXPECT_EQ(first.get().status(), 200u);
    EXPECT_EQ(get(srv.port(), "/demo/compare?kind=io&jobs=1&ms=1").status(), 200u);
}

TEST(demo_compare, is_not_there_with_demo_off)
{
    server_process srv({"--demo", "off"});
    EXPECT_TRUE(is_problem(get(srv.port(), "/demo/compare"), 404, "not_found"));
}

}  // namespace
