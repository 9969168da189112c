#include "steadyloop/pools/cpu_quota.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace steadyloop::pools;

TEST(cpu_quota, reads_cgroup_v2_cpu_max)
{
    EXPECT_DOUBLE_EQ(parse_cpu_max("200000 100000\n").value(), 2.0);
    EXPECT_DOUBLE_EQ(parse_cpu_max("150000 100000").value(), 1.5);
    EXPECT_FALSE(parse_cpu_max("max 100000\n"));
    EXPECT_FALSE(parse_cpu_max(""));
    EXPECT_FALSE(parse_cpu_max("garbage"));
    EXPECT_FALSE(parse_cpu_max("100000 0"));
}

TEST(cpu_quota, reads_cgroup_v1_cfs_quota)
{
    EXPECT_DOUBLE_EQ(parse_cfs_quota("50000\n", "100000\n").value(), 0.5);
    EXPECT_FALSE(parse_cfs_quota("-1\n", "100000\n"));
    EXPECT_FALSE(parse_cfs_quota("x", "100000"));
}

TEST(cpu_quota, finds_the_v2_path_in_proc_self_cgroup)
{
    EXPECT_EQ(parse_cgroup_v2_path("0::/system.slice/x.service\n").value(), "/system.slice/x.service");
    EXPECT_EQ(parse_cgroup_v2_path("12:cpu,cpuacct:/docker/abc\n0::/\n").value(), "/");
    EXPECT_FALSE(parse_cgroup_v2_path("12:cpu,cpuacct:/docker/abc\n"));
}

TEST(cpu_quota, never_reports_more_than_the_machine_or_less_than_one)
{
    auto n = available_cpus();
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, std::max(1u, std::thread::hardware_concurrency()));
}
