#include "steadyloop/loop/watchdog.hpp"

#include "steadyloop/obs/logging.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace steadyloop::loop {

namespace {

std::chrono::system_clock::time_point wall_time_of(std::chrono::steady_clock::time_point t)
{
    auto const steady_now = std::chrono::steady_clock::now();
    auto const wall_now = std::chrono::system_clock::now();
    return wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(steady_now - t);
}

}  // namespace

watchdog::watchdog(lag_monitor const& lag, activity_board const& board, std::chrono::milliseconds threshold,
                   std::function<void(stall)> on_stall)
    : lag_(lag), board_(board), threshold_(threshold),
      // Look ten times per threshold: a stall only slightly longer than the threshold is
      // still caught while it lasts.
      poll_(std::clamp<std::chrono::microseconds>(threshold / 10, std::chrono::milliseconds(1),
                                                  std::chrono::milliseconds(50))),
      on_stall_(std::move(on_stall))
{
}

watchdog::~watchdog() { stop(); }

void watchdog::start()
{
    thread_ = std::thread([this] { run(); });
}

void watchdog::stop()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void watchdog::run()
{
    auto log = obs::logger("loop");
    bool stalled = false;
    clock::time_point stalled_since{};  // the last turn before the stall
    stall current;
    clock::time_point last_warning{};
    std::uint64_t unlogged = 0;
    auto previous_tick = lag_.last_tick();

    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, poll_, [this] { return stopping_; })) {
        auto const tick = lag_.last_tick();
        auto const now = clock::now();
        if (!stalled) {
            if (now - tick > threshold_) {
                // Stuck now: note what the loop is running while it still runs it.
                stalled = true;
                stalled_since = tick;
                auto seen = board_.read();
                current = {};
                current.route = seen.running && !seen.route.empty() ? std::move(seen.route) : "(none)";
                current.request_id = seen.running ? std::move(seen.request_id) : std::string();
                current.at = wall_time_of(tick);
                count_.fetch_add(1, std::memory_order_relaxed);
                // One warning per stall, at most one a second; the rest are counted.
                if (now - last_warning >= std::chrono::seconds(1)) {
                    log->warn("stall: the loop has not turned for over {} ms, running route=\"{}\" req={}{}",
                              threshold_.count(), current.route, current.request_id.empty() ? "-" : current.request_id,
                              unlogged ? fmt::format(" ({} more stalls not logged)", unlogged) : std::string());
                    last_warning = now;
                    unlogged = 0;
                } else {
                    ++unlogged;
                }
            } else if (tick != previous_tick && tick - previous_tick > threshold_) {
                // A stall that began and ended between two looks: counted, but what ran
                // is no longer known.
                count_.fetch_add(1, std::memory_order_relaxed);
                ++unlogged;
                stall s;
                s.route = "(unknown: ended before it was seen)";
                s.duration_ms = std::chrono::duration<double, std::milli>(tick - previous_tick).count();
                s.at = wall_time_of(previous_tick);
                if (on_stall_)
                    on_stall_(std::move(s));
            }
        } else if (tick != stalled_since) {
            // The loop turned again: the stall is over.
            stalled = false;
            current.duration_ms = std::chrono::duration<double, std::milli>(tick - stalled_since).count();
            if (on_stall_)
                on_stall_(std::move(current));
            current = {};
        }
        previous_tick = tick;
    }
}

}  // namespace steadyloop::loop
