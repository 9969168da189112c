// What the routes share: the configuration and the long-lived parts built in main().
#pragma once

#include "config.hpp"

#include "steadyloop/http/router.hpp"
#include "steadyloop/http/server.hpp"
#include "steadyloop/loop/lag_monitor.hpp"
#include "steadyloop/loop/watchdog.hpp"
#include "steadyloop/obs/metrics.hpp"
#include "steadyloop/pools/blocking_pool.hpp"
#include "steadyloop/pools/worker_pool.hpp"
#include "steadyloop/store/database.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace steadyloop::service {

struct app {
    config const& cfg;
    pools::blocking_pool& blocking;
    pools::worker_pool& workers;
    loop::lag_monitor& lag;
    store::database& db;
    obs::metrics& metrics;
    std::string dummy_hash = {};  // for logins of unknown users: same cost as a real verification
    http::server* server = nullptr;  // set once the server exists
    loop::watchdog* watchdog = nullptr;
    std::optional<loop::stall> last_stall = {};  // loop only: the latest stall that has ended
    bool compare_running = false;                // loop only: one /demo/compare at a time
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Each routes/<area>.cpp adds its endpoints.
void add_health_routes(http::router& r, app& a);
void add_loop_routes(http::router& r, app& a);
void add_demo_routes(http::router& r, app& a);
void add_compare_route(http::router& r, app& a);  // GET /demo/compare; part of the demos
void add_hash_routes(http::router& r, app& a);
void add_image_routes(http::router& r, app& a);
void add_kv_routes(http::router& r, app& a);
void add_user_routes(http::router& r, app& a);
void add_legacy_routes(http::router& r, app& a);
void add_dashboard_routes(http::router& r, app& a);
void add_metrics_routes(http::router& r, app& a);  // GET /: the embedded dashboard page

namespace blocking {
// A legacy call that blocks its thread for `d` (routes/demo.cpp): the demos' thread mode.
void sleep_for(std::chrono::milliseconds d);
}  // namespace blocking

// GET /loop's snapshot (also each /loop/stream event).
boost::json::object loop_snapshot(app const& a);

// The hash that logins of unknown users verify against, made by the first such login.
boost::asio::awaitable<void> prepare_dummy_hash(app& a, http::worker_door workers);
void add_test_routes(http::router& r, app& a);  // fault-injection jobs; test builds only

// The worker process: `steadyloop __worker --memory-mb M --sandbox on|off --parent-pid P`.
inline constexpr char const* worker_mode = "__worker";
int worker_main(int argc, char const* const* argv);

}  // namespace steadyloop::service
