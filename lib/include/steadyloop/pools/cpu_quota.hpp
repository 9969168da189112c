// How many CPUs this process may really use: its affinity mask, capped by the cgroup
// CPU quota (a container limited to 2 CPUs on a 64-core host gets 2 workers, not 64).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace steadyloop::pools {

// cgroup v2 `cpu.max` ("200000 100000" → 2.0; "max 100000" → no limit).
std::optional<double> parse_cpu_max(std::string_view text) noexcept;

// cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` ("-1" → no limit).
std::optional<double> parse_cfs_quota(std::string_view quota_us, std::string_view period_us) noexcept;

// The cgroup v2 path of this process from /proc/self/cgroup's text ("0::/a/b" → "/a/b").
std::optional<std::string> parse_cgroup_v2_path(std::string_view proc_self_cgroup) noexcept;

// At least 1: min(affinity CPUs, ceil(quota)) over this cgroup and its parents, v2 or v1.
// Reads files; call at start-up, not on the loop.
std::size_t available_cpus();

}  // namespace steadyloop::pools
