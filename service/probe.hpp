// `steadyloop probe [URL] [--timeout-ms N]`: one HTTP GET, for container health checks
// (Docker HEALTHCHECK, podman healthcheck run, a Kubernetes exec probe) in an image that
// has no curl. It runs in its own short-lived process, never inside the server.
#pragma once

#include <string>

namespace steadyloop::service {

// The subcommand's name: `steadyloop probe …`; `steadyloop --healthcheck` is the same.
inline constexpr char const* probe_mode = "probe";
inline constexpr char const* healthcheck_flag = "--healthcheck";

// http://127.0.0.1:${STEADYLOOP_PORT:-8080}/healthz, or STEADYLOOP_ADDRESS's host when
// the service listens on one address only.
std::string default_probe_url();

// argv after the subcommand. Prints one line; returns 0 for a 2xx answer, 1 for
// anything else (another status, no answer in time, a bad URL), as health checks expect.
int probe_main(int argc, char const* const* argv);

}  // namespace steadyloop::service
