#include "steadyloop/loop/lag_window.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace steadyloop::loop {

void lag_window::record(clock::time_point at, double lag_ms)
{
    samples_.push_back({at, lag_ms});
    since_start_max_ms_ = std::max(since_start_max_ms_, lag_ms);
    expire(at);
}

void lag_window::expire(clock::time_point now) const
{
    while (!samples_.empty() && samples_.front().at <= now - window_)
        samples_.pop_front();
}

double percentile(double* first, double* last, double p)
{
    auto n = static_cast<std::size_t>(last - first);
    if (n == 0)
        return 0;
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    rank = std::clamp<std::size_t>(rank, 1, n);
    std::nth_element(first, first + (rank - 1), last);
    return first[rank - 1];
}

lag_summary lag_window::summary(clock::time_point now) const
{
    expire(now);
    lag_summary s;
    s.samples = samples_.size();
    s.since_start_max_ms = since_start_max_ms_;
    if (samples_.empty())
        return s;
    std::vector<double> v;
    v.reserve(samples_.size());
    for (auto const& x : samples_)
        v.push_back(x.lag_ms);
    auto* b = v.data();
    auto* e = v.data() + v.size();
    s.max_ms = *std::max_element(b, e);
    s.p50_ms = percentile(b, e, 50);
    s.p90_ms = percentile(b, e, 90);
    s.p99_ms = percentile(b, e, 99);
    return s;
}

}  // namespace steadyloop::loop
