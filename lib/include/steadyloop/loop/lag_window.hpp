// Loop-lag samples over a sliding time window, with percentiles: the numbers /loop shows.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

namespace steadyloop::loop {

struct lag_summary {
    std::size_t samples = 0;
    double p50_ms = 0;
    double p90_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
    double since_start_max_ms = 0;
};

class lag_window {
public:
    using clock = std::chrono::steady_clock;

    explicit lag_window(clock::duration window = std::chrono::seconds(10)) : window_(window) {}

    void record(clock::time_point at, double lag_ms);

    // Percentiles (nearest rank) of the samples recorded in (now - window, now].
    lag_summary summary(clock::time_point now) const;

    clock::duration window() const noexcept { return window_; }

private:
    struct sample {
        clock::time_point at;
        double lag_ms;
    };
    void expire(clock::time_point now) const;

    clock::duration window_;
    mutable std::deque<sample> samples_;
    double since_start_max_ms_ = 0;
};

// Nearest-rank percentile of an unsorted sample set, p in (0, 100]. Reorders `values`.
double percentile(double* first, double* last, double p);

}  // namespace steadyloop::loop
