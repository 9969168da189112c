#include "steadyloop/pools/frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

using namespace steadyloop::pools::wire;

namespace {

std::span<std::byte const> bytes_of(std::string const& s)
{
    return {reinterpret_cast<std::byte const*>(s.data()), s.size()};
}

std::vector<std::byte> data_of(std::string_view s)
{
    std::vector<std::byte> v(s.size());
    std::memcpy(v.data(), s.data(), s.size());
    return v;
}

}  // namespace

TEST(frame, round_trips_kind_id_meta_and_data)
{
    auto data = data_of(std::string("\0binary\xFF", 8));
    auto f = encode_frame(frame_kind::job, 0x1122334455667788ull, R"({"job":"digest"})", data);
    frame_error err{};
    auto d = decode_frame(bytes_of(f), err);
    ASSERT_TRUE(d) << to_string(err);
    EXPECT_EQ(d->header.kind, frame_kind::job);
    EXPECT_EQ(d->header.job_id, 0x1122334455667788ull);
    EXPECT_EQ(d->payload.meta, R"({"job":"digest"})");
    ASSERT_EQ(d->payload.data.size(), data.size());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), d->payload.data.begin()));
    EXPECT_EQ(d->size, f.size());
}

TEST(frame, round_trips_empty_meta_and_data)
{
    auto f = encode_frame(frame_kind::ready, 0, "");
    EXPECT_EQ(f.size(), header_size + 4);
    frame_error err{};
    auto d = decode_frame(bytes_of(f), err);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->payload.meta.empty());
    EXPECT_TRUE(d->payload.data.empty());
}

TEST(frame, header_is_little_endian_length_kind_id)
{
    auto f = encode_frame(frame_kind::result, 258, "ab", data_of("xyz"));
    EXPECT_EQ(static_cast<unsigned char>(f[0]), 4 + 2 + 3);  // length
    EXPECT_EQ(static_cast<unsigned char>(f[4]), 3);          // kind
    EXPECT_EQ(static_cast<unsigned char>(f[8]), 2);          // job id 258 = 0x0102
    EXPECT_EQ(static_cast<unsigned char>(f[9]), 1);
    EXPECT_EQ(static_cast<unsigned char>(f[16]), 2);  // meta length
}

TEST(frame, decodes_two_frames_back_to_back)
{
    auto both = encode_frame(frame_kind::result, 1, "{}", data_of("one")) + encode_frame(frame_kind::error, 2, "{}");
    frame_error err{};
    auto first = decode_frame(bytes_of(both), err);
    ASSERT_TRUE(first);
    auto second = decode_frame(bytes_of(both).subspan(first->size), err);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->header.job_id, 2u);
    EXPECT_EQ(second->header.kind, frame_kind::error);
}

TEST(frame, reports_every_truncation)
{
    auto f = encode_frame(frame_kind::result, 7, R"({"a":1})", data_of("payload"));
    for (std::size_t n = 0; n < f.size(); ++n) {
        frame_error err{};
        EXPECT_FALSE(decode_frame(bytes_of(f).first(n), err)) << n;
        EXPECT_EQ(err, frame_error::truncated) << n;
    }
}

TEST(frame, rejects_an_unknown_kind)
{
    for (std::uint32_t kind : {0u, 5u, 0xFFFFFFFFu}) {
        auto f = encode_frame(frame_kind::job, 1, "{}");
        std::memcpy(f.data() + 4, &kind, 4);
        frame_error err{};
        EXPECT_FALSE(decode_frame(bytes_of(f), err));
        EXPECT_EQ(err, frame_error::unknown_kind) << kind;
    }
}

TEST(frame, rejects_lengths_too_large_or_too_small)
{
    for (std::uint32_t length : {0u, 3u, max_payload + 1, 0xFFFFFFFFu}) {
        auto f = encode_frame(frame_kind::job, 1, "{}");
        std::memcpy(f.data(), &length, 4);
        frame_error err{};
        EXPECT_FALSE(decode_header(bytes_of(f), err));
        EXPECT_EQ(err, frame_error::bad_length) << length;
    }
}

TEST(frame, rejects_a_meta_length_past_the_payload_or_the_limit)
{
    for (std::uint32_t meta_len : {3u, 100u, max_meta + 1, 0xFFFFFFFFu}) {
        auto f = encode_frame(frame_kind::job, 1, "{}");
        std::memcpy(f.data() + 16, &meta_len, 4);
        frame_error err{};
        EXPECT_FALSE(decode_frame(bytes_of(f), err));
        EXPECT_EQ(err, frame_error::bad_meta) << meta_len;
    }
}

TEST(frame, refuses_to_encode_oversized_parts)
{
    std::string big_meta(max_meta + 1, 'x');
    EXPECT_THROW(encode_prefix(frame_kind::job, 1, big_meta.size(), 0), std::length_error);
    EXPECT_THROW(encode_prefix(frame_kind::job, 1, 0, max_payload), std::length_error);
    EXPECT_NO_THROW(encode_prefix(frame_kind::job, 1, 0, max_payload - 4));
}

TEST(frame, survives_random_bytes)
{
    std::mt19937 rng(42);
    std::vector<std::byte> buf(64);
    int decoded = 0;
    for (int i = 0; i < 20000; ++i) {
        for (auto& b : buf)
            b = static_cast<std::byte>(rng());
        // Sometimes make the header plausible so the payload checks run too.
        if (i % 2 == 0) {
            std::uint32_t len = rng() % 60, kind = 1 + rng() % 4, meta = rng() % 70;
            std::memcpy(buf.data(), &len, 4);
            std::memcpy(buf.data() + 4, &kind, 4);
            std::memcpy(buf.data() + 16, &meta, 4);
        }
        frame_error err{};
        auto d = decode_frame(buf, err);
        if (d) {
            ++decoded;
            EXPECT_LE(d->size, buf.size());
            EXPECT_LE(d->payload.meta.size() + d->payload.data.size() + 4, d->header.length);
        } else {
            EXPECT_NE(err, frame_error::none);
        }
    }
    EXPECT_GT(decoded, 0);
}

TEST(frame, meta_length_is_checked_against_the_header)
{
    auto f = encode_frame(frame_kind::result, 9, "meta", data_of("data"));
    frame_error err{};
    auto h = decode_header(bytes_of(f), err);
    ASSERT_TRUE(h);
    auto len = decode_meta_length(*h, bytes_of(f).subspan(header_size, 4), err);
    ASSERT_TRUE(len);
    EXPECT_EQ(*len, 4u);
    for (std::uint32_t bad : {5u + 4u, max_meta + 1}) {
        std::memcpy(f.data() + 16, &bad, 4);
        EXPECT_FALSE(decode_meta_length(*h, bytes_of(f).subspan(header_size, 4), err)) << bad;
        EXPECT_EQ(err, frame_error::bad_meta);
    }
    EXPECT_FALSE(decode_meta_length(*h, bytes_of(f).subspan(header_size, 3), err));
    EXPECT_EQ(err, frame_error::truncated);
}
