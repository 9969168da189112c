#include "steadyloop/jobs/cpu_sum.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

using steadyloop::jobs::cpu_sum;

TEST(cpu_sum, is_zero_when_there_is_nothing_to_add)
{
    EXPECT_EQ(cpu_sum(0, 0), 0u);
    EXPECT_EQ(cpu_sum(0, 1000), 0u);
    EXPECT_EQ(cpu_sum(1000, 0), 0u);
}

TEST(cpu_sum, adds_x_n_times)
{
    EXPECT_EQ(cpu_sum(1, 1), 1u);
    EXPECT_EQ(cpu_sum(1, 1000), 1000u);
    EXPECT_EQ(cpu_sum(3, 7), 21u);
    EXPECT_EQ(cpu_sum(1000, 1), 1000u);
}

TEST(cpu_sum, computes_large_n_one_addition_at_a_time)
{
    // 2·10^7 additions: tens of milliseconds, a real loop rather than a multiplication
    // (the demo's default is 10^7; its maximum, 2·10^9, is too slow for a unit test).
    EXPECT_EQ(cpu_sum(20'000'000, 1), 20'000'000u);
    EXPECT_EQ(cpu_sum(20'000'000, 1000), 20'000'000'000u);
}

TEST(cpu_sum, wraps_modulo_two_to_the_64_like_a_multiplication)
{
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(cpu_sum(1, max), max);
    EXPECT_EQ(cpu_sum(2, max), max - 1);  // 2·(2^64 − 1) mod 2^64
    EXPECT_EQ(cpu_sum(3, max), max - 2);
}
