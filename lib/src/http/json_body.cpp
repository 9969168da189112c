#include "steadyloop/http/json_body.hpp"

#include <boost/json/parse.hpp>

#include <fmt/format.h>

#include <cctype>

namespace steadyloop::http {
namespace {

bool is_json_type(std::string_view ct)
{
    auto semi = ct.find(';');
    auto type = ct.substr(0, semi);
    while (!type.empty() && type.back() == ' ')
        type.remove_suffix(1);
    std::string lower;
    for (char c : type)
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return lower == "application/json" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

}  // namespace

boost::json::object json_body(request const& req)
{
    auto ct = req[bhttp::field::content_type];
    if (!ct.empty() && !is_json_type(ct))
        throw http_error(status::unsupported_media_type, "unsupported_media_type",
                         fmt::format("the body must be JSON (Content-Type: application/json), not {}", ct));
    boost::system::error_code ec;
    auto v = boost::json::parse(req.body(), ec);
    if (ec)
        throw bad_request(fmt::format("the body is not valid JSON: {}", ec.message()));
    if (!v.is_object())
        throw bad_request("the body must be a JSON object");
    return std::move(v.as_object());
}

std::string string_field(boost::json::object const& body, std::string_view name, std::size_t min,
                                std::size_t max)
{
    auto const* v = body.if_contains(name);
    if (v == nullptr)
        throw bad_request(fmt::format("field '{}' is required", name));
    if (!v->is_string())
        throw bad_request(fmt::format("field '{}' must be a string", name));
    auto const& s = v->get_string();
    if (s.size() < min || s.size() > max)
        throw bad_request(fmt::format("field '{}' must be {} to {} bytes long", name, min, max));
    return std::string(s.data(), s.size());
}

}  // namespace steadyloop::http
