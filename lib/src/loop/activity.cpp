#include "steadyloop/loop/activity.hpp"

#include <algorithm>
#include <cstring>

namespace steadyloop::loop {

namespace {

// Packs a string into 64-bit words (relaxed atomic stores, so a reader on another
// thread never races with plain memory).
template <class Words>
void store_text(Words& words, std::size_t first_byte, std::string_view s)
{
    for (std::size_t i = 0; i < s.size(); i += 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, s.data() + i, std::min<std::size_t>(8, s.size() - i));
        words[(first_byte + i) / 8].store(w, std::memory_order_relaxed);
    }
}

template <class Words>
std::string load_text(Words const& words, std::size_t first_byte, std::size_t n)
{
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        std::uint64_t w = words[(first_byte + i) / 8].load(std::memory_order_relaxed);
        std::memcpy(s.data() + i, &w, std::min<std::size_t>(8, n - i));
    }
    return s;
}

}  // namespace

tag_handle activity_board::acquire()
{
    std::uint32_t index;
    if (!free_.empty()) {
        index = free_.back();
        free_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    return {index, slots_[index].generation};
}

void activity_board::release(tag_handle h) noexcept
{
    auto& s = slots_[h.index];
    if (s.generation != h.generation)
        return;
    s.tag.route.clear();
    s.tag.request_id.clear();
    if (owner_ == h)
        publish({});  // the text named a connection that is gone
    if (++s.generation == 0)
        s.generation = 1;
    free_.push_back(h.index);
}

void activity_board::publish(tag_handle h) noexcept
{
    owner_ = h;
    work_tag const* tag = nullptr;
    if (h.generation != 0 && h.index < slots_.size() && slots_[h.index].generation == h.generation)
        tag = &slots_[h.index].tag;
    auto const s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    std::string_view route = tag ? std::string_view(tag->route) : std::string_view();
    std::string_view id = tag ? std::string_view(tag->request_id) : std::string_view();
    route = route.substr(0, route_capacity);
    id = id.substr(0, id_capacity);
    store_text(text_, 0, route);
    store_text(text_, route_capacity, id);
    route_len_.store(static_cast<std::uint32_t>(route.size()), std::memory_order_relaxed);
    id_len_.store(static_cast<std::uint32_t>(id.size()), std::memory_order_relaxed);
    seq_.store(s + 2, std::memory_order_release);
}

bool activity_board::enter(tag_handle h) noexcept
{
    bool const was_running = running_.load(std::memory_order_relaxed);
    if (h != owner_)
        publish(h);
    running_.store(true, std::memory_order_relaxed);
    return was_running;
}

void activity_board::leave(bool was_running) noexcept
{
    if (!was_running)
        running_.store(false, std::memory_order_relaxed);
}

void activity_board::update(tag_handle h) noexcept
{
    if (h == owner_)
        publish(h);
}

activity_board::snapshot activity_board::read() const
{
    for (;;) {
        auto const before = seq_.load(std::memory_order_acquire);
        if (before & 1)
            continue;
        snapshot s;
        s.running = running_.load(std::memory_order_relaxed);
        auto const rl = std::min<std::size_t>(route_len_.load(std::memory_order_relaxed), route_capacity);
        auto const il = std::min<std::size_t>(id_len_.load(std::memory_order_relaxed), id_capacity);
        s.route = load_text(text_, 0, rl);
        s.request_id = load_text(text_, route_capacity, il);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq_.load(std::memory_order_relaxed) == before)
            return s;
    }
}

}  // namespace steadyloop::loop
