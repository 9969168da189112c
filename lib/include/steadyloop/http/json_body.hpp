// Reading a JSON request body: the content type, the syntax, and typed fields, each
// failure a 4xx problem naming what was wrong.
#pragma once

#include "steadyloop/http/error.hpp"
#include "steadyloop/http/message.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace steadyloop::http {

// The body as a JSON object. A Content-Type other than application/json (or +json) is
// 415 unsupported_media_type; no Content-Type is taken as JSON. Bad syntax or a
// non-object is 400 bad_request.
boost::json::object json_body(request const& req);

// A string field of `min`–`max` bytes; missing, not a string, or out of range → 400
// naming the field.
std::string string_field(boost::json::object const& body, std::string_view name, std::size_t min,
                                std::size_t max);

}  // namespace steadyloop::http
