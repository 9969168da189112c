#include "steadyloop/pools/cpu_quota.hpp"

#include "steadyloop/http/query.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

namespace steadyloop::pools {
namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.remove_suffix(1);
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    return s;
}

std::optional<std::string> read_file(std::string const& path)
{
    std::ifstream in(path);
    if (!in)
        return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

constexpr std::int64_t max_us = std::int64_t{1} << 50;

}  // namespace

std::optional<double> parse_cpu_max(std::string_view text) noexcept
{
    text = trim(text);
    auto space = text.find(' ');
    if (space == std::string_view::npos)
        return std::nullopt;
    auto quota = text.substr(0, space);
    auto period = http::parse_integer(trim(text.substr(space + 1)), 1, max_us);
    if (quota == "max" || !period)
        return std::nullopt;
    auto q = http::parse_integer(quota, 1, max_us);
    if (!q)
        return std::nullopt;
    return static_cast<double>(*q) / static_cast<double>(*period);
}

std::optional<double> parse_cfs_quota(std::string_view quota_us, std::string_view period_us) noexcept
{
    auto q = http::parse_integer(trim(quota_us), 1, max_us);  // "-1" (no limit) fails here
    auto p = http::parse_integer(trim(period_us), 1, max_us);
    if (!q || !p)
        return std::nullopt;
    return static_cast<double>(*q) / static_cast<double>(*p);
}

std::optional<std::string> parse_cgroup_v2_path(std::string_view text) noexcept
{
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        auto line = text.substr(pos, end - pos);
        if (line.starts_with("0::"))
            return std::string(line.substr(3));
        pos = end + 1;
    }
    return std::nullopt;
}

std::size_t available_cpus()
{
    std::size_t cpus = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        cpus = static_cast<std::size_t>(CPU_COUNT(&set));
    if (cpus == 0)
        cpus = std::max(1u, std::thread::hardware_concurrency());

    std::optional<double> quota;
    auto tighter = [&](std::optional<double> q) {
        if (q && (!quota || *q < *quota))
            quota = q;
    };
    // cgroup v2: this process's cgroup and every parent up to the root.
    if (auto self = read_file("/proc/self/cgroup")) {
        if (auto path = parse_cgroup_v2_path(*self)) {
            std::string p = *path;
            for (;;) {
                if (auto max = read_file("/sys/fs/cgroup" + (p == "/" ? std::string() : p) + "/cpu.max"))
                    tighter(parse_cpu_max(*max));
                if (p.empty() || p == "/")
                    break;
                auto slash = p.rfind('/');
                p = slash == 0 ? "/" : p.substr(0, slash);
            }
        }
    }
    // cgroup v1, where mounted.
    for (char const* dir : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
        auto q = read_file(std::string(dir) + "/cpu.cfs_quota_us");
        auto p = read_file(std::string(dir) + "/cpu.cfs_period_us");
        if (q && p)
            tighter(parse_cfs_quota(*q, *p));
    }
    if (quota)
        cpus = std::min(cpus, static_cast<std::size_t>(std::max(1.0, std::ceil(*quota))));
    return std::max<std::size_t>(1, cpus);
}

}  // namespace steadyloop::pools
