// The loop-lag monitor: a timer on the loop every 10 ms records how late it fired, like
// Node's monitorEventLoopDelay. A late timer means the loop was busy with something else.
#pragma once

#include "steadyloop/loop/lag_window.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace steadyloop::loop {

class lag_monitor {
public:
    using clock = std::chrono::steady_clock;

    explicit lag_monitor(boost::asio::io_context& ioc,
                         clock::duration interval = std::chrono::milliseconds(10));

    void start();
    void stop();

    // Loop-only: the window's summary now, and that of the last second alone (what a
    // trace of the lag over time wants: the 10 s window's maximum holds for 10 s).
    lag_summary summary() const;
    lag_summary last_second() const;
    clock::duration interval() const noexcept { return interval_; }
    clock::duration window() const noexcept { return window_.window(); }

    // Loop only: `f` is called on the loop with every sample until the returned
    // subscription is destroyed (a histogram for /metrics, a recorder for /demo/compare).
    class subscription {
    public:
        subscription() = default;
        subscription(lag_monitor* m, std::uint64_t id) : monitor_(m), id_(id) {}
        subscription(subscription&& o) noexcept : monitor_(std::exchange(o.monitor_, nullptr)), id_(o.id_) {}
        subscription& operator=(subscription&& o) noexcept
        {
            if (this != &o) {
                reset();
                monitor_ = std::exchange(o.monitor_, nullptr);
                id_ = o.id_;
            }
            return *this;
        }
        ~subscription() { reset(); }
        void reset();

    private:
        lag_monitor* monitor_ = nullptr;
        std::uint64_t id_ = 0;
    };
    [[nodiscard]] subscription subscribe(std::function<void(double lag_ms)> f);

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
    lag_window second_{std::chrono::seconds(1)};
    std::vector<std::pair<std::uint64_t, std::function<void(double)>>> listeners_;
    std::uint64_t next_listener_ = 1;
    std::atomic<clock::rep> last_tick_{0};
    bool running_ = false;
};

}  // namespace steadyloop::loop
