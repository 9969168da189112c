#include "steadyloop/jobs/digest.hpp"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <string_view>

using namespace steadyloop::jobs;

namespace {

std::string hex_of(digest_alg alg, std::string_view text) { return digest_hex(alg, std::as_bytes(std::span(text))); }

}  // namespace

TEST(digest, parses_exactly_the_api_names)
{
    EXPECT_EQ(parse_digest_alg("sha256"), digest_alg::sha256);
    EXPECT_EQ(parse_digest_alg("sha512"), digest_alg::sha512);
    EXPECT_EQ(parse_digest_alg("sha3-256"), digest_alg::sha3_256);
    EXPECT_EQ(parse_digest_alg("blake2b-512"), digest_alg::blake2b_512);

    for (std::string_view bad : {"", "SHA256", "sha-256", "sha2-256", "sha3_256", "blake2b_512", "blake2b",
                                 "BLAKE2B-512", "sha256 ", " sha256", "md5", "sha1"})
        EXPECT_EQ(parse_digest_alg(bad), std::nullopt) << "'" << bad << "'";
    // A NUL inside is part of the name, not its end.
    EXPECT_EQ(parse_digest_alg(std::string_view("sha256\0x", 8)), std::nullopt);
}

TEST(digest, names_round_trip)
{
    for (auto alg : {digest_alg::sha256, digest_alg::sha512, digest_alg::sha3_256, digest_alg::blake2b_512})
        EXPECT_EQ(parse_digest_alg(name(alg)), alg) << name(alg);
    EXPECT_EQ(name(digest_alg::sha3_256), "sha3-256");
    EXPECT_EQ(name(digest_alg::blake2b_512), "blake2b-512");
}

// FIPS 180-2, appendix B.1, and the empty message.
TEST(digest, sha256_matches_fips_vectors)
{
    EXPECT_EQ(hex_of(digest_alg::sha256, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hex_of(digest_alg::sha256, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// FIPS 180-2, appendix B.3: one million 'a'.
TEST(digest, sha256_matches_the_million_a_vector)
{
    std::string const million(1'000'000, 'a');
    EXPECT_EQ(hex_of(digest_alg::sha256, million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// FIPS 180-2, appendix C.1, and the empty message.
TEST(digest, sha512_matches_fips_vectors)
{
    EXPECT_EQ(hex_of(digest_alg::sha512, ""),
              "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
              "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    EXPECT_EQ(hex_of(digest_alg::sha512, "abc"),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

// FIPS 202 (NIST's SHA3-256 examples for the empty message and "abc").
TEST(digest, sha3_256_matches_fips_202_vectors)
{
    EXPECT_EQ(hex_of(digest_alg::sha3_256, ""), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    EXPECT_EQ(hex_of(digest_alg::sha3_256, "abc"), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
}

// RFC 7693, appendix A ("abc"), and the empty message of the BLAKE2 reference vectors.
TEST(digest, blake2b_512_matches_rfc_7693_vectors)
{
    EXPECT_EQ(hex_of(digest_alg::blake2b_512, ""),
              "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
              "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
    EXPECT_EQ(hex_of(digest_alg::blake2b_512, "abc"),
              "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
              "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

TEST(digest, hashes_an_empty_span_without_data)
{
    // A default span has a null pointer; it is the empty message.
    EXPECT_EQ(digest_hex(digest_alg::sha256, {}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(digest, hashes_every_byte_value_including_nul)
{
    // "a\0b" is not "a": the input is bytes, not a C string.
    EXPECT_NE(hex_of(digest_alg::sha256, std::string_view("a\0b", 3)), hex_of(digest_alg::sha256, "a"));
}
