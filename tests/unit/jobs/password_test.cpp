#include "steadyloop/jobs/password.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace steadyloop::jobs;
using namespace std::string_literals;

namespace {

// Small costs keep the tests fast; the defaults are exercised once.
constexpr argon2_params fast{.memory_kib = 1024, .iterations = 1};
constexpr argon2_params default_limits{};
constexpr std::string_view fast_prefix = "$argon2id$v=19$m=1024,t=1,p=1$";

// A hash in the right shape that libsodium can read, for parser tests: salt and tag of
// 'A' (all-zero bits, so canonical at any length not 1 mod 4).
std::string synthetic(std::string_view params, std::size_t salt_chars = 22, std::size_t tag_chars = 43)
{
    return "$argon2id$v=19$"s + std::string(params) + "$" + std::string(salt_chars, 'A') + "$" +
           std::string(tag_chars, 'A');
}

}  // namespace

TEST(password, hash_has_the_documented_prefix_at_default_params)
{
    std::string const hash = hash_password("correct horse battery staple", argon2_params{});
    EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << hash;
    // 16-byte salt and 32-byte tag: 22 and 43 base64 characters.
    EXPECT_EQ(hash.size(), std::string_view("$argon2id$v=19$m=19456,t=2,p=1$").size() + 22 + 1 + 43) << hash;
    EXPECT_EQ(verify_password("correct horse battery staple", hash, default_limits), verify_result::match);
}

TEST(password, verifies_the_password_it_hashed)
{
    std::string const hash = hash_password("hunter2", fast);
    EXPECT_TRUE(plausible_argon2id(hash, default_limits)) << hash;
    EXPECT_EQ(verify_password("hunter2", hash, default_limits), verify_result::match);
}

TEST(password, a_wrong_password_is_a_mismatch)
{
    std::string const hash = hash_password("hunter2", fast);
    for (std::string_view wrong : {"hunter3", "Hunter2", "hunter2 ", "hunter", "", "hunter22"})
        EXPECT_EQ(verify_password(wrong, hash, default_limits), verify_result::mismatch) << "'" << wrong << "'";
}

TEST(password, passwords_are_bytes_not_c_strings)
{
    std::string const hash = hash_password("a\0b"s, fast);
    EXPECT_EQ(verify_password("a\0b"s, hash, default_limits), verify_result::match);
    EXPECT_EQ(verify_password("a", hash, default_limits), verify_result::mismatch);
}

TEST(password, hashes_an_empty_password)
{
    std::string const hash = hash_password("", fast);
    EXPECT_TRUE(hash.starts_with(fast_prefix)) << hash;
    EXPECT_EQ(verify_password("", hash, default_limits), verify_result::match);
    EXPECT_EQ(verify_password(" ", hash, default_limits), verify_result::mismatch);
}

TEST(password, two_hashes_of_one_password_differ_by_their_salt)
{
    std::string const first = hash_password("same", fast);
    std::string const second = hash_password("same", fast);
    EXPECT_NE(first, second);
    // The salt itself differs, not only the tag.
    EXPECT_NE(first.substr(fast_prefix.size(), 22), second.substr(fast_prefix.size(), 22));
    EXPECT_EQ(verify_password("same", first, default_limits), verify_result::match);
    EXPECT_EQ(verify_password("same", second, default_limits), verify_result::match);
}

TEST(password, writes_the_configured_params_into_the_hash)
{
    EXPECT_TRUE(hash_password("pw", fast).starts_with(fast_prefix));
    std::string const hash = hash_password("pw", {.memory_kib = 2048, .iterations = 3});
    EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=2048,t=3,p=1$")) << hash;
    EXPECT_EQ(verify_password("pw", hash, default_limits), verify_result::match);
}

TEST(password, hash_refuses_params_argon2_cannot_use)
{
    EXPECT_THROW(hash_password("pw", {.memory_kib = 7, .iterations = 1}), std::invalid_argument);
    EXPECT_THROW(hash_password("pw", {.memory_kib = 1024, .iterations = 0}), std::invalid_argument);
    EXPECT_TRUE(hash_password("pw", {.memory_kib = 8, .iterations = 1}).starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
}

TEST(password, malformed_hashes_are_refused_before_verification)
{
    std::string const good = hash_password("pw", fast);
    ASSERT_TRUE(good.starts_with(fast_prefix)) << good;
    ASSERT_EQ(good.size(), fast_prefix.size() + 22 + 1 + 43) << good;
    // The baseline is a hash that verifies; every case below is one defect away from it.
    ASSERT_EQ(verify_password("pw", good, default_limits), verify_result::match);
    std::string const salt = good.substr(fast_prefix.size(), 22);
    std::string const tag = good.substr(fast_prefix.size() + 23);
    std::string const tail = salt + "$" + tag;

    // A tag whose last character carries non-zero bits past the last byte.
    std::string non_canonical_tag = tag;
    non_canonical_tag.back() = 'B';  // 43 chars: the last holds 4 bits + 2 that must be 0; 'B' = 1

    std::string nul_in_salt = good;
    nul_in_salt[fast_prefix.size() + 3] = '\0';

    std::vector<std::string> const cases{
        "",
        "$",
        "$argon2id$",
        std::string(fast_prefix),
        "$argon2i$v=19$m=1024,t=1,p=1$" + tail,
        "$argon2d$v=19$m=1024,t=1,p=1$" + tail,
        "$ARGON2ID$v=19$m=1024,t=1,p=1$" + tail,
        "$argon2id$v=18$m=1024,t=1,p=1$" + tail,
        "$argon2id$v=16$m=1024,t=1,p=1$" + tail,
        "$argon2id$m=1024,t=1,p=1$" + tail,  // the pre-1.3 format without a version
        // missing parts
        std::string(fast_prefix) + salt,
        std::string(fast_prefix) + salt + "$",
        std::string(fast_prefix) + "$" + tag,
        "$argon2id$v=19$m=1024,t=1$" + tail,
        "$argon2id$v=19$m=1024,p=1$" + tail,
        "$argon2id$v=19$t=1,p=1$" + tail,
        "$argon2id$v=19$t=1,m=1024,p=1$" + tail,
        "$argon2id$v=19$m=,t=1,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=1,p=$" + tail,
        // numbers
        "$argon2id$v=19$m=01024,t=1,p=1$" + tail,
        "$argon2id$v=19$m=+1024,t=1,p=1$" + tail,
        "$argon2id$v=19$m=-1024,t=1,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=01,p=1$" + tail,
        "$argon2id$v=19$m=99999999999999999999,t=1,p=1$" + tail,
        "$argon2id$v=19$m=18446744073709551616,t=1,p=1$" + tail,
        "$argon2id$v=19$m=1048576,t=1,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=1000,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=99999999999999999999,p=1$" + tail,
        "$argon2id$v=19$m=7,t=1,p=1$" + tail,
        "$argon2id$v=19$m=0,t=1,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=0,p=1$" + tail,
        "$argon2id$v=19$m=1024,t=1,p=2$" + tail,
        "$argon2id$v=19$m=1024,t=1,p=0$" + tail,
        "$argon2id$v=19$m=1024,t=1,p=01$" + tail,
        "$argon2id$v=19$m=1024,t=1,p=10$" + tail,
        "$argon2id$v=19$m=1024,t=1,p=1,data=AAAA$" + tail,
        // base64
        std::string(fast_prefix) + "-" + salt.substr(1) + "$" + tag,
        std::string(fast_prefix) + "_" + salt.substr(1) + "$" + tag,
        std::string(fast_prefix) + salt + "$" + tag.substr(0, 42) + ".",
        std::string(fast_prefix) + salt + "$" + tag + "=",
        std::string(fast_prefix) + salt + "==$" + tag,
        std::string(fast_prefix) + salt.substr(0, 11) + " " + salt.substr(12) + "$" + tag,
        std::string(fast_prefix) + "\xc3\xa9" + salt.substr(2) + "$" + tag,
        std::string(fast_prefix) + salt + "$" + non_canonical_tag,
        std::string(fast_prefix) + salt + "$" + tag.substr(0, 41),  // length 1 mod 4
        std::string(fast_prefix) + std::string(12, 'A') + "$" + tag,  // salt under 16 characters
        std::string(fast_prefix) + salt + "$" + std::string(20, 'A'),  // tag under 16 bytes
        // around the hash
        good + "$",
        good + "$" + tag,
        good + " ",
        good + "\n",
        " " + good,
        "\n" + good,
        // a NUL: C code would stop reading there
        good + '\0',
        good + '\0' + "junk",
        nul_in_salt,
        // too long
        synthetic("m=1024,t=1,p=1", 600),
    };
    for (std::string const& encoded : cases) {
        EXPECT_FALSE(plausible_argon2id(encoded, default_limits)) << "'" << encoded << "'";
        EXPECT_EQ(verify_password("pw", encoded, default_limits), verify_result::malformed) << "'" << encoded << "'";
    }
}

TEST(password, refuses_costs_above_four_times_the_limits)
{
    constexpr argon2_params limits{.memory_kib = 1024, .iterations = 2};
    EXPECT_TRUE(plausible_argon2id(synthetic("m=4096,t=8,p=1"), limits));
    EXPECT_FALSE(plausible_argon2id(synthetic("m=4097,t=8,p=1"), limits));
    EXPECT_FALSE(plausible_argon2id(synthetic("m=4096,t=9,p=1"), limits));

    // A real hash: accepted while its cost is within 4 × the limits, refused above.
    std::string const hash = hash_password("pw", fast);
    EXPECT_EQ(verify_password("pw", hash, {.memory_kib = 256, .iterations = 1}), verify_result::match);
    EXPECT_EQ(verify_password("pw", hash, {.memory_kib = 255, .iterations = 1}), verify_result::malformed);
}

TEST(password, refuses_costs_above_the_absolute_caps_whatever_the_limits)
{
    constexpr argon2_params generous{.memory_kib = 1'000'000, .iterations = 100};
    EXPECT_TRUE(plausible_argon2id(synthetic("m=262144,t=16,p=1"), generous));
    EXPECT_FALSE(plausible_argon2id(synthetic("m=262145,t=16,p=1"), generous));
    EXPECT_FALSE(plausible_argon2id(synthetic("m=262144,t=17,p=1"), generous));
    EXPECT_FALSE(plausible_argon2id(synthetic("m=4294967296,t=1,p=1"), generous));  // 2^32: past uint32
    EXPECT_TRUE(plausible_argon2id(synthetic("m=8,t=1,p=1"), generous));
    EXPECT_FALSE(plausible_argon2id(synthetic("m=8,t=1,p=1"), {.memory_kib = 1, .iterations = 1}));
}

TEST(password, what_the_parser_accepts_libsodium_reads)
{
    // At the parser's edges libsodium must still decode the hash and answer mismatch;
    // a disagreement would throw (or, worse, be a wrong answer).
    std::string const at_512 = synthetic("m=8,t=1,p=1", 460, 24);
    ASSERT_EQ(at_512.size(), 512u);
    std::string const at_513 = synthetic("m=8,t=1,p=1", 462, 23);
    ASSERT_EQ(at_513.size(), 513u);
    for (std::string const& edge : {synthetic("m=8,t=1,p=1", 16, 22), synthetic("m=8,t=1,p=1", 18, 23), at_512}) {
        EXPECT_TRUE(plausible_argon2id(edge, default_limits)) << edge;
        EXPECT_EQ(verify_password("pw", edge, default_limits), verify_result::mismatch) << edge;
    }
    EXPECT_FALSE(plausible_argon2id(at_513, default_limits));
    EXPECT_EQ(verify_password("pw", at_513, default_limits), verify_result::malformed);
}
