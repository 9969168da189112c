// Query parameters of one request, parsed with Boost.URL, read as typed values with
// ranges. Anything malformed becomes 400 bad_request naming the parameter.
#pragma once

#include "steadyloop/http/error.hpp"

#include <boost/url/url_view.hpp>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steadyloop::http {

class query_params {
public:
    query_params() = default;
    explicit query_params(boost::urls::url_view const& url);

    // The decoded value, or nullopt when absent. Given twice → 400.
    std::optional<std::string_view> get(std::string_view name) const;

    // A decimal integer in [min, max]; `fallback` when absent.
    std::int64_t integer(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max) const;
    // As above, but the parameter must be present.
    std::int64_t required_integer(std::string_view name, std::int64_t min, std::int64_t max) const;

    // One of a fixed set of words; `fallback` when absent.
    std::string_view one_of(std::string_view name, std::initializer_list<std::string_view> choices,
                            std::string_view fallback) const;

    std::size_t size() const noexcept { return params_.size(); }

private:
    std::vector<std::pair<std::string, std::string>> params_;
};

// Parses a decimal integer in [min, max] from the whole of `text`: no sign, no spaces,
// no overflow. Exposed for other places that read numbers from requests.
std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) noexcept;

}  // namespace steadyloop::http
