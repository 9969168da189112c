#include "steadyloop/http/message.hpp"

#include "steadyloop/http/error.hpp"
#include "steadyloop/obs/logging.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/compile.h>
#include <fmt/format.h>

#include <iterator>

#include <cmath>

namespace steadyloop::http {

namespace {

void write_json(std::string& out, boost::json::value const& v)
{
    switch (v.kind()) {
    case boost::json::kind::object: {
        out.push_back('{');
        bool first = true;
        for (auto const& kv : v.get_object()) {
            if (!first)
                out.push_back(',');
            first = false;
            out += boost::json::serialize(boost::json::string_view(kv.key()));
            out.push_back(':');
            write_json(out, kv.value());
        }
        out.push_back('}');
        break;
    }
    case boost::json::kind::array: {
        out.push_back('[');
        bool first = true;
        for (auto const& e : v.get_array()) {
            if (!first)
                out.push_back(',');
            first = false;
            write_json(out, e);
        }
        out.push_back(']');
        break;
    }
    case boost::json::kind::double_: {
        double d = v.get_double();
        // Shortest round-trip form; JSON has no NaN or infinity.
        out += std::isfinite(d) ? fmt::format("{}", d) : std::string("null");
        break;
    }
    default:
        out += boost::json::serialize(v);
    }
}

}  // namespace

std::string json_text(boost::json::value const& v)
{
    std::string out;
    write_json(out, v);
    return out;
}

response text(status s, std::string body, std::string_view content_type)
{
    response res{s, 11};
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

response json(status s, boost::json::value const& body)
{
    std::string out = json_text(body);
    out.push_back('\n');
    return text(s, std::move(out), "application/json");
}

response problem(status s, std::string_view code, std::string_view detail)
{
    boost::json::object doc;
    doc["type"] = "about:blank";
    doc["title"] = bhttp::obsolete_reason(s);
    doc["status"] = static_cast<unsigned>(s);
    doc["code"] = code;
    // Details quote what clients sent (a Content-Type, a parameter), and JSON is UTF-8:
    // Boost.JSON would copy invalid bytes through and make the document unparseable.
    doc["detail"] = obs::valid_utf8(detail);
    std::string out = boost::json::serialize(doc);
    out.push_back('\n');
    return text(s, std::move(out), "application/problem+json");
}

response http_error::to_response() const
{
    auto res = problem(status_, code_, detail_);
    for (auto const& [name, value] : headers_)
        res.set(name, value);
    return res;
}

void serialize(response const& res, std::string& out)
{
    out.reserve(out.size() + 256 + res.body().size());
    fmt::format_to(std::back_inserter(out), FMT_COMPILE("HTTP/{}.{} {:03} "), res.version() / 10, res.version() % 10,
                   res.result_int() % 1000);
    out += res.reason();
    out += "\r\n";
    for (auto const& field : res) {
        out += field.name_string();
        out += ": ";
        out += field.value();
        out += "\r\n";
    }
    out += "\r\n";
    out += res.body();
}

}  // namespace steadyloop::http
