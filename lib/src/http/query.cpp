#include "steadyloop/http/query.hpp"

#include <boost/url/encoding_opts.hpp>

#include <fmt/format.h>

namespace steadyloop::http {

query_params::query_params(boost::urls::url_view const& url)
{
    // Form-style queries: '+' is a space.
    for (auto const& p : url.params(boost::urls::encoding_opts(true)))
        params_.emplace_back(p.key, p.value);
}

std::optional<std::string_view> query_params::get(std::string_view name) const
{
    std::optional<std::string_view> found;
    for (auto const& [k, v] : params_) {
        if (k != name)
            continue;
        if (found)
            throw bad_request(fmt::format("query parameter '{}' is given more than once", name));
        found = v;
    }
    return found;
}

std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max) noexcept
{
    // from_chars accepts a leading '-'; an unsigned range must not.
    if (text.empty() || (text.front() == '-' && min >= 0))
        return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    if (value < min || value > max)
        return std::nullopt;
    return value;
}

std::int64_t query_params::integer(std::string_view name, std::int64_t fallback, std::int64_t min,
                                   std::int64_t max) const
{
    auto raw = get(name);
    if (!raw)
        return fallback;
    auto v = parse_integer(*raw, min, max);
    if (!v)
        throw bad_request(fmt::format("query parameter '{}' must be a decimal integer from {} to {}", name, min, max));
    return *v;
}

std::int64_t query_params::required_integer(std::string_view name, std::int64_t min, std::int64_t max) const
{
    if (!get(name))
        throw bad_request(fmt::format("query parameter '{}' is required (a decimal integer from {} to {})", name,
                                      min, max));
    return integer(name, 0, min, max);
}

std::string_view query_params::one_of(std::string_view name, std::initializer_list<std::string_view> choices,
                                      std::string_view fallback) const
{
    auto raw = get(name);
    if (!raw)
        return fallback;
    for (auto c : choices)
        if (c == *raw)
            return c;
    throw bad_request(fmt::format("query parameter '{}' must be one of: {}", name, fmt::join(choices, ", ")));
}

}  // namespace steadyloop::http
