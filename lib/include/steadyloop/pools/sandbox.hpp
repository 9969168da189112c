// The worker sandbox: a seccomp allow-list that a worker process applies to itself once it
// has started (libraries initialised, decoders warmed up), so that a job exploited by
// hostile input can read memory and its socket but cannot run programs, open sockets,
// write files, fork or signal other processes. Anything off the list kills the worker
// (SIGSYS); the pool answers 500 worker_crashed and starts a fresh one.
#pragma once

namespace steadyloop::pools {

// Whether this kernel runs seccomp filters (false on kernels built without them). The
// service checks once at start-up; a worker on such a kernel runs without the sandbox.
bool sandbox_supported() noexcept;

// Sets PR_SET_NO_NEW_PRIVS, then loads the allow-list into every thread of the calling
// process (threads started later inherit it). Irreversible. Throws std::system_error.
void apply_worker_sandbox();

}  // namespace steadyloop::pools
