// Request and response types, and the few ways a handler builds an answer.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace steadyloop::http {

namespace bhttp = boost::beast::http;
using status = bhttp::status;
using verb = bhttp::verb;
using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

// 200-style answers. JSON bodies end with a newline, so they read well in a terminal.
response text(status s, std::string body, std::string_view content_type = "text/plain; charset=utf-8");
response json(status s, boost::json::value const& body);

// JSON text of a value, doubles written the short human way (300.4, not 3.004E2).
std::string json_text(boost::json::value const& v);

// An RFC 9457 problem document: {"type":"about:blank","title":…,"status":…,"code":…,"detail":…}.
response problem(status s, std::string_view code, std::string_view detail);

// Appends the bytes of a whole response that has a Content-Length (not chunked): status
// line, fields in order, blank line, body — what Beast's serializer writes, copied once.
// Small answers go out this way in a single write.
void serialize(response const& res, std::string& out);

}  // namespace steadyloop::http
