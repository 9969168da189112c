// The worker wire format. Every message between the loop and a worker is one frame:
//
//   u32 length | u32 kind | u64 job_id | payload (length bytes)
//   payload = u32 meta_length | meta (JSON text, ≤ 64 KiB) | data (the rest)
//
// Integers are little-endian. Decoding is defensive: a bad length, an unknown kind or a
// truncated frame is an error value, never undefined behaviour.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace steadyloop::pools::wire {

enum class frame_kind : std::uint32_t {
    ready = 1,   // worker → loop: started and initialised (job_id 0, meta {"pid":…})
    job = 2,     // loop → worker: meta {"job":"digest",…}, data = input bytes
    result = 3,  // worker → loop: meta {…}, data = output bytes
    error = 4,   // worker → loop: meta {"code":…,"message":…}
};

inline constexpr std::size_t header_size = 16;
inline constexpr std::uint32_t max_payload = 160u * 1024 * 1024;
inline constexpr std::uint32_t max_meta = 64u * 1024;

enum class frame_error {
    none,
    bad_length,    // payload length over max_payload, or too short for its meta length
    unknown_kind,  // kind is not a frame_kind
    bad_meta,      // meta length over max_meta or past the payload's end
    truncated,     // fewer bytes than the header or the payload needs
};

char const* to_string(frame_error e) noexcept;

struct frame_header {
    std::uint32_t length = 0;  // payload bytes after the header
    frame_kind kind = frame_kind::ready;
    std::uint64_t job_id = 0;
};

struct payload_view {
    std::string_view meta;
    std::span<std::byte const> data;
};

// The header for a payload of `meta_size + data_size` bytes (+4 for the meta length).
// Throws std::length_error when the payload would exceed max_payload or meta max_meta.
std::array<std::byte, header_size + 4> encode_prefix(frame_kind kind, std::uint64_t job_id, std::size_t meta_size,
                                                     std::size_t data_size);

// Decodes a header; `error` says why when it returns nullopt.
std::optional<frame_header> decode_header(std::span<std::byte const> bytes, frame_error& error) noexcept;

// The meta length (the payload's first 4 bytes), checked against the limit and the
// header's payload length: lets a reader take the meta and the data into separate buffers.
std::optional<std::uint32_t> decode_meta_length(frame_header const& h, std::span<std::byte const> first4,
                                                frame_error& error) noexcept;

// Splits a payload into its meta and data.
std::optional<payload_view> split_payload(std::span<std::byte const> payload, frame_error& error) noexcept;

// A whole frame as one string (for the worker side and tests).
std::string encode_frame(frame_kind kind, std::uint64_t job_id, std::string_view meta,
                         std::span<std::byte const> data = {});

// Decodes one whole frame from the front of `bytes`: the header, the payload split into
// meta and data, and how many bytes it used. nullopt with truncated when more bytes are needed.
struct decoded_frame {
    frame_header header;
    payload_view payload;
    std::size_t size = 0;
};
std::optional<decoded_frame> decode_frame(std::span<std::byte const> bytes, frame_error& error) noexcept;

}  // namespace steadyloop::pools::wire
