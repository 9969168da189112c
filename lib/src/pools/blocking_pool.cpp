#include "steadyloop/pools/blocking_pool.hpp"

#include <string>

namespace steadyloop::pools {

blocking_pool::blocking_pool(std::size_t threads, std::size_t queue)
    : pool_(threads), threads_(threads), queue_(queue)
{
}

blocking_pool::~blocking_pool() { join(); }

void blocking_pool::admit()
{
    if (admitted_ >= threads_ + queue_) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        throw pool_full("blocking_pool_full",
                        "the blocking pool is full (" + std::to_string(threads_) + " threads, " +
                            std::to_string(queue_) + " queued); retry shortly");
    }
    ++admitted_;
    queued_.fetch_add(1, std::memory_order_relaxed);
}

void blocking_pool::release() noexcept { --admitted_; }

blocking_pool_stats blocking_pool::stats() const noexcept
{
    return {threads_,
            busy_.load(std::memory_order_relaxed),
            queued_.load(std::memory_order_relaxed),
            queue_,
            completed_.load(std::memory_order_relaxed),
            rejected_.load(std::memory_order_relaxed),
            cancelled_.load(std::memory_order_relaxed)};
}

void blocking_pool::join()
{
    pool_.stop();
    pool_.join();
}

}  // namespace steadyloop::pools

