#include "steadyloop/pools/frame.hpp"

#include <cstring>
#include <stdexcept>

namespace steadyloop::pools::wire {
namespace {

void put_u32(std::byte* p, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<std::byte>(v >> (8 * i));
}

void put_u64(std::byte* p, std::uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<std::byte>(v >> (8 * i));
}

std::uint32_t get_u32(std::byte const* p)
{
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    return v;
}

std::uint64_t get_u64(std::byte const* p)
{
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}

bool known_kind(std::uint32_t k)
{
    return k >= static_cast<std::uint32_t>(frame_kind::ready) && k <= static_cast<std::uint32_t>(frame_kind::error);
}

}  // namespace

char const* to_string(frame_error e) noexcept
{
    switch (e) {
    case frame_error::none: return "no error";
    case frame_error::bad_length: return "bad frame length";
    case frame_error::unknown_kind: return "unknown frame kind";
    case frame_error::bad_meta: return "bad meta length";
    case frame_error::truncated: return "truncated frame";
    }
    return "unknown frame error";
}

std::array<std::byte, header_size + 4> encode_prefix(frame_kind kind, std::uint64_t job_id, std::size_t meta_size,
                                                     std::size_t data_size)
{
    if (meta_size > max_meta)
        throw std::length_error("frame meta too large");
    if (data_size > max_payload || 4 + meta_size + data_size > max_payload)
        throw std::length_error("frame payload too large");
    std::array<std::byte, header_size + 4> out{};
    put_u32(out.data(), static_cast<std::uint32_t>(4 + meta_size + data_size));
    put_u32(out.data() + 4, static_cast<std::uint32_t>(kind));
    put_u64(out.data() + 8, job_id);
    put_u32(out.data() + 16, static_cast<std::uint32_t>(meta_size));
    return out;
}

std::optional<frame_header> decode_header(std::span<std::byte const> bytes, frame_error& error) noexcept
{
    if (bytes.size() < header_size) {
        error = frame_error::truncated;
        return std::nullopt;
    }
    frame_header h;
    h.length = get_u32(bytes.data());
    std::uint32_t kind = get_u32(bytes.data() + 4);
    h.job_id = get_u64(bytes.data() + 8);
    if (h.length < 4 || h.length > max_payload) {
        error = frame_error::bad_length;
        return std::nullopt;
    }
    if (!known_kind(kind)) {
        error = frame_error::unknown_kind;
        return std::nullopt;
    }
    h.kind = static_cast<frame_kind>(kind);
    error = frame_error::none;
    return h;
}

std::optional<std::uint32_t> decode_meta_length(frame_header const& h, std::span<std::byte const> first4,
                                                frame_error& error) noexcept
{
    if (first4.size() < 4) {
        error = frame_error::truncated;
        return std::nullopt;
    }
    std::uint32_t meta_len = get_u32(first4.data());
    if (meta_len > max_meta || h.length < 4 || meta_len > h.length - 4) {
        error = frame_error::bad_meta;
        return std::nullopt;
    }
    error = frame_error::none;
    return meta_len;
}

std::optional<payload_view> split_payload(std::span<std::byte const> payload, frame_error& error) noexcept
{
    if (payload.size() < 4) {
        error = frame_error::bad_length;
        return std::nullopt;
    }
    std::uint32_t meta_len = get_u32(payload.data());
    if (meta_len > max_meta || meta_len > payload.size() - 4) {
        error = frame_error::bad_meta;
        return std::nullopt;
    }
    payload_view v;
    v.meta = std::string_view(reinterpret_cast<char const*>(payload.data() + 4), meta_len);
    v.data = payload.subspan(4 + meta_len);
    error = frame_error::none;
    return v;
}

std::string encode_frame(frame_kind kind, std::uint64_t job_id, std::string_view meta, std::span<std::byte const> data)
{
    auto prefix = encode_prefix(kind, job_id, meta.size(), data.size());
    std::string out;
    out.reserve(prefix.size() + meta.size() + data.size());
    out.append(reinterpret_cast<char const*>(prefix.data()), prefix.size());
    out.append(meta);
    out.append(reinterpret_cast<char const*>(data.data()), data.size());
    return out;
}

std::optional<decoded_frame> decode_frame(std::span<std::byte const> bytes, frame_error& error) noexcept
{
    auto h = decode_header(bytes, error);
    if (!h)
        return std::nullopt;
    if (bytes.size() - header_size < h->length) {
        error = frame_error::truncated;
        return std::nullopt;
    }
    auto p = split_payload(bytes.subspan(header_size, h->length), error);
    if (!p)
        return std::nullopt;
    return decoded_frame{*h, *p, header_size + h->length};
}

}  // namespace steadyloop::pools::wire
