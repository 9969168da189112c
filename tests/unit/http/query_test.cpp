#include "steadyloop/http/query.hpp"

#include <boost/url/parse.hpp>

#include <gtest/gtest.h>

#include <limits>

using namespace steadyloop::http;

namespace {

query_params parse(char const* target) { return query_params(boost::urls::parse_origin_form(target).value()); }

// The 400 detail for a parameter, or "" when no error.
std::string error_of(char const* target, std::int64_t min = 0, std::int64_t max = 10000)
{
    try {
        parse(target).integer("ms", 5, min, max);
        return "";
    } catch (http_error const& e) {
        EXPECT_EQ(e.status_code(), status::bad_request);
        EXPECT_EQ(e.code(), "bad_request");
        return e.detail();
    }
}

}  // namespace

TEST(query_params, reads_an_integer_in_range)
{
    EXPECT_EQ(parse("/x?ms=250").integer("ms", 5, 0, 10000), 250);
    EXPECT_EQ(parse("/x?ms=0").integer("ms", 5, 0, 10000), 0);
    EXPECT_EQ(parse("/x?ms=10000").integer("ms", 5, 0, 10000), 10000);
    EXPECT_EQ(parse("/x?a=1&ms=7&b=2").integer("ms", 5, 0, 10000), 7);
}

TEST(query_params, uses_the_default_when_missing)
{
    EXPECT_EQ(parse("/x").integer("ms", 5, 0, 10000), 5);
    EXPECT_EQ(parse("/x?other=1").integer("ms", 5, 0, 10000), 5);
}

TEST(query_params, rejects_malformed_integers_naming_the_parameter)
{
    for (auto* t : {"/x?ms=", "/x?ms", "/x?ms=-1", "/x?ms=+1", "/x?ms=abc", "/x?ms=1.5", "/x?ms=12abc", "/x?ms=%201",
                    "/x?ms=0x10", "/x?ms=10001", "/x?ms=99999999999999999999999"}) {
        auto detail = error_of(t);
        EXPECT_NE(detail.find("'ms'"), std::string::npos) << t << " → " << detail;
    }
}

TEST(query_params, accepts_negative_numbers_only_in_a_signed_range)
{
    EXPECT_EQ(parse("/x?ms=-3").integer("ms", 0, -10, 10), -3);
    EXPECT_NE(error_of("/x?ms=-11", -10, 10), "");
}

TEST(query_params, handles_the_int64_extremes)
{
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(parse("/x?ms=9223372036854775807").integer("ms", 0, 0, max), max);
    EXPECT_NE(error_of("/x?ms=9223372036854775808", 0, max), "");
}

TEST(query_params, rejects_a_repeated_parameter)
{
    EXPECT_NE(error_of("/x?ms=1&ms=2").find("more than once"), std::string::npos);
}

TEST(query_params, requires_a_required_integer)
{
    EXPECT_THROW(parse("/x").required_integer("n", 1, 10), http_error);
    EXPECT_EQ(parse("/x?n=3").required_integer("n", 1, 10), 3);
}

TEST(query_params, decodes_percent_escapes_and_plus)
{
    auto q = parse("/x?host=a%2Eb&name=a+b");
    EXPECT_EQ(q.get("host"), "a.b");
    EXPECT_EQ(q.get("name"), "a b");
    EXPECT_EQ(parse("/x?ms=%32%35").integer("ms", 0, 0, 100), 25);
}

TEST(query_params, one_of_accepts_only_listed_words)
{
    auto q = parse("/x?mode=thread");
    EXPECT_EQ(q.one_of("mode", {"async", "thread", "inline"}, "async"), "thread");
    EXPECT_EQ(parse("/x").one_of("mode", {"async", "thread"}, "async"), "async");
    try {
        parse("/x?mode=THREAD").one_of("mode", {"async", "thread"}, "async");
        FAIL();
    } catch (http_error const& e) {
        EXPECT_NE(e.detail().find("'mode'"), std::string::npos);
        EXPECT_NE(e.detail().find("async, thread"), std::string::npos);
    }
}

TEST(parse_integer, is_strict)
{
    EXPECT_EQ(parse_integer("42", 0, 100), 42);
    EXPECT_FALSE(parse_integer("", 0, 100));
    EXPECT_FALSE(parse_integer(" 42", 0, 100));
    EXPECT_FALSE(parse_integer("42 ", 0, 100));
    EXPECT_FALSE(parse_integer("101", 0, 100));
}
