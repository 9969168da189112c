#include "steadyloop/jobs/digest.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <memory>
#include <stdexcept>

namespace steadyloop::jobs {

namespace {

struct alg_names {
    digest_alg alg;
    std::string_view api;
    char const* openssl;
};

constexpr std::array<alg_names, 4> algorithms{{
    {digest_alg::sha256, "sha256", "SHA2-256"},
    {digest_alg::sha512, "sha512", "SHA2-512"},
    {digest_alg::sha3_256, "sha3-256", "SHA3-256"},
    {digest_alg::blake2b_512, "blake2b-512", "BLAKE2B-512"},
}};

struct md_free {
    void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};

// OpenSSL's first queued error, then an empty queue, so the next call on this thread
// does not report a stale error.
[[noreturn]] void throw_openssl_error(std::string_view step)
{
    std::array<char, 256> text{};
    ERR_error_string_n(ERR_get_error(), text.data(), text.size());
    ERR_clear_error();
    throw std::runtime_error("OpenSSL " + std::string(step) + " failed: " + text.data());
}

}  // namespace

std::optional<digest_alg> parse_digest_alg(std::string_view text) noexcept
{
    for (auto const& a : algorithms)
        if (a.api == text)
            return a.alg;
    return std::nullopt;
}

std::string_view name(digest_alg alg) noexcept
{
    for (auto const& a : algorithms)
        if (a.alg == alg)
            return a.api;
    return {};
}

std::string digest_hex(digest_alg alg, std::span<std::byte const> data)
{
    char const* openssl_name = nullptr;
    for (auto const& a : algorithms)
        if (a.alg == alg)
            openssl_name = a.openssl;
    if (openssl_name == nullptr)
        throw std::invalid_argument("digest_hex: unknown digest_alg");

    // Fetched per call: no process-wide state to share with a forked worker, and
    // OpenSSL caches the lookup anyway.
    std::unique_ptr<EVP_MD, md_free> md(EVP_MD_fetch(nullptr, openssl_name, nullptr));
    if (!md)
        throw_openssl_error(std::string("EVP_MD_fetch(") + openssl_name + ")");

    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int out_len = 0;
    // An empty span may carry a null pointer; give OpenSSL a valid one either way.
    static constexpr unsigned char nothing = 0;
    void const* in = data.empty() ? static_cast<void const*>(&nothing) : static_cast<void const*>(data.data());
    if (EVP_Digest(in, data.size(), out.data(), &out_len, md.get(), nullptr) != 1)
        throw_openssl_error("EVP_Digest");

    static constexpr std::string_view hex_digits = "0123456789abcdef";
    std::string hex(std::size_t{out_len} * 2, '\0');
    for (std::size_t i = 0; i < out_len; ++i) {
        hex[2 * i] = hex_digits[out[i] >> 4];
        hex[2 * i + 1] = hex_digits[out[i] & 0x0f];
    }
    return hex;
}

}  // namespace steadyloop::jobs
