// Errors a pool reports instead of a job's result. The HTTP boundary maps them to
// 503 + Retry-After (pool full) or drops the answer (client gone).
#pragma once

#include <stdexcept>
#include <string>

namespace steadyloop::pools {

// The pool's admission limit (threads + queue) is reached; nothing was queued.
class pool_full : public std::runtime_error {
public:
    pool_full(std::string code, std::string const& what)
        : std::runtime_error(what), code_(std::move(code)) {}
    std::string const& code() const noexcept { return code_; }

private:
    std::string code_;
};

// The job's requester went away while it was queued; the job was never started.
class job_cancelled : public std::runtime_error {
public:
    job_cancelled() : std::runtime_error("job cancelled before it started") {}
};

}  // namespace steadyloop::pools
