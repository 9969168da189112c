#include "steadyloop/loop/lag_window.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace steadyloop::loop;
using namespace std::chrono_literals;

TEST(lag_window, nearest_rank_percentiles_of_one_to_a_hundred)
{
    lag_window w(10s);
    auto t0 = lag_window::clock::now();
    // Recorded out of order on purpose: percentiles must not depend on arrival order.
    for (int i = 100; i >= 1; --i)
        w.record(t0 + 1ms * (100 - i), i);
    auto s = w.summary(t0 + 200ms);
    EXPECT_EQ(s.samples, 100u);
    EXPECT_DOUBLE_EQ(s.p50_ms, 50);
    EXPECT_DOUBLE_EQ(s.p90_ms, 90);
    EXPECT_DOUBLE_EQ(s.p99_ms, 99);
    EXPECT_DOUBLE_EQ(s.max_ms, 100);
}

TEST(lag_window, a_single_outlier_shows_in_max_and_not_in_the_median)
{
    lag_window w(10s);
    auto t0 = lag_window::clock::now();
    for (int i = 0; i < 999; ++i)
        w.record(t0 + 10ms * i, 0.05);
    w.record(t0 + 10ms * 999, 480.0);
    auto s = w.summary(t0 + 10ms * 999);
    EXPECT_DOUBLE_EQ(s.p50_ms, 0.05);
    EXPECT_DOUBLE_EQ(s.p99_ms, 0.05);
    EXPECT_DOUBLE_EQ(s.max_ms, 480.0);
}

TEST(lag_window, forgets_samples_older_than_the_window_but_not_the_all_time_max)
{
    lag_window w(10s);
    auto t0 = lag_window::clock::now();
    w.record(t0, 300.0);
    w.record(t0 + 5s, 1.0);
    auto during = w.summary(t0 + 9s);
    EXPECT_EQ(during.samples, 2u);
    EXPECT_DOUBLE_EQ(during.max_ms, 300.0);
    auto after = w.summary(t0 + 12s);
    EXPECT_EQ(after.samples, 1u);
    EXPECT_DOUBLE_EQ(after.max_ms, 1.0);
    EXPECT_DOUBLE_EQ(after.since_start_max_ms, 300.0);
    auto empty = w.summary(t0 + 60s);
    EXPECT_EQ(empty.samples, 0u);
    EXPECT_DOUBLE_EQ(empty.p99_ms, 0.0);
    EXPECT_DOUBLE_EQ(empty.since_start_max_ms, 300.0);
}

TEST(percentile, handles_small_sets)
{
    std::vector<double> one{7};
    EXPECT_DOUBLE_EQ(percentile(one.data(), one.data() + 1, 99), 7);
    std::vector<double> two{1, 9};
    EXPECT_DOUBLE_EQ(percentile(two.data(), two.data() + 2, 50), 1);
    EXPECT_DOUBLE_EQ(percentile(two.data(), two.data() + 2, 51), 9);
    EXPECT_DOUBLE_EQ(percentile(two.data(), two.data() + 0, 50), 0);
}
