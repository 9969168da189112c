// POST /test/jobs/{name}: runs a fault-injection job (crash, hang, sleep, allocate, echo,
// forbidden?call=…) in the worker pool. Compiled only into test builds
// (STEADYLOOP_TEST_JOBS), never release.
#include "../app.hpp"

#include <boost/json/object.hpp>

namespace steadyloop::service {

using boost::asio::awaitable;

void add_test_routes([[maybe_unused]] http::router& r, [[maybe_unused]] app& a)
{
#ifdef STEADYLOOP_TEST_JOBS
    r.add(http::verb::post, "/test/jobs/{name}", [](http::request& req, http::context& ctx) -> awaitable<http::response> {
        boost::json::object params{{"ms", ctx.query.integer("ms", 0, 0, 3'600'000)},
                                   {"mib", ctx.query.integer("mib", 0, 0, 1 << 20)}};
        if (auto call = ctx.query.get("call"))  // forbidden: the system call to attempt
            params["call"] = *call;
        auto const& body = req.body();
        std::span<std::byte const> data{reinterpret_cast<std::byte const*>(body.data()), body.size()};
        pools::worker_job job{ctx.path_param("name"), std::move(params), data};
        auto out = co_await ctx.workers.run(std::move(job));
        out.meta["bytes"] = out.data.size();
        co_return http::json(http::status::ok, out.meta);
    }, http::route_options{.body_limit = 64 * 1024 * 1024});
#endif
}

}  // namespace steadyloop::service
