// The worker side of the worker pool: a single-threaded loop that reads job frames from
// its socket (fd 3), runs the named job from a table of plain functions, and writes the
// answer. It knows nothing of HTTP; the service supplies the job table.
#pragma once

#include <boost/json/object.hpp>

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace steadyloop::pools {

struct job_output {
    boost::json::object meta;
    std::string data;
};

// What a job throws for an answer other than success: the HTTP status and code the
// request gets (e.g. 400 bad_request for input only the job can judge).
class job_failure : public std::runtime_error {
public:
    job_failure(int http_status, std::string code, std::string const& message)
        : std::runtime_error(message), status_(http_status), code_(std::move(code))
    {
    }
    int http_status() const noexcept { return status_; }
    std::string const& code() const noexcept { return code_; }

private:
    int status_;
    std::string code_;
};

using job_fn = std::function<job_output(boost::json::object const& params, std::span<std::byte const> data)>;
using job_table = std::unordered_map<std::string, job_fn>;

struct worker_options {
    int fd = 3;                  // the socketpair end the pool gave us
    pid_t parent = 0;            // exit at once if this is no longer our parent
    std::size_t memory_mb = 0;   // RLIMIT_AS; 0 = none
    int nice = 10;               // niceness steps below the loop
    bool sandbox = false;        // apply the seccomp sandbox (sandbox.hpp) before serving
};

// What runs before the sandbox closes: library start-up, a first use of each decoder.
// Told the worker's options (its memory limit) and whether the sandbox will follow.
using warm_up_fn = std::function<void(worker_options const& opts, bool sandboxed)>;

// Applies the worker's hygiene (die with the parent, lower priority, memory limit), runs
// `warm_up`, applies the sandbox if asked and the kernel has seccomp, says "ready", then
// serves jobs until EOF. Returns the process exit code.
int run_worker(worker_options const& opts, job_table const& jobs, warm_up_fn const& warm_up = {});

// Parses the worker's own arguments (after the mode word): --parent-pid, --memory-mb,
// --sandbox on|off. Throws std::invalid_argument on anything else.
worker_options parse_worker_args(int argc, char const* const* argv);

}  // namespace steadyloop::pools
