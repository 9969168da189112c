// The service's configuration: every option is a flag and a STEADYLOOP_* environment
// variable (the flag wins). New options are added in config.cpp's one table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

namespace steadyloop::service {

struct config {
    std::string address = "0.0.0.0";
    std::uint16_t port = 8080;
    std::string db = "./data/steadyloop.db";
    std::size_t max_connections = 10000;
    std::size_t blocking_threads = 8;
    std::size_t blocking_queue = 256;
    std::size_t workers = 0;  // 0 = the CPUs this process may use (cgroup quota aware)
    std::size_t worker_queue = 64;
    std::uint32_t job_timeout_ms = 30000;
    std::uint64_t worker_max_jobs = 10000;
    std::size_t worker_memory_mb = 1024;
    std::string worker_sandbox = "on";  // seccomp allow-list in every worker (pools/sandbox.hpp)
    std::size_t max_hash_body = 64 * 1024 * 1024;
    std::size_t max_image_body = 32 * 1024 * 1024;
    std::uint64_t max_image_pixels = 100'000'000;
    std::uint32_t argon2_memory_kib = 19456;
    std::uint32_t argon2_iterations = 2;
    std::uint32_t stall_threshold_ms = 100;
    std::string demo = "on";
    std::string log_level = "info";
    std::string log_format = "text";
    std::uint32_t shutdown_grace_ms = 10000;
    std::uint32_t header_timeout_ms = 10000;
    std::uint32_t idle_timeout_ms = 30000;
    std::uint32_t body_timeout_ms = 60000;
};

// The parsed configuration, or the exit code to leave with: 0 after --help or --version,
// 2 after an unknown option or a bad value (its message already printed).
std::variant<config, int> parse_config(int argc, char const* const* argv);

}  // namespace steadyloop::service
