// What the loop is running right now, readable from another thread. Each connection's
// coroutine runs on a tagged executor: every time it resumes, the board names its
// request ("GET /demo/io", request id); when it suspends, the board says the loop runs
// nothing of a request's. The watchdog reads the board while the loop is stalled.
#pragma once

#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <vector>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace steadyloop::loop {

// A connection's current request, owned and written by the loop.
struct work_tag {
    std::string route;       // "GET /demo/io" (method and route pattern); empty between requests
    std::string request_id;  // empty between requests
};

// Names a connection's tag on the board. Handlers of a connection can run after the
// connection is gone (a cancelled timer's completion); its handle is then stale, and the
// board shows no request rather than reading freed memory.
struct tag_handle {
    std::uint32_t index = 0;
    std::uint32_t generation = 0;  // 0 is never valid
    bool operator==(tag_handle const&) const = default;
};

class activity_board {
public:
    static constexpr std::size_t route_capacity = 120;
    static constexpr std::size_t id_capacity = 128;

    // Loop only: a tag for a new connection, valid until released.
    tag_handle acquire();
    void release(tag_handle h) noexcept;
    work_tag& tag(tag_handle h) noexcept { return slots_[h.index].tag; }

    // Loop only. `enter` marks `h`'s request as running and says whether something already
    // was (handlers can run nested, one dispatched inline from another); `leave` ends the
    // turn. After a nested turn the board keeps naming the inner request.
    bool enter(tag_handle h) noexcept;
    void leave(bool was_running) noexcept;
    // Loop only: `h`'s tag changed (a new request on that connection).
    void update(tag_handle h) noexcept;

    struct snapshot {
        bool running = false;  // false: the loop was not inside a request's code
        std::string route;
        std::string request_id;
    };
    // Any thread; lock-free.
    snapshot read() const;

private:
    void publish(tag_handle h) noexcept;

    struct slot {
        work_tag tag;
        std::uint32_t generation = 1;
    };
    std::deque<slot> slots_;              // loop only; never shrinks, so tags stay put
    std::vector<std::uint32_t> free_;     // loop only
    static constexpr std::size_t words = (route_capacity + id_capacity) / 8;
    tag_handle owner_{};  // loop only: whose text the words hold
    std::atomic<bool> running_{false};
    // A sequence lock over the text: odd while the loop writes it.
    std::atomic<std::uint64_t> seq_{0};
    std::atomic<std::uint32_t> route_len_{0};
    std::atomic<std::uint32_t> id_len_{0};
    std::array<std::atomic<std::uint64_t>, words> text_{};
};

// An executor that runs everything through `inner`, marking `tag` on `board` while it
// runs. A coroutine spawned on it is "that request" for as long as it runs.
template <class Inner>
class tagged_executor {
public:
    tagged_executor(Inner inner, activity_board* board, tag_handle tag) noexcept
        : inner_(std::move(inner)), board_(board), tag_(tag)
    {
    }

    template <class F>
    void execute(F&& f) const
    {
        inner_.execute([board = board_, tag = tag_, f = std::forward<F>(f)]() mutable {
            bool const nested = board->enter(tag);
            std::move(f)();
            board->leave(nested);
        });
    }

    friend bool operator==(tagged_executor const& a, tagged_executor const& b) noexcept
    {
        return a.inner_ == b.inner_ && a.tag_ == b.tag_;
    }
    friend bool operator!=(tagged_executor const& a, tagged_executor const& b) noexcept { return !(a == b); }

    template <class P>
    auto query(P const& p) const noexcept(noexcept(boost::asio::query(std::declval<Inner const&>(), p)))
        -> decltype(boost::asio::query(std::declval<Inner const&>(), p))
    {
        return boost::asio::query(inner_, p);
    }

    template <class P>
    auto require(P const& p) const
        -> tagged_executor<std::decay_t<decltype(boost::asio::require(std::declval<Inner const&>(), p))>>
    {
        return {boost::asio::require(inner_, p), board_, tag_};
    }

    template <class P>
    auto prefer(P const& p) const
        -> tagged_executor<std::decay_t<decltype(boost::asio::prefer(std::declval<Inner const&>(), p))>>
    {
        return {boost::asio::prefer(inner_, p), board_, tag_};
    }

private:
    template <class>
    friend class tagged_executor;

    Inner inner_;
    activity_board* board_;
    tag_handle tag_;
};

}  // namespace steadyloop::loop
