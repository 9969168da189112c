#include "steadyloop/jobs/cpu_sum.hpp"

namespace steadyloop::jobs {

std::uint64_t cpu_sum(std::uint64_t n, std::uint64_t x) noexcept
{
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        total += x;
        // An empty barrier that claims to read and write `total` in memory: the optimiser
        // can neither fold the loop into n * x nor vectorise it, and `total` makes a round
        // trip through memory each time, as in the tutorials' unoptimised loop. ("+r" would
        // allow one addition per cycle: 2·10^9 in about 0.6 s instead of a few seconds.)
        asm volatile("" : "+m"(total));
    }
    return total;
}

}  // namespace steadyloop::jobs
