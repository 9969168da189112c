// The stall detector: a thread off the loop that notices when the loop has not turned
// (its lag timer has not fired) for longer than a threshold, and records, while the loop
// is still stuck, which request the loop is running. A stall is counted when it is seen;
// its record (with its duration) is handed over when the loop turns again.
#pragma once

#include "steadyloop/loop/activity.hpp"
#include "steadyloop/loop/lag_monitor.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace steadyloop::loop {

struct stall {
    std::string route;       // "GET /demo/io"; "(none)" when the loop was not in a request's code
    std::string request_id;  // empty when no request was running
    double duration_ms = 0;  // how long the loop did not turn
    std::chrono::system_clock::time_point at;  // when it began
};

class watchdog {
public:
    using clock = std::chrono::steady_clock;

    // `on_stall` runs on the watchdog thread once each stall has ended.
    watchdog(lag_monitor const& lag, activity_board const& board, std::chrono::milliseconds threshold,
             std::function<void(stall)> on_stall);
    ~watchdog();
    watchdog(watchdog const&) = delete;
    watchdog& operator=(watchdog const&) = delete;

    void start();
    void stop();

    std::chrono::milliseconds threshold() const noexcept { return threshold_; }
    // Stalls seen so far (any thread).
    std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
    void run();

    lag_monitor const& lag_;
    activity_board const& board_;
    std::chrono::milliseconds threshold_;
    std::chrono::microseconds poll_;
    std::function<void(stall)> on_stall_;
    std::atomic<std::uint64_t> count_{0};
    std::mutex mutex_;  // the watchdog's own: guards stopping_ for the condition variable
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace steadyloop::loop
