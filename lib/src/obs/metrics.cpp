#include "steadyloop/obs/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <functional>
#include <sstream>

namespace steadyloop::obs {

namespace {

// Request latency: from half a millisecond (a /ping) to half a minute (a job at its deadline).
prometheus::Histogram::BucketBoundaries const request_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
// Loop lag: healthy is well under a millisecond; a stall is a tenth of a second or more.
prometheus::Histogram::BucketBoundaries const lag_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

}  // namespace

metrics::metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("steadyloop_http_requests_total")
                    .Help("HTTP requests answered, by method, route pattern and status")
                    .Register(*registry_)),
      durations_(prometheus::BuildHistogram()
                     .Name("steadyloop_http_request_duration_seconds")
                     .Help("Time from a request's first header byte to its answer's last byte written")
                     .Register(*registry_)),
      lag_(prometheus::BuildHistogram()
               .Name("steadyloop_loop_lag_seconds")
               .Help("How late the loop's 10 ms timer fired: time the loop spent on other work")
               .Register(*registry_)
               .Add({}, lag_buckets))
{
}

std::size_t metrics::key_hash::operator()(key const& k) const noexcept
{
    auto h = std::hash<void const*>{}(k.route);
    h ^= std::hash<std::string>{}(k.method) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<unsigned>{}(k.status) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

void metrics::request_done(std::string_view method, std::string_view route, unsigned status, double seconds)
{
    key k{route.data(), std::string(method), status};
    auto it = series_.find(k);
    if (it == series_.end()) {
        std::string const route_label = route.empty() ? "(none)" : std::string(route);
        auto& duration = duration_by_route_[k.method + ' ' + route_label];
        if (!duration)
            duration = &durations_.Add({{"method", k.method}, {"route", route_label}}, request_buckets);
        auto& count =
            requests_.Add({{"method", k.method}, {"route", route_label}, {"status", std::to_string(status)}});
        it = series_.emplace(std::move(k), series{&count, duration}).first;
    }
    it->second.count->Increment();
    it->second.duration->Observe(seconds);
}

void metrics::loop_lag(double seconds) { lag_.Observe(seconds); }

std::vector<prometheus::MetricFamily> metrics::collect() const { return registry_->Collect(); }

prometheus::MetricFamily gauge_family(std::string name, std::string help, double value)
{
    prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
    f.metric.emplace_back().gauge.value = value;
    return f;
}

prometheus::MetricFamily counter_family(std::string name, std::string help, double value)
{
    prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
    f.metric.emplace_back().counter.value = value;
    return f;
}

std::string exposition(std::vector<prometheus::MetricFamily> const& families)
{
    std::ostringstream out;
    prometheus::TextSerializer{}.Serialize(out, families);
    return std::move(out).str();
}

}  // namespace steadyloop::obs
