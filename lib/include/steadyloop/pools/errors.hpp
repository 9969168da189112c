// Errors a pool reports instead of a job's result. Each carries the HTTP status and the
// stable code that the HTTP boundary answers with.
#pragma once

#include <stdexcept>
#include <string>

namespace steadyloop::pools {

class pool_error : public std::runtime_error {
public:
    pool_error(int http_status, std::string code, std::string const& what, bool retry_later = false)
        : std::runtime_error(what), status_(http_status), code_(std::move(code)), retry_later_(retry_later)
    {
    }
    int http_status() const noexcept { return status_; }
    std::string const& code() const noexcept { return code_; }
    // True for load shedding: the answer carries Retry-After.
    bool retry_later() const noexcept { return retry_later_; }

private:
    int status_;
    std::string code_;
    bool retry_later_;
};

// The pool's admission limit is reached; nothing was queued (503, Retry-After).
class pool_full : public pool_error {
public:
    pool_full(std::string code, std::string const& what) : pool_error(503, std::move(code), what, true) {}
};

// The job's requester went away while it was queued; the job was never started.
class job_cancelled : public std::runtime_error {
public:
    job_cancelled() : std::runtime_error("job cancelled before it started") {}
};

}  // namespace steadyloop::pools
