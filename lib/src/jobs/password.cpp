#include "steadyloop/jobs/password.hpp"

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace steadyloop::jobs {

namespace {

constexpr std::size_t max_encoded_length = 512;
constexpr std::uint64_t max_memory_kib = 262144;  // 256 MiB per verification, whatever the limits
constexpr std::uint64_t max_iterations = 16;
constexpr std::uint64_t min_memory_kib = 8;  // Argon2's minimum for one lane
constexpr std::size_t min_salt_chars = 16;
constexpr std::size_t min_hash_chars = 22;  // 16 bytes, Argon2's shortest output

bool consume(std::string_view& s, std::string_view prefix) noexcept
{
    if (!s.starts_with(prefix))
        return false;
    s.remove_prefix(prefix.size());
    return true;
}

// A decimal number at the front of `s`: digits only, no leading zero (libsodium refuses
// those too), no overflow.
std::optional<std::uint64_t> consume_number(std::string_view& s) noexcept
{
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
        ++digits;
    if (digits == 0 || (digits > 1 && s.front() == '0'))
        return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + digits, value);
    if (ec != std::errc{} || end != s.data() + digits)
        return std::nullopt;
    s.remove_prefix(digits);
    return value;
}

int base64_value(char c) noexcept
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

// Unpadded base64 as Argon2 writes it, and as libsodium insists on reading it: only the
// standard alphabet, a length that is not 1 mod 4, and zero bits after the last byte.
bool canonical_base64(std::string_view s) noexcept
{
    for (char c : s)
        if (base64_value(c) < 0)
            return false;
    switch (s.size() % 4) {
    case 1:
        return false;
    case 2:  // one byte: 4 bits left over
        return (base64_value(s.back()) & 0x0f) == 0;
    case 3:  // two bytes: 2 bits left over
        return (base64_value(s.back()) & 0x03) == 0;
    default:
        return true;
    }
}

[[noreturn]] void throw_errno(std::string_view step)
{
    throw std::runtime_error(std::string(step) + " failed (errno " + std::to_string(errno) + ")");
}

// A string_view may carry a null pointer when empty; libsodium wants a valid one.
char const* bytes_of(std::string_view s) noexcept { return s.empty() ? "" : s.data(); }

}  // namespace

void init_crypto()
{
    // sodium_init() is thread-safe; the static makes it run once per process.
    static bool const ready = sodium_init() >= 0;
    if (!ready)
        throw std::runtime_error("libsodium could not be initialised");
}

std::string hash_password(std::string_view password, argon2_params const& params)
{
    init_crypto();
    if (params.memory_kib < min_memory_kib || params.iterations < 1)
        throw std::invalid_argument("Argon2id needs at least 8 KiB of memory and 1 iteration");
    char out[crypto_pwhash_STRBYTES] = {};
    if (crypto_pwhash_str_alg(out, bytes_of(password), password.size(), params.iterations,
                              std::size_t{params.memory_kib} * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0)
        throw_errno("Argon2id hashing");
    return std::string(out);
}

bool plausible_argon2id(std::string_view encoded, argon2_params const& limits) noexcept
{
    if (encoded.size() > max_encoded_length)
        return false;
    std::string_view s = encoded;
    if (!consume(s, "$argon2id$v=19$m="))
        return false;
    auto const m = consume_number(s);
    if (!m || !consume(s, ",t="))
        return false;
    auto const t = consume_number(s);
    if (!t || !consume(s, ",p=1$"))
        return false;

    auto const dollar = s.find('$');
    if (dollar == std::string_view::npos)
        return false;
    std::string_view const salt = s.substr(0, dollar);
    std::string_view const hash = s.substr(dollar + 1);
    if (salt.size() < min_salt_chars || !canonical_base64(salt) || hash.size() < min_hash_chars ||
        !canonical_base64(hash))
        return false;

    // The cost is chosen by whoever wrote the hash: bound it, relative to ours and absolutely.
    std::uint64_t const memory_cap = std::min<std::uint64_t>(4 * std::uint64_t{limits.memory_kib}, max_memory_kib);
    std::uint64_t const iteration_cap = std::min<std::uint64_t>(4 * std::uint64_t{limits.iterations}, max_iterations);
    return *m >= min_memory_kib && *m <= memory_cap && *t >= 1 && *t <= iteration_cap;
}

verify_result verify_password(std::string_view password, std::string_view encoded_hash, argon2_params const& limits)
{
    if (!plausible_argon2id(encoded_hash, limits))
        return verify_result::malformed;
    init_crypto();
    // libsodium reads the hash up to its NUL; the parser has ruled out NULs inside.
    std::string const terminated(encoded_hash);
    errno = 0;
    if (crypto_pwhash_str_verify(terminated.c_str(), bytes_of(password), password.size()) == 0)
        return verify_result::match;
    // libsodium reports a wrong password as EINVAL; anything else (ENOMEM) is a failure
    // to verify, which must not read as "wrong password".
    if (errno == EINVAL)
        return verify_result::mismatch;
    throw_errno("Argon2id verification");
}

}  // namespace steadyloop::jobs
