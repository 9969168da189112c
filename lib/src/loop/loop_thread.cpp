#include "steadyloop/loop/loop_thread.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace steadyloop::loop {
namespace {
std::atomic<boost::asio::io_context*> the_loop{nullptr};
}

void bind_loop(boost::asio::io_context& ioc) noexcept { the_loop.store(&ioc); }

void unbind_loop(boost::asio::io_context& ioc) noexcept
{
    auto* expected = &ioc;
    the_loop.compare_exchange_strong(expected, nullptr);
}

bool on_loop() noexcept
{
    auto* ioc = the_loop.load();
    return ioc != nullptr && ioc->get_executor().running_in_this_thread();
}

void check_on_loop(char const* what) noexcept
{
    if (the_loop.load() != nullptr && !on_loop()) {
        std::fprintf(stderr, "steadyloop: %s must run on the loop thread\n", what);
        std::abort();
    }
}

void check_off_loop(char const* what) noexcept
{
    if (on_loop()) {
        std::fprintf(stderr, "steadyloop: blocking call %s ran on the loop thread\n", what);
        std::abort();
    }
}

}  // namespace steadyloop::loop
