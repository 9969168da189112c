#include "steadyloop/http/message.hpp"

#include "steadyloop/http/error.hpp"

#include <boost/json/parse.hpp>

#include <boost/beast/http/write.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

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

TEST(problem, stays_valid_json_when_the_detail_quotes_invalid_utf8)
{
    // A detail quoting a client's Content-Type with obs-text bytes (found by fuzz_json_body).
    auto res = problem(status::unsupported_media_type, "unsupported_media_type", "not text/\xff\xfex\xc3");
    boost::system::error_code ec;
    auto doc = boost::json::parse(res.body(), ec);
    ASSERT_FALSE(ec) << res.body();
    EXPECT_EQ(doc.at("detail").as_string(), "not text/\xEF\xBF\xBD\xEF\xBF\xBDx\xEF\xBF\xBD");
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

// serialize() must put on the wire exactly what Beast's own serializer does.
std::string beast_bytes(response const& res)
{
    std::ostringstream os;
    os << res;
    return os.str();
}

TEST(serialize, writes_the_bytes_beast_writes)
{
    std::vector<response> cases;
    cases.push_back(text(status::ok, "pong\n"));
    cases.push_back(problem(status::not_found, "not_found", "no such resource"));
    auto custom = text(status::ok, "x");
    custom.reason("Fine Indeed");
    cases.push_back(custom);
    auto old = text(status::created, std::string("nul\0byte", 8), "application/octet-stream");
    old.version(10);
    old.set("X-Request-Id", "abc");
    cases.push_back(old);
    auto unknown = text(static_cast<status>(299), "");
    cases.push_back(unknown);
    response empty_head{status::no_content, 11};
    empty_head.set(bhttp::field::etag, "\"v1\"");
    cases.push_back(empty_head);
    for (auto& res : cases) {
        res.prepare_payload();
        std::string ours = "left alone|";
        serialize(res, ours);
        EXPECT_EQ(ours, "left alone|" + beast_bytes(res));
    }
}
