// Drives a coroutine to completion on a fresh io_context bound as "the loop", with a
// deadline, and hands back its value or rethrows its exception.
#pragma once

#include "steadyloop/loop/loop_thread.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace steadyloop::test {

template <class Awaitable>
auto run_async(boost::asio::io_context& ioc, Awaitable aw, std::chrono::milliseconds deadline = std::chrono::seconds(10))
{
    using T = typename Awaitable::value_type;
    loop::bind_loop(ioc);
    std::exception_ptr error;
    bool done = false;
    std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
    if constexpr (std::is_void_v<T>) {
        boost::asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e) {
            error = e;
            done = true;
        });
    } else {
        boost::asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
            error = e;
            if (!e)
                value.emplace(std::move(v));
            done = true;
        });
    }
    ioc.restart();
    ioc.run_for(deadline);
    loop::unbind_loop(ioc);  // the caller's io_context will not outlive the test
    if (!done)
        throw std::runtime_error("coroutine did not finish before its deadline");
    if (error)
        std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>)
        return std::move(*value);
}

}  // namespace steadyloop::test
