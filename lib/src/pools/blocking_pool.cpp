#include "steadyloop/pools/blocking_pool.hpp"

#include <boost/asio/post.hpp>

#include <latch>
#include <memory>
#include <string>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace steadyloop::pools {

blocking_pool::blocking_pool(std::size_t threads, std::size_t queue)
    : pool_(threads), threads_(threads), queue_(queue)
{
    // Each pool thread lowers its own priority a little (Linux nice is per thread): when
    // the CPUs are contended, the loop thread wins them back first, so a busy pool does not
    // show up as loop lag. The latch makes each thread take exactly one of these tasks.
    // (Shared: a thread may still be inside the latch's wait when this constructor returns.)
    auto all_there = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads));
    for (std::size_t i = 0; i < threads; ++i)
        boost::asio::post(pool_, [all_there] {
            auto const tid = static_cast<id_t>(::syscall(SYS_gettid));
            ::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + thread_nice);
            all_there->arrive_and_wait();
        });
    all_there->wait();
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

