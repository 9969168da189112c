#include "steadyloop/http/message.hpp"

#include "steadyloop/http/error.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

using namespace steadyloop::http;

TEST(problem, is_an_rfc9457_document_with_a_code)
{
    auto res = problem(status::service_unavailable, "blocking_pool_full", "the pool is full");
    EXPECT_EQ(res.result(), status::service_unavailable);
    EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
    ASSERT_FALSE(res.body().empty());
    EXPECT_EQ(res.body().back(), '\n');
    auto doc = boost::json::parse(res.body()).as_object();
    EXPECT_EQ(doc.at("type").as_string(), "about:blank");
    EXPECT_EQ(doc.at("title").as_string(), "Service Unavailable");
    EXPECT_EQ(doc.at("status").as_int64(), 503);
    EXPECT_EQ(doc.at("code").as_string(), "blocking_pool_full");
    EXPECT_EQ(doc.at("detail").as_string(), "the pool is full");
    EXPECT_EQ(doc.size(), 5u);
}

TEST(problem, escapes_what_it_quotes)
{
    auto res = problem(status::bad_request, "bad_request", "parameter \"x\" has a \n newline");
    auto doc = boost::json::parse(res.body()).as_object();
    EXPECT_EQ(doc.at("detail").as_string(), "parameter \"x\" has a \n newline");
}

TEST(http_error, carries_its_extra_headers_into_the_answer)
{
    auto err = http_error(status::method_not_allowed, "method_not_allowed", "no").with_header("Allow", "GET, HEAD");
    auto res = err.to_response();
    EXPECT_EQ(res.result(), status::method_not_allowed);
    EXPECT_EQ(res[bhttp::field::allow], "GET, HEAD");
    EXPECT_EQ(boost::json::parse(res.body()).at("code").as_string(), "method_not_allowed");
}

TEST(json, ends_with_a_newline_and_writes_numbers_plainly)
{
    auto res = json(status::ok, boost::json::object{{"ms", 200}, {"elapsed_ms", 200.4}, {"ratio", 0.5}, {"n", -3}});
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(res.body(), "{\"ms\":200,\"elapsed_ms\":200.4,\"ratio\":0.5,\"n\":-3}\n");
}

TEST(json_text, round_trips_nested_values)
{
    boost::json::value v = {{"a", boost::json::array{1, 2.25, "x\"y", nullptr, true}}, {"b", {{"c", 1e21}}}};
    EXPECT_EQ(boost::json::parse(json_text(v)), v);
    EXPECT_EQ(json_text(boost::json::value(std::numeric_limits<double>::infinity())), "null");
}
