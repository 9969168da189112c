// Argon2id password hashing through libsodium, for /passwords/* and /users, /login.
// verify_password parses a stored hash strictly before libsodium sees it, so a hash sent
// by a client can neither be misread nor make the verifier spend gigabytes or minutes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace steadyloop::jobs {

// Argon2id cost. libsodium always uses one lane (p=1). The defaults are OWASP's baseline.
struct argon2_params {
    std::uint32_t memory_kib = 19456;
    std::uint32_t iterations = 2;
};

enum class verify_result { match, mismatch, malformed };

// Initialises libsodium once per process (it picks the fastest Argon2 code for this CPU).
// Throws std::runtime_error on failure. hash_password and verify_password call it too.
void init_crypto();

// "$argon2id$v=19$m=<memory_kib>,t=<iterations>,p=1$<salt>$<hash>" with a random 16-byte
// salt. Throws std::invalid_argument for parameters Argon2 refuses (memory_kib < 8,
// iterations < 1) and std::runtime_error when hashing fails (out of memory).
std::string hash_password(std::string_view password, argon2_params const& params);

// True when `encoded` is exactly
// "$argon2id$v=19$m=<digits>,t=<digits>,p=1$<salt>$<hash>", at most 512 characters, the
// salt and hash in unpadded canonical base64 (salt ≥ 16 characters, hash ≥ 22, i.e. 16
// bytes), numbers without leading zeros, and its cost within bounds: 8 ≤ m ≤
// min(4 × limits.memory_kib, 262144) and 1 ≤ t ≤ min(4 × limits.iterations, 16).
bool plausible_argon2id(std::string_view encoded, argon2_params const& limits) noexcept;

// malformed unless plausible_argon2id(encoded_hash, limits); otherwise libsodium's
// constant-time verification decides match or mismatch. Throws std::runtime_error when
// verification itself fails (out of memory), which is neither answer.
verify_result verify_password(std::string_view password, std::string_view encoded_hash,
                              argon2_params const& limits);

}  // namespace steadyloop::jobs
