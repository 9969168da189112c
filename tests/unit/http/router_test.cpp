#include "steadyloop/http/router.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace steadyloop::http;
using boost::asio::awaitable;

namespace {

handler answer(std::string body)
{
    return [body](request&, context&) -> awaitable<response> { co_return text(status::ok, body); };
}

std::vector<std::string> segs(std::initializer_list<char const*> s) { return {s.begin(), s.end()}; }

router sample()
{
    router r;
    r.add(verb::get, "/ping", answer("ping"));
    r.add(verb::get, "/users/{username}", answer("user"));
    r.add(verb::get, "/kv/{key...}", answer("kv-get"));
    r.add(verb::put, "/kv/{key...}", answer("kv-put"));
    r.add(verb::delete_, "/kv/{key...}", answer("kv-delete"));
    r.add(verb::get, "/kv", answer("kv-list"));
    r.add(verb::get, "/", answer("root"));
    return r;
}

}  // namespace

TEST(router, matches_a_literal_path)
{
    auto r = sample();
    auto m = r.find(verb::get, segs({"ping"}));
    ASSERT_NE(m.matched, nullptr);
    EXPECT_EQ(m.matched->pattern, "/ping");
    EXPECT_TRUE(m.params.empty());
}

TEST(router, matches_the_root)
{
    auto r = sample();
    auto m = r.find(verb::get, {});
    ASSERT_NE(m.matched, nullptr);
    EXPECT_EQ(m.matched->pattern, "/");
}

TEST(router, binds_a_segment_parameter)
{
    auto r = sample();
    auto m = r.find(verb::get, segs({"users", "ada"}));
    ASSERT_NE(m.matched, nullptr);
    ASSERT_EQ(m.params.size(), 1u);
    EXPECT_EQ(m.params[0].first, "username");
    EXPECT_EQ(m.params[0].second, "ada");
}

TEST(router, rest_parameter_takes_the_remaining_segments)
{
    auto r = sample();
    auto m = r.find(verb::put, segs({"kv", "a", "b c", "d"}));
    ASSERT_NE(m.matched, nullptr);
    EXPECT_EQ(m.matched->label, "/kv/{key}");
    ASSERT_EQ(m.params.size(), 1u);
    EXPECT_EQ(m.params[0].second, "a/b c/d");
}

TEST(router, rejects_empty_parameters)
{
    auto r = sample();
    EXPECT_EQ(r.find(verb::get, segs({"users", ""})).matched, nullptr);
    EXPECT_FALSE(r.find(verb::get, segs({"users", ""})).path_known);
    EXPECT_EQ(r.find(verb::get, segs({"kv", ""})).matched, nullptr);
}

TEST(router, unknown_path_is_not_found)
{
    auto r = sample();
    auto m = r.find(verb::get, segs({"pong"}));
    EXPECT_EQ(m.matched, nullptr);
    EXPECT_FALSE(m.path_known);
    // A trailing slash is another path.
    EXPECT_FALSE(r.find(verb::get, segs({"ping", ""})).path_known);
    EXPECT_FALSE(r.find(verb::get, segs({"users", "ada", "more"})).path_known);
}

TEST(router, rejects_unknown_method_with_the_allowed_ones)
{
    auto r = sample();
    auto m = r.find(verb::post, segs({"kv", "k"}));
    EXPECT_EQ(m.matched, nullptr);
    EXPECT_TRUE(m.path_known);
    EXPECT_EQ(m.allow, "GET, PUT, DELETE, HEAD");
    auto p = r.find(verb::post, segs({"ping"}));
    EXPECT_EQ(p.allow, "GET, HEAD");
}

TEST(router, head_matches_get_routes)
{
    auto r = sample();
    auto m = r.find(verb::head, segs({"ping"}));
    ASSERT_NE(m.matched, nullptr);
    EXPECT_EQ(m.matched->method, verb::get);
}

TEST(router, refuses_duplicate_and_malformed_patterns)
{
    router r;
    r.add(verb::get, "/a", answer("a"));
    EXPECT_THROW(r.add(verb::get, "/a", answer("b")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "a", answer("c")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "/x/{}", answer("d")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "/x/{rest...}/y", answer("e")), std::invalid_argument);
}

TEST(router, keeps_each_route_body_limit)
{
    router r;
    r.add(verb::post, "/hash", answer("h"), route_options{.body_limit = 1234});
    auto m = r.find(verb::post, segs({"hash"}));
    ASSERT_NE(m.matched, nullptr);
    EXPECT_EQ(m.matched->options.body_limit, 1234u);
}
