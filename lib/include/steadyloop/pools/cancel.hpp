// A flag the session raises when its client goes away, read by pools before a queued
// job starts: work nobody waits for is never begun.
#pragma once

#include <atomic>
#include <memory>

namespace steadyloop::pools {

class cancel_token {
public:
    cancel_token() = default;  // never cancelled
    bool cancelled() const noexcept { return flag_ && flag_->load(std::memory_order_acquire); }

private:
    friend class cancel_source;
    explicit cancel_token(std::shared_ptr<std::atomic<bool>> f) : flag_(std::move(f)) {}
    std::shared_ptr<std::atomic<bool>> flag_;
};

class cancel_source {
public:
    cancel_source() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
    void cancel() const noexcept { flag_->store(true, std::memory_order_release); }
    bool cancelled() const noexcept { return flag_->load(std::memory_order_acquire); }
    cancel_token token() const { return cancel_token{flag_}; }

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace steadyloop::pools
