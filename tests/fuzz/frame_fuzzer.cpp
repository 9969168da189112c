// The worker frame codec (lib/src/pools/frame.cpp) on hostile bytes, and on frames it
// encoded itself. Invariants: a decoded frame re-encodes to exactly the bytes it came
// from; the step-by-step path the pool's reader uses (header, meta length, payload)
// agrees with decode_frame; every strict prefix of a valid frame is "truncated", never
// another error; encode → decode gives back what was encoded.
#include "fuzz_check.hpp"

#include "steadyloop/pools/frame.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

using namespace steadyloop::pools::wire;

namespace {

std::span<std::byte const> as_bytes(std::uint8_t const* p, std::size_t n)
{
    return {reinterpret_cast<std::byte const*>(p), n};
}

std::span<std::byte const> as_bytes(std::string const& s)
{
    return {reinterpret_cast<std::byte const*>(s.data()), s.size()};
}

bool within(void const* p, std::size_t n, std::span<std::byte const> whole)
{
    auto const* b = reinterpret_cast<std::byte const*>(p);
    return n == 0 || (b >= whole.data() && b + n <= whole.data() + whole.size());
}

// Decodes hostile bytes as a stream of frames, the way a reader takes them off a socket.
void decode_stream(std::span<std::byte const> bytes)
{
    std::size_t at = 0;
    while (at < bytes.size()) {
        auto rest = bytes.subspan(at);
        frame_error error = frame_error::none;
        auto f = decode_frame(rest, error);

        // The pool's reader: the header, then the meta length, then the payload.
        frame_error herror = frame_error::none;
        auto h = decode_header(rest, herror);
        FUZZ_CHECK(h.has_value() == (herror == frame_error::none), "decode_header's value and error disagree");
        FUZZ_CHECK(to_string(error) != nullptr);

        if (!f) {
            FUZZ_CHECK(error != frame_error::none, "no frame and no error");
            if (!h) {
                FUZZ_CHECK(error == herror, "decode_frame says %s, decode_header %s", to_string(error), to_string(herror));
            } else if (rest.size() - header_size < h->length) {
                FUZZ_CHECK(error == frame_error::truncated, "a short payload is %s", to_string(error));
            } else {
                frame_error merror = frame_error::none;
                auto meta_len = decode_meta_length(*h, rest.subspan(header_size, 4), merror);
                FUZZ_CHECK(!meta_len && merror == frame_error::bad_meta && error == frame_error::bad_meta,
                           "a whole payload refused by decode_frame (%s) but its meta length is %s", to_string(error),
                           to_string(merror));
            }
            return;
        }

        FUZZ_CHECK(error == frame_error::none);
        FUZZ_CHECK(h && h->length == f->header.length && h->kind == f->header.kind && h->job_id == f->header.job_id);
        FUZZ_CHECK(f->size == header_size + f->header.length && f->size <= rest.size());
        FUZZ_CHECK(f->header.length >= 4 && f->header.length <= max_payload);
        FUZZ_CHECK(f->payload.meta.size() <= max_meta);
        FUZZ_CHECK(4 + f->payload.meta.size() + f->payload.data.size() == f->header.length);
        FUZZ_CHECK(within(f->payload.meta.data(), f->payload.meta.size(), rest.first(f->size)));
        FUZZ_CHECK(within(f->payload.data.data(), f->payload.data.size(), rest.first(f->size)));

        frame_error merror = frame_error::none;
        auto meta_len = decode_meta_length(*h, rest.subspan(header_size, 4), merror);
        FUZZ_CHECK(meta_len && *meta_len == f->payload.meta.size(), "the pool's reader would split it differently");

        // Re-encoding gives back exactly the bytes of the frame.
        std::string again = encode_frame(f->header.kind, f->header.job_id, f->payload.meta, f->payload.data);
        FUZZ_CHECK(again.size() == f->size && std::memcmp(again.data(), rest.data(), f->size) == 0,
                   "a decoded frame does not re-encode to its bytes");
        auto prefix = encode_prefix(f->header.kind, f->header.job_id, f->payload.meta.size(), f->payload.data.size());
        FUZZ_CHECK(std::memcmp(prefix.data(), rest.data(), prefix.size()) == 0);
        at += f->size;
    }
}

// Encodes what the input describes, then decodes it and every cut of it.
void round_trip(FuzzedDataProvider& in)
{
    auto kind = static_cast<frame_kind>(in.ConsumeIntegralInRange<std::uint32_t>(1, 4));
    auto job_id = in.ConsumeIntegral<std::uint64_t>();
    std::string meta = in.ConsumeRandomLengthString(max_meta + 16);
    std::vector<std::uint8_t> data = in.ConsumeRemainingBytes<std::uint8_t>();
    auto data_bytes = as_bytes(data.data(), data.size());

    std::string frame;
    try {
        frame = encode_frame(kind, job_id, meta, data_bytes);
    } catch (std::length_error const&) {
        FUZZ_CHECK(meta.size() > max_meta, "encode_frame refused a %zu-byte meta", meta.size());
        return;
    }
    FUZZ_CHECK(meta.size() <= max_meta, "encode_frame took a %zu-byte meta", meta.size());
    FUZZ_CHECK(frame.size() == header_size + 4 + meta.size() + data.size());

    auto bytes = as_bytes(frame);
    frame_error error = frame_error::none;
    auto f = decode_frame(bytes, error);
    FUZZ_CHECK(f, "an encoded frame does not decode: %s", to_string(error));
    FUZZ_CHECK(f->header.kind == kind && f->header.job_id == job_id && f->size == frame.size());
    FUZZ_CHECK(f->payload.meta == meta);
    FUZZ_CHECK(f->payload.data.size() == data.size() &&
               (data.empty() || std::memcmp(f->payload.data.data(), data.data(), data.size()) == 0));

    // A frame cut anywhere is incomplete, not malformed.
    std::size_t const cuts[] = {0, 1, header_size - 1, header_size, header_size + 3, header_size + 4,
                                header_size + 4 + meta.size(), frame.size() - 1};
    for (std::size_t cut : cuts) {
        if (cut >= frame.size())
            continue;
        frame_error e = frame_error::none;
        FUZZ_CHECK(!decode_frame(bytes.first(cut), e) && e == frame_error::truncated,
                   "a frame cut at %zu of %zu bytes is %s", cut, frame.size(), to_string(e));
    }

    // Two frames back to back decode as two.
    std::string two = frame + frame;
    frame_error e2 = frame_error::none;
    auto first = decode_frame(as_bytes(two), e2);
    FUZZ_CHECK(first && first->size == frame.size());
    auto second = decode_frame(as_bytes(two).subspan(first->size), e2);
    FUZZ_CHECK(second && second->size == frame.size() && second->payload.meta == meta);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    if (size == 0)
        return 0;
    // The first byte picks the mode: hostile bytes (most inputs) or an encode round trip.
    if (data[0] < 0xe0) {
        decode_stream(as_bytes(data + 1, size - 1));
    } else {
        FuzzedDataProvider in(data + 1, size - 1);
        round_trip(in);
    }
    return 0;
}
