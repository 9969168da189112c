#include "config.hpp"

#include <boost/asio/ip/address.hpp>

#include <CLI/CLI.hpp>

#include <cctype>
#include <iostream>

namespace steadyloop::service {
namespace {

// "--worker-queue" → "STEADYLOOP_WORKER_QUEUE"
std::string env_name(std::string const& flag)
{
    std::string env = "STEADYLOOP_";
    for (char c : flag.substr(2))
        env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return env;
}

}  // namespace

std::variant<config, int> parse_config(int argc, char const* const* argv)
{
    config cfg;
    CLI::App app{"steadyloop: an HTTP service whose event loop stays responsive while it does slow work.\n"
                 "Every option can also be set by the environment variable shown (the flag wins)."};
    app.set_version_flag("--version", "steadyloop " STEADYLOOP_VERSION);
    app.get_formatter()->column_width(36);

    auto opt = [&](std::string const& flag, auto& var, std::string const& help) {
        return app.add_option(flag, var, help)->envname(env_name(flag))->capture_default_str();
    };

    // The one table of options. Later capabilities add theirs here.
    opt("--address", cfg.address, "address to listen on")->check([](std::string const& s) -> std::string {
        boost::system::error_code ec;
        boost::asio::ip::make_address(s, ec);
        return ec ? "not an IP address: " + s : std::string{};
    });
    opt("--port", cfg.port, "TCP port; 0 picks a free one and prints it")->check(CLI::Range(0, 65535));
    opt("--db", cfg.db, "SQLite database file (its folder is created); :memory: for a database in memory");
    opt("--max-connections", cfg.max_connections, "open connections at most")->check(CLI::Range(1, 1000000));
    opt("--blocking-threads", cfg.blocking_threads, "threads in the blocking pool")->check(CLI::Range(1, 1024));
    opt("--blocking-queue", cfg.blocking_queue, "jobs that may wait for a blocking-pool thread")
        ->check(CLI::Range(0, 1000000));
    opt("--workers", cfg.workers, "worker processes for CPU jobs; 0 = the CPUs this process may use")
        ->check(CLI::Range(0, 256));
    opt("--worker-queue", cfg.worker_queue, "CPU jobs that may wait for a free worker")->check(CLI::Range(0, 100000));
    opt("--job-timeout-ms", cfg.job_timeout_ms, "a CPU job running longer is killed with its worker (504)")
        ->check(CLI::Range(1, 3600000));
    opt("--worker-max-jobs", cfg.worker_max_jobs, "replace a worker after this many jobs; 0 = never")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40));
    opt("--worker-memory-mb", cfg.worker_memory_mb, "address-space limit of each worker process; 0 = none")
        ->check(CLI::Range(0, 1 << 20));
    opt("--worker-sandbox", cfg.worker_sandbox,
        "seccomp filter in each worker (no exec, sockets, writable opens, forks): on or off")
        ->check(CLI::IsMember({"on", "off"}));
    opt("--max-hash-body", cfg.max_hash_body, "largest body POST /hash accepts, in bytes")
        ->check(CLI::Range(std::size_t{1}, std::size_t{150} * 1024 * 1024));
    opt("--max-image-body", cfg.max_image_body, "largest image POST /images/resize accepts, in bytes")
        ->check(CLI::Range(std::size_t{1}, std::size_t{150} * 1024 * 1024));
    opt("--max-image-pixels", cfg.max_image_pixels, "images with more pixels are refused (422) before decoding")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
    opt("--argon2-memory-kib", cfg.argon2_memory_kib, "Argon2id memory cost of new password hashes, KiB")
        ->check(CLI::Range(8, 1 << 20));
    opt("--argon2-iterations", cfg.argon2_iterations, "Argon2id time cost of new password hashes")
        ->check(CLI::Range(1, 16));
    opt("--stall-threshold-ms", cfg.stall_threshold_ms,
        "the loop not turning for this long is a stall: logged, counted, and its request named")
        ->check(CLI::Range(10, 600000));
    opt("--demo", cfg.demo, "the /demo endpoints: on or off")->check(CLI::IsMember({"on", "off"}));
    opt("--log-level", cfg.log_level, "trace, debug, info, warn, error, critical or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    opt("--log-format", cfg.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    opt("--shutdown-grace-ms", cfg.shutdown_grace_ms, "how long in-flight requests may finish after SIGTERM")
        ->check(CLI::Range(0, 3600000));
    opt("--header-timeout-ms", cfg.header_timeout_ms, "time a client has to send a request's headers")
        ->check(CLI::Range(100, 3600000));
    opt("--idle-timeout-ms", cfg.idle_timeout_ms, "keep-alive wait for a connection's next request")
        ->check(CLI::Range(100, 3600000));
    opt("--body-timeout-ms", cfg.body_timeout_ms, "time to receive a request body or send a response")
        ->check(CLI::Range(100, 3600000));

    try {
        app.parse(argc, argv);
    } catch (CLI::CallForHelp const& e) {
        app.exit(e);
        return 0;
    } catch (CLI::CallForVersion const& e) {
        app.exit(e);
        return 0;
    } catch (CLI::ParseError const& e) {
        std::cerr << "steadyloop: " << e.what() << "\nRun with --help for the options.\n";
        return 2;
    }
    return cfg;
}

}  // namespace steadyloop::service
