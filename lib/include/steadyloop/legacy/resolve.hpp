// The classic blocking C call, getaddrinfo(), wrapped for the blocking pool.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace steadyloop::legacy {

// A host name or address literal we are willing to hand to the resolver: 1–253 bytes
// of letters, digits, '.', '-', '_' and ':' (IPv6 literals), no empty label.
bool valid_host_name(std::string_view host) noexcept;

struct resolve_result {
    int error = 0;  // 0, or an EAI_* code
    std::vector<std::string> addresses;  // IPv4 first, then IPv6, de-duplicated, in resolver order
};

// Blocks for as long as the system resolver takes: call it in the blocking pool.
resolve_result blocking_resolve(std::string const& host);

}  // namespace steadyloop::legacy
