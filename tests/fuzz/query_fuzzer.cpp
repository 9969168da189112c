// Request targets → path segments and query parameters: Boost.URL's parsing, the
// percent-decoding of segments, the router's matching and path parameters (with the
// service's route patterns), and query_params' typed readers. Invariants: every refusal
// a handler can meet is a 400 http_error (anything else would answer 500); numbers are
// accepted exactly when they are plain decimals within range (checked against a second,
// simpler reading); a route match gives back the path it matched.
#include "fuzz_check.hpp"

#include "steadyloop/http/error.hpp"
#include "steadyloop/http/query.hpp"
#include "steadyloop/http/router.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace http = steadyloop::http;
using http::verb;

namespace {

// The service's route patterns (service/routes), with a handler that is never called.
http::router const& service_routes()
{
    static http::router const routes = [] {
        http::router r;
        auto none = [](http::request&, http::context&) -> boost::asio::awaitable<http::response> {
            co_return http::response{};
        };
        for (auto [method, pattern] : std::initializer_list<std::pair<verb, char const*>>{
                 {verb::get, "/"},
                 {verb::get, "/ping"},
                 {verb::get, "/healthz"},
                 {verb::get, "/loop/stream"},
                 {verb::post, "/hash"},
                 {verb::post, "/passwords/hash"},
                 {verb::post, "/passwords/verify"},
                 {verb::post, "/images/resize"},
                 {verb::put, "/kv/{key...}"},
                 {verb::get, "/kv/{key...}"},
                 {verb::delete_, "/kv/{key...}"},
                 {verb::get, "/kv"},
                 {verb::post, "/users"},
                 {verb::get, "/users/{username}"},
                 {verb::get, "/demo/{mode}/{ms}"},
                 {verb::post, "/test/jobs/{name}"},
             })
            r.add(method, pattern, none);
        return r;
    }();
    return routes;
}

// A second reading of a decimal: digits only (a '-' first when the range allows
// negatives), its value with overflow noticed.
std::optional<std::int64_t> reference_integer(std::string_view text, std::int64_t min, std::int64_t max)
{
    bool negative = false;
    if (!text.empty() && text.front() == '-' && min < 0) {
        negative = true;
        text.remove_prefix(1);
    }
    if (text.empty())
        return std::nullopt;
    __int128 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + (c - '0');
        if (value > (__int128{1} << 64))
            return std::nullopt;  // beyond any int64
    }
    if (negative)
        value = -value;
    if (value < std::numeric_limits<std::int64_t>::min() || value > std::numeric_limits<std::int64_t>::max())
        return std::nullopt;
    if (value < min || value > max)
        return std::nullopt;
    return static_cast<std::int64_t>(value);
}

void check_integer(std::string_view text, std::int64_t min, std::int64_t max)
{
    auto got = http::parse_integer(text, min, max);
    auto want = reference_integer(text, min, max);
    FUZZ_CHECK(got == want, "parse_integer(\"%.*s\", %lld, %lld): %s, expected %s", static_cast<int>(text.size()),
               text.data(), static_cast<long long>(min), static_cast<long long>(max),
               got ? std::to_string(*got).c_str() : "refused", want ? std::to_string(*want).c_str() : "refused");
}

// Runs a query_params reader: its value, or a 400 http_error and nothing else.
template <class F>
auto expect_400(F&& f) -> std::optional<decltype(f())>
{
    try {
        return f();
    } catch (http::http_error const& e) {
        FUZZ_CHECK(e.status_code() == http::status::bad_request && e.code() == "bad_request",
                   "a query refusal answers %u %s", static_cast<unsigned>(e.status_code()), e.code().c_str());
        return std::nullopt;
    }
}

void check_query(boost::urls::url_view url, FuzzedDataProvider& in)
{
    http::query_params query;
    try {
        query = http::query_params(url);
    } catch (std::exception const&) {
        return;  // the server answers 400 "malformed query string"
    }
    // An independent count of each decoded name.
    std::map<std::string, std::size_t> seen;
    for (auto const& p : url.params(boost::urls::encoding_opts(true)))
        ++seen[p.key];
    FUZZ_CHECK(query.size() == static_cast<std::size_t>(std::distance(url.params().begin(), url.params().end())));

    for (auto const& entry : seen) {
        std::string const& name = entry.first;
        std::size_t const count = entry.second;
        auto value = expect_400([&] { return query.get(name); });
        FUZZ_CHECK(value.has_value() == (count == 1), "get(\"%s\") given %zu times", name.c_str(), count);
        FUZZ_CHECK(!value || value->has_value());
        if (value && *value)
            check_integer(**value, -1000, 1000);
    }
    // The readers the routes use, on names the input may or may not contain.
    for (char const* name : {"width", "height", "quality", "limit", "interval_ms", "ms", "alg", "fit", "format",
                             "host", "prefix", "after"}) {
        auto min = in.ConsumeIntegralInRange<std::int64_t>(-5, 5);
        auto max = in.ConsumeIntegralInRange<std::int64_t>(min, std::numeric_limits<std::int64_t>::max());
        auto v = expect_400([&] { return query.integer(name, min, min, max); });
        FUZZ_CHECK(!v || (*v >= min && *v <= max), "integer() out of its range");
        auto word = expect_400([&] { return query.one_of(name, {"inside", "cover", "fill", "jpeg"}, "inside"); });
        FUZZ_CHECK(!word || *word == "inside" || *word == "cover" || *word == "fill" || *word == "jpeg");
        auto present = expect_400([&] { return query.get(name).has_value(); });
        auto required = expect_400([&] { return query.required_integer(name, 1, 8192); });
        FUZZ_CHECK(!required || (present && *present), "a required integer read from an absent parameter");
    }
}

void check_route(verb method, std::vector<std::string> const& segments)
{
    auto m = service_routes().find(method, segments);
    if (!m.matched) {
        FUZZ_CHECK(m.params.empty());
        FUZZ_CHECK(m.path_known == !m.allow.empty(), "a known path without an Allow list, or the reverse");
        return;
    }
    FUZZ_CHECK(m.path_known && m.allow.empty());
    verb const wanted = method == verb::head ? verb::get : method;
    FUZZ_CHECK(m.matched->method == wanted);
    // The pattern with its parameters filled in is the path that was asked for.
    std::string rebuilt, asked;
    std::size_t p = 0;
    for (auto const& seg : m.matched->segments) {
        rebuilt += '/';
        if (seg.param) {
            FUZZ_CHECK(p < m.params.size() && m.params[p].first == seg.text);
            FUZZ_CHECK(!m.params[p].second.empty(), "an empty path parameter");
            rebuilt += m.params[p++].second;
        } else {
            rebuilt += seg.text;
        }
    }
    FUZZ_CHECK(p == m.params.size());
    for (auto const& s : segments)
        asked += '/' + s;
    FUZZ_CHECK(rebuilt == asked || (asked.empty() && rebuilt.empty()), "matched %s for %s", rebuilt.c_str(),
               asked.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    auto const method = in.PickValueInArray({verb::get, verb::head, verb::post, verb::put, verb::delete_});
    std::string const target = in.ConsumeRandomLengthString(4096);

    // As the server reads a target: origin-form, else absolute-form.
    auto url = boost::urls::parse_origin_form(target);
    if (!url)
        url = boost::urls::parse_absolute_uri(target);
    if (!url)
        return 0;  // the server answers 400 "malformed request target"

    std::vector<std::string> segments;
    for (auto seg : url->encoded_segments()) {
        std::string decoded = seg.decode();
        FUZZ_CHECK(decoded.size() <= seg.size(), "decoding made a segment longer");
        segments.push_back(std::move(decoded));
    }
    check_route(method, segments);
    check_query(*url, in);

    // Numbers on their own, with ranges the input picks.
    auto text = in.ConsumeRandomLengthString(40);
    auto min = in.ConsumeIntegral<std::int64_t>();
    auto max = in.ConsumeIntegralInRange<std::int64_t>(min, std::numeric_limits<std::int64_t>::max());
    check_integer(text, min, max);
    return 0;
}
