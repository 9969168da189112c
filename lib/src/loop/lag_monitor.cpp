#include "steadyloop/loop/lag_monitor.hpp"

namespace steadyloop::loop {

lag_monitor::lag_monitor(boost::asio::io_context& ioc, clock::duration interval)
    : timer_(ioc), interval_(interval)
{
}

void lag_monitor::start()
{
    running_ = true;
    expected_ = clock::now() + interval_;
    last_tick_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    arm();
}

void lag_monitor::stop()
{
    running_ = false;
    timer_.cancel();
}

void lag_monitor::arm()
{
    timer_.expires_at(expected_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || !running_)
            return;
        auto now = clock::now();
        double lag_ms = std::chrono::duration<double, std::milli>(now - expected_).count();
        if (lag_ms < 0)
            lag_ms = 0;
        window_.record(now, lag_ms);
        second_.record(now, lag_ms);
        last_tick_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
        for (std::size_t i = 0; i < listeners_.size(); ++i)
            listeners_[i].second(lag_ms);
        // Next tick one interval from now: a long stall is one large sample, not a burst
        // of catch-up ticks.
        expected_ = now + interval_;
        arm();
    });
}

lag_monitor::subscription lag_monitor::subscribe(std::function<void(double)> f)
{
    auto id = next_listener_++;
    listeners_.emplace_back(id, std::move(f));
    return subscription(this, id);
}

void lag_monitor::subscription::reset()
{
    if (!monitor_)
        return;
    auto& l = monitor_->listeners_;
    std::erase_if(l, [id = id_](auto const& e) { return e.first == id; });
    monitor_ = nullptr;
}

lag_summary lag_monitor::summary() const { return window_.summary(clock::now()); }

lag_summary lag_monitor::last_second() const { return second_.summary(clock::now()); }

}  // namespace steadyloop::loop
