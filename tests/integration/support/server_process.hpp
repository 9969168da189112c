// The real steadyloop binary as a child process: started on port 0, its stdout and
// stderr in a temporary file, found ready by the "listening" line it prints.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace itest {

using env_vars = std::vector<std::pair<std::string, std::string>>;

// How a child process ended: an exit code, or the signal that killed it.
struct exit_status {
    int code = -1;   // set when the process exited
    int signal = 0;  // set when a signal ended it

    static exit_status exited(int c) { return {c, 0}; }
    bool operator==(exit_status const&) const = default;
};
std::ostream& operator<<(std::ostream& os, exit_status const& s);

class server_process {
public:
    // Starts `steadyloop --port 0 --address 127.0.0.1 [--db :memory:] <args>` with `env`
    // added to the environment (STEADYLOOP_* variables of the test's own environment are
    // removed). `--db :memory:` is added unless `args` contain --db or `env` STEADYLOOP_DB,
    // so that no two tests share a database file.
    // Throws std::runtime_error, with the process output, when no listening line
    // appears within `ready_timeout`.
    explicit server_process(std::vector<std::string> args = {}, env_vars env = {},
                            std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));
    ~server_process();
    server_process(server_process const&) = delete;
    server_process& operator=(server_process const&) = delete;

    unsigned short port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }

    // Everything the process wrote to stdout and stderr so far.
    std::string log() const;
    // The lines written after the listening line.
    std::vector<std::string> log_lines_after_listening() const;

    void terminate();  // SIGTERM
    void kill();       // SIGKILL

    // Waits for the process to end; nullopt when it is still running after `timeout`.
    std::optional<exit_status> wait_exit(std::chrono::milliseconds timeout);
    bool running() const noexcept { return !reaped_; }

private:
    std::string log_path_;
    pid_t pid_ = -1;
    bool reaped_ = true;
    unsigned short port_ = 0;
};

// Runs the binary with `args` (no implicit ones) to completion; kills it after `timeout`.
struct run_result {
    exit_status status;
    bool timed_out = false;
    std::string output;  // stdout and stderr
};
run_result run_binary(std::vector<std::string> const& args, env_vars const& env = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace itest
