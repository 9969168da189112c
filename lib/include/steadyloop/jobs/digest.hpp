// Message digests for POST /hash, through OpenSSL 3. A plain function: it runs in a
// worker process, unaware of HTTP.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace steadyloop::jobs {

enum class digest_alg { sha256, sha512, sha3_256, blake2b_512 };

// Exactly "sha256", "sha512", "sha3-256" or "blake2b-512" (the API's names); nullopt otherwise.
std::optional<digest_alg> parse_digest_alg(std::string_view text) noexcept;

// The API's name of `alg`, as parse_digest_alg accepts it.
std::string_view name(digest_alg alg) noexcept;

// The digest of `data` in lower-case hex. Throws std::runtime_error when OpenSSL fails.
std::string digest_hex(digest_alg alg, std::span<std::byte const> data);

}  // namespace steadyloop::jobs
