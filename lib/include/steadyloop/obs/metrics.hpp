// Prometheus metrics through prometheus-cpp: the request counters and latency histograms
// (labelled by method, route pattern and status, so cardinality stays bounded) and the
// loop-lag histogram live in a registry; gauges and totals that other parts already keep
// (pools, connections, stalls) are read when /metrics is scraped.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace steadyloop::obs {

class metrics {
public:
    metrics();
    metrics(metrics const&) = delete;
    metrics& operator=(metrics const&) = delete;

    // Loop only. `route` is the matched route's pattern ("" when none matched); the
    // pattern's storage must outlive this object (the router's does).
    void request_done(std::string_view method, std::string_view route, unsigned status, double seconds);
    void loop_lag(double seconds);

    // The registry's families, ready to add to and serialize.
    std::vector<prometheus::MetricFamily> collect() const;

private:
    struct series {
        prometheus::Counter* count;
        prometheus::Histogram* duration;
    };
    struct key {
        char const* route;  // the pattern's own storage: one entry per route
        std::string method;
        unsigned status;
        bool operator==(key const&) const = default;
    };
    struct key_hash {
        std::size_t operator()(key const& k) const noexcept;
    };

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& durations_;
    prometheus::Histogram& lag_;
    std::unordered_map<key, series, key_hash> series_;
    std::unordered_map<std::string, prometheus::Histogram*> duration_by_route_;
};

// Families for values read at scrape time.
prometheus::MetricFamily gauge_family(std::string name, std::string help, double value);
prometheus::MetricFamily counter_family(std::string name, std::string help, double value);

// The text exposition format, version 0.0.4.
inline constexpr char const* exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";
std::string exposition(std::vector<prometheus::MetricFamily> const& families);

}  // namespace steadyloop::obs
