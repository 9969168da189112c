#include "steadyloop/obs/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace steadyloop::obs;

namespace {

bool has_line(std::string const& text, std::string const& line)
{
    return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST(metrics, counts_and_times_requests_by_method_route_and_status)
{
    metrics m;
    std::string const ping = "/ping";
    std::string const kv = "/kv/{key}";
    for (int i = 0; i < 3; ++i)
        m.request_done("GET", ping, 200, 0.0002);
    m.request_done("GET", kv, 404, 0.003);
    m.request_done("PUT", kv, 200, 0.02);
    m.request_done("OTHER", "", 400, 0.0001);
    auto text = exposition(m.collect());
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_requests_total{method="GET",route="/ping",status="200"} 3)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_requests_total{method="GET",route="/kv/{key}",status="404"} 1)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_requests_total{method="PUT",route="/kv/{key}",status="200"} 1)")) << text;
    EXPECT_TRUE(has_line(text, R"x(steadyloop_http_requests_total{method="OTHER",route="(none)",status="400"} 1)x")) << text;
    // One latency histogram per method and route, whatever the status.
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_request_duration_seconds_count{method="GET",route="/ping"} 3)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_request_duration_seconds_bucket{method="GET",route="/ping",le="0.0005"} 3)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_request_duration_seconds_bucket{method="GET",route="/kv/{key}",le="0.0025"} 0)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_http_request_duration_seconds_bucket{method="GET",route="/kv/{key}",le="0.005"} 1)")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE steadyloop_http_requests_total counter")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE steadyloop_http_request_duration_seconds histogram")) << text;
}

TEST(metrics, loop_lag_goes_into_its_histogram_in_seconds)
{
    metrics m;
    m.loop_lag(0.00005);
    m.loop_lag(0.3);
    auto text = exposition(m.collect());
    EXPECT_TRUE(has_line(text, "steadyloop_loop_lag_seconds_count 2")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_loop_lag_seconds_bucket{le="0.0001"} 1)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_loop_lag_seconds_bucket{le="0.25"} 1)")) << text;
    EXPECT_TRUE(has_line(text, R"(steadyloop_loop_lag_seconds_bucket{le="0.5"} 2)")) << text;
}

TEST(metrics, scrape_time_families_serialize_as_their_type)
{
    auto text = exposition({gauge_family("steadyloop_connections_open", "Open connections", 7),
                            counter_family("steadyloop_loop_stalls_total", "Stalls", 2)});
    EXPECT_TRUE(has_line(text, "# TYPE steadyloop_connections_open gauge")) << text;
    EXPECT_TRUE(has_line(text, "steadyloop_connections_open 7")) << text;
    EXPECT_TRUE(has_line(text, "# HELP steadyloop_loop_stalls_total Stalls")) << text;
    EXPECT_TRUE(has_line(text, "steadyloop_loop_stalls_total 2")) << text;
}
