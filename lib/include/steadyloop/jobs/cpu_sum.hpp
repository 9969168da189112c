// The CPU-bound job of the tutorials, for /demo/cpu: `total += x`, n times. Its answer is
// n·x, computed the slow way on purpose, so the demo can show what a busy core does.
#pragma once

#include <cstdint>

namespace steadyloop::jobs {

// n·x (mod 2^64), by n additions. The loop is kept from being folded into a
// multiplication, so its cost grows with n: about 2 ns per addition at -O2 on a current
// x86-64 core, so seconds for the demo's maximum n = 2·10^9.
std::uint64_t cpu_sum(std::uint64_t n, std::uint64_t x) noexcept;

}  // namespace steadyloop::jobs
