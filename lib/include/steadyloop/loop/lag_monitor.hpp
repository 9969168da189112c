// The loop-lag monitor: a timer on the loop every 10 ms records how late it fired, like
// Node's monitorEventLoopDelay. A late timer means the loop was busy with something else.
#pragma once

#include "steadyloop/loop/lag_window.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>

namespace steadyloop::loop {

class lag_monitor {
public:
    using clock = std::chrono::steady_clock;

    explicit lag_monitor(boost::asio::io_context& ioc,
                         clock::duration interval = std::chrono::milliseconds(10));

    void start();
    void stop();

    // Loop-only: the window's summary now.
    lag_summary summary() const;
    clock::duration interval() const noexcept { return interval_; }
    clock::duration window() const noexcept { return window_.window(); }

    // Called on the loop with every sample (for histograms that later issues export).
    void on_sample(std::function<void(double lag_ms)> f) { on_sample_ = std::move(f); }

    // The last time the loop turned (for a watchdog on another thread).
    clock::time_point last_tick() const noexcept
    {
        return clock::time_point{clock::duration{last_tick_.load(std::memory_order_relaxed)}};
    }

private:
    void arm();

    boost::asio::steady_timer timer_;
    clock::duration interval_;
    clock::time_point expected_;
    lag_window window_;
    std::function<void(double)> on_sample_;
    std::atomic<clock::rep> last_tick_{0};
    bool running_ = false;
};

}  // namespace steadyloop::loop
