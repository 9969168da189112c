// POST /images/resize: decoding hostile bytes is the work that most needs a worker
// process (its memory limit, its isolation), so all of it happens there.
#include "../app.hpp"

#include <boost/json/object.hpp>

namespace steadyloop::service {

using boost::asio::awaitable;
using http::context;
using http::request;
using http::response;

void add_image_routes(http::router& r, app& a)
{
    r.add(http::verb::post, "/images/resize", [&a](request& req, context& ctx) -> awaitable<response> {
        boost::json::object params;
        for (char const* side : {"width", "height"})
            if (ctx.query.get(side))
                params[side] = ctx.query.integer(side, 0, 1, 8192);
        if (params.empty())
            throw http::bad_request("query parameter 'width' or 'height' is required (1 to 8192)");
        params["fit"] = ctx.query.one_of("fit", {"inside", "cover", "fill"}, "inside");
        if (auto format = ctx.query.get("format"))
            params["format"] = ctx.query.one_of("format", {"jpeg", "png", "webp"}, "jpeg");
        params["quality"] = ctx.query.integer("quality", 80, 1, 100);
        params["max_pixels"] = a.cfg.max_image_pixels;

        auto const& body = req.body();
        pools::worker_job job{"resize", std::move(params),
                              {reinterpret_cast<std::byte const*>(body.data()), body.size()}};
        auto out = co_await ctx.workers.run(std::move(job));
        auto res = http::text(http::status::ok, std::move(out.data), out.meta.at("content_type").as_string());
        res.set("X-Image-Width", std::to_string(out.meta.at("width").to_number<int>()));
        res.set("X-Image-Height", std::to_string(out.meta.at("height").to_number<int>()));
        co_return res;
    }, http::route_options{.body_limit = a.cfg.max_image_body});
}

}  // namespace steadyloop::service
