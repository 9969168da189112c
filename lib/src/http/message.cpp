#include "steadyloop/http/message.hpp"

#include "steadyloop/http/error.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>

namespace steadyloop::http {

response text(status s, std::string body, std::string_view content_type)
{
    response res{s, 11};
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

response json(status s, boost::json::value const& body)
{
    std::string out = boost::json::serialize(body);
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
    doc["detail"] = detail;
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

}  // namespace steadyloop::http
