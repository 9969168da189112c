// GET /: the dashboard page (filled in with the embedded page).
#include "../app.hpp"

namespace steadyloop::service {

void add_dashboard_routes(http::router&, app&) {}

}  // namespace steadyloop::service
