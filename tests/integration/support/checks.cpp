#include "checks.hpp"

#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <ctime>
#include <regex>
#include <string>

namespace itest {

bool valid_request_id(std::string_view id)
{
    static std::regex const re("[A-Za-z0-9._-]{1,128}");
    return std::regex_match(id.begin(), id.end(), re);
}

::testing::AssertionResult has_standard_headers(reply const& r, bool head)
{
    static std::regex const server_re(R"(steadyloop/\d+\.\d+\.\d+)");
    static std::regex const date_re(
        R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)");
    auto fail = [&](std::string const& why) { return ::testing::AssertionFailure() << why << " in\n" << r; };

    auto server = r.header("Server");
    if (!std::regex_match(server, server_re))
        return fail("Server is \"" + server + "\", not steadyloop/<version>");

    auto date = r.header("Date");
    if (!std::regex_match(date, date_re))
        return fail("Date \"" + date + "\" is not an IMF-fixdate");
    std::tm tm{};
    if (::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr)
        return fail("Date \"" + date + "\" does not parse");
    auto skew = std::abs(static_cast<long>(::timegm(&tm) - std::time(nullptr)));
    if (skew > 5)
        return fail("Date is " + std::to_string(skew) + " s away from now");

    auto id = r.header("X-Request-Id");
    if (!valid_request_id(id))
        return fail("X-Request-Id \"" + id + "\" is not 1-128 of [A-Za-z0-9._-]");

    if (!r.has_header("Content-Length"))
        return fail("no Content-Length");
    auto length = r.header("Content-Length");
    if (head) {
        if (!r.body().empty())
            return fail("a HEAD answer with a body");
    } else if (length != std::to_string(r.body().size())) {
        return fail("Content-Length " + length + " but a body of " + std::to_string(r.body().size()) + " bytes");
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_problem(reply const& r, unsigned status, std::string_view code)
{
    auto fail = [&](std::string const& why) { return ::testing::AssertionFailure() << why << " in\n" << r; };
    if (r.status() != status)
        return fail("status " + std::to_string(r.status()) + ", expected " + std::to_string(status));
    if (r.header("Content-Type") != "application/problem+json")
        return fail("Content-Type is \"" + r.header("Content-Type") + "\"");
    if (r.body().empty() || r.body().back() != '\n')
        return fail("the body does not end with a newline");
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body(), ec);
    if (ec || !v.is_object())
        return fail("the body is not a JSON object");
    auto const& o = v.get_object();
    auto str = [&](char const* key) -> std::string {
        auto const* p = o.if_contains(key);
        return p && p->is_string() ? std::string(p->get_string()) : std::string();
    };
    if (str("type") != "about:blank")
        return fail("type is not about:blank");
    std::string const reason(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
    if (str("title") != reason)
        return fail("title is \"" + str("title") + "\", expected \"" + reason + "\"");
    auto const* st = o.if_contains("status");
    if (!st || !st->is_number() || st->to_number<unsigned>() != status)
        return fail("\"status\" is missing or wrong");
    if (str("code") != code)
        return fail("code is \"" + str("code") + "\", expected \"" + std::string(code) + "\"");
    if (str("detail").empty())
        return fail("detail is missing or empty");
    return ::testing::AssertionSuccess();
}

boost::json::object loop_snapshot(unsigned short port)
{
    auto r = get(port, "/loop");
    if (r.status() != 200)
        throw std::runtime_error("GET /loop answered " + std::to_string(r.status()));
    return r.json();
}

double number_at(boost::json::object const& o, std::string_view path)
{
    boost::json::value const* v = nullptr;
    boost::json::object const* at = &o;
    while (true) {
        auto slash = path.find('/');
        auto key = path.substr(0, slash);
        v = at->if_contains(key);
        if (v == nullptr)
            throw std::runtime_error("no field " + std::string(key) + " in " + boost::json::serialize(o));
        if (slash == std::string_view::npos)
            break;
        at = &v->as_object();
        path.remove_prefix(slash + 1);
    }
    return v->to_number<double>();
}

namespace {
bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
}  // namespace

// No std::regex here: g++ 12 warns inside <regex> in sanitizer builds.
bool names(reply const& r, std::string const& param)
{
    std::string const detail(r.json().at("detail").as_string());
    for (auto at = detail.find(param); at != std::string::npos; at = detail.find(param, at + 1)) {
        bool const starts = at == 0 || !is_word_char(detail[at - 1]);
        bool const ends = at + param.size() == detail.size() || !is_word_char(detail[at + param.size()]);
        if (starts && ends)
            return true;
    }
    return false;
}

}  // namespace itest
