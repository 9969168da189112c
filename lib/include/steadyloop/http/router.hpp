// Routes: method + pattern ("/kv/{key...}", "/users/{name}") → handler. Matching is on
// percent-decoded path segments; a known path with the wrong method reports what is allowed.
#pragma once

#include "steadyloop/http/context.hpp"
#include "steadyloop/http/message.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace steadyloop::http {

using handler = std::function<boost::asio::awaitable<response>(request&, context&)>;

struct route_options {
    std::size_t body_limit = 64 * 1024;  // bytes of request body this route accepts
};

struct route {
    verb method;
    std::string pattern;  // as written; "{name...}" takes the rest of the path
    std::string label;    // the pattern without "...": the route's name in logs and metrics
    handler fn;
    route_options options;

    struct segment {
        std::string text;  // literal, or the parameter's name
        bool param = false;
        bool rest = false;
    };
    std::vector<segment> segments;
};

struct route_match {
    route const* matched = nullptr;  // set when method and path match
    std::vector<std::pair<std::string, std::string>> params;
    bool path_known = false;  // some route has this path (→ 405 when matched is null)
    std::string allow;        // "GET, HEAD" for a 405
};

class router {
public:
    // Throws std::invalid_argument for a malformed pattern or a duplicate route.
    void add(verb method, std::string pattern, handler fn, route_options options = {});

    // `decoded_segments` are the path's segments, percent-decoded ("/a/b" → {"a","b"}).
    // HEAD matches GET routes.
    route_match find(verb method, std::vector<std::string> const& decoded_segments) const;

    std::vector<route> const& routes() const noexcept { return routes_; }

private:
    static bool match_path(route const& r, std::vector<std::string> const& segs,
                           std::vector<std::pair<std::string, std::string>>* params);
    std::vector<route> routes_;
};

}  // namespace steadyloop::http
