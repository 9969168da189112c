// Which thread is the loop: lets loop-only code and blocking code check where they run.
#pragma once

#include <boost/asio/io_context.hpp>

namespace steadyloop::loop {

// Registers the io_context whose run() thread is "the loop". Call once, before run().
void bind_loop(boost::asio::io_context& ioc) noexcept;
// Forgets `ioc` if it is the one registered (before it is destroyed: tests make many).
void unbind_loop(boost::asio::io_context& ioc) noexcept;

// True when the caller is running inside the loop's io_context::run().
bool on_loop() noexcept;

// Abort with a message when loop-only code runs elsewhere, or blocking code runs on the
// loop. Active when STEADYLOOP_CHECKS is defined (debug and test builds).
void check_on_loop(char const* what) noexcept;
void check_off_loop(char const* what) noexcept;

}  // namespace steadyloop::loop

#ifdef STEADYLOOP_CHECKS
#define STEADYLOOP_ASSERT_ON_LOOP() ::steadyloop::loop::check_on_loop(__func__)
#define STEADYLOOP_ASSERT_OFF_LOOP() ::steadyloop::loop::check_off_loop(__func__)
#else
#define STEADYLOOP_ASSERT_ON_LOOP() ((void)0)
#define STEADYLOOP_ASSERT_OFF_LOOP() ((void)0)
#endif
