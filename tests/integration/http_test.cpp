// HTTP/1.1 as the contract describes it, over real sockets: keep-alive, pipelining,
// HTTP/1.0, chunked bodies, Expect: 100-continue, body and header limits, HEAD, problem
// documents, the headers every answer carries, and query parameter validation.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>
#include <thread>

namespace {

using namespace itest;

TEST(http_server, keeps_a_connection_alive_for_several_requests)
{
    server_process srv;
    connection c(srv.port());
    std::string const ids[] = {"keep-1", "keep-2", "keep-3"};
    for (auto const& id : ids) {
        auto r = c.get("/ping", {{"X-Request-Id", id}});
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.body(), "pong\n");
        EXPECT_EQ(r.header("X-Request-Id"), id);
        EXPECT_TRUE(r.message.keep_alive()) << r;
    }
    // Still open: nothing closes it within a moment.
    EXPECT_FALSE(c.wait_closed(200ms));
    // All three went over one connection: /loop counts this one and its own.
    auto loop = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(loop, "connections"), 2);
}

TEST(http_server, answers_pipelined_requests_in_order)
{
    server_process srv;
    connection c(srv.port());
    // The first request is the slowest: its answer must still come first.
    c.send(make_request("GET", "/demo/io?ms=150&mode=async", {{"X-Request-Id", "pipe-1"}}) +
           make_request("GET", "/healthz", {{"X-Request-Id", "pipe-2"}}) +
           make_request("GET", "/ping", {{"X-Request-Id", "pipe-3"}}));
    auto r1 = c.read_response();
    auto r2 = c.read_response();
    auto r3 = c.read_response();
    EXPECT_EQ(r1.header("X-Request-Id"), "pipe-1") << r1;
    EXPECT_EQ(r1.status(), 200u) << r1;
    EXPECT_EQ(r1.json().at("mode").as_string(), "async");
    EXPECT_EQ(r2.header("X-Request-Id"), "pipe-2") << r2;
    EXPECT_EQ(r2.body(), "{\"status\":\"ok\"}\n");
    EXPECT_EQ(r3.header("X-Request-Id"), "pipe-3") << r3;
    EXPECT_EQ(r3.body(), "pong\n");
    EXPECT_EQ(c.unread_bytes(100ms), 0u);
}

// Large declared bodies are read straight into the request (no parser copy): the bytes
// must be exact, and the next pipelined request must start right after them, whether the
// body came with the header or trickled in later.
TEST(http_server, reads_a_large_body_exactly_and_the_pipelined_request_after_it)
{
    server_process srv;
    connection c(srv.port());
    std::string value(200 * 1024, '\0');
    for (std::size_t i = 0; i < value.size(); ++i)
        value[i] = static_cast<char>((i * 7919) >> 3);
    auto const put = make_request("PUT", "/kv/big", {{"Content-Type", "application/octet-stream"}}, value);
    c.send(put + make_request("GET", "/kv/big") + make_request("GET", "/ping"));
    auto r1 = c.read_response();
    auto r2 = c.read_response();
    auto r3 = c.read_response();
    EXPECT_EQ(r1.status(), 201u) << r1;
    EXPECT_EQ(r2.status(), 200u) << r2;
    EXPECT_TRUE(r2.body() == value) << "the stored value differs from the body sent";
    EXPECT_EQ(r3.body(), "pong\n");

    // The same body split: header and a few bytes first, the rest later.
    auto const split = put.size() - value.size() + 10;
    c.send(put.substr(0, split));
    std::this_thread::sleep_for(50ms);
    c.send(put.substr(split) + make_request("GET", "/ping"));
    auto r4 = c.read_response();
    auto r5 = c.read_response();
    EXPECT_EQ(r4.status(), 200u) << r4;
    EXPECT_EQ(r5.body(), "pong\n");
    EXPECT_EQ(c.unread_bytes(100ms), 0u);
}

TEST(http_server, closes_an_http_1_0_connection_after_the_answer)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request(make_request("GET", "/ping", {}, {}, "HTTP/1.0"));
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.body(), "pong\n");
    EXPECT_NE(r.header("Connection"), "keep-alive") << r;
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_TRUE(c.wait_closed(2s)) << "the server kept an HTTP/1.0 connection open";
}

TEST(http_server, keeps_an_http_1_0_connection_open_when_asked)
{
    server_process srv;
    connection c(srv.port());
    for (int i = 0; i < 2; ++i) {
        auto r = c.request(make_request("GET", "/ping", {{"Connection", "keep-alive"}}, {}, "HTTP/1.0"));
        EXPECT_EQ(r.status(), 200u) << r;
        // An HTTP/1.0 client only knows the connection stays open when told so.
        EXPECT_EQ(r.header("Connection"), "keep-alive") << r;
    }
    EXPECT_FALSE(c.wait_closed(200ms));
}

TEST(http_server, closes_when_the_client_sends_connection_close)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.get("/ping", {{"Connection", "close"}});
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_FALSE(r.message.keep_alive()) << r;
    EXPECT_TRUE(c.wait_closed(2s));
}

TEST(http_server, accepts_a_chunked_request_body)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request("GET /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.body(), "pong\n");
    // The body was consumed exactly: the next request on the connection parses.
    auto again = c.get("/ping");
    EXPECT_EQ(again.status(), 200u) << again;
}

TEST(http_server, rejects_a_chunked_body_over_the_route_limit)
{
    server_process srv;
    connection c(srv.port());
    std::string req = "GET /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string const chunk(8 * 1024, 'a');
    for (int i = 0; i < 9; ++i)  // 72 KiB > 64 KiB
        req += "2000\r\n" + chunk + "\r\n";
    req += "0\r\n\r\n";
    ASSERT_TRUE(c.try_send(req));
    auto r = c.read_response();
    EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_FALSE(r.message.keep_alive()) << r;
    EXPECT_TRUE(c.wait_closed(3s));
}

TEST(http_server, accepts_a_chunked_body_of_exactly_the_limit)
{
    server_process srv;
    connection c(srv.port());
    std::string req = "GET /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string const chunk(16 * 1024, 'a');
    for (int i = 0; i < 4; ++i)  // 64 KiB exactly
        req += "4000\r\n" + chunk + "\r\n";
    req += "0\r\n\r\n";
    auto r = c.request(req);
    EXPECT_EQ(r.status(), 200u) << r;
}

TEST(http_server, sends_100_continue_before_the_body_is_sent)
{
    server_process srv;
    connection c(srv.port());
    c.send("GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
           "X-Request-Id: expect-1\r\n\r\n");
    // No body sent yet: the interim answer must come on its own.
    auto interim = c.read_response(false, 2s);
    EXPECT_EQ(interim.status(), 100u) << interim;
    EXPECT_EQ(interim.message.version(), 11u);
    EXPECT_TRUE(interim.body().empty());
    c.send("hello");
    auto r = c.read_response();
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.body(), "pong\n");
    EXPECT_EQ(r.header("X-Request-Id"), "expect-1");
    EXPECT_TRUE(has_standard_headers(r));
    // The connection carries on.
    EXPECT_EQ(c.get("/ping").status(), 200u);
}

TEST(http_server, answers_413_instead_of_100_continue_for_a_body_over_the_limit)
{
    server_process srv;
    connection c(srv.port());
    c.send("GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n");
    auto r = c.read_response(false, 2s);  // without sending any of the body
    EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_FALSE(r.message.keep_alive()) << r;
    EXPECT_LT(r.elapsed_ms(), 1000.0) << "the 413 should come at once, not after a timeout";
    EXPECT_TRUE(c.wait_closed(3s)) << "the connection should be closed after the 413";
}

TEST(http_server, answers_404_instead_of_100_continue_for_an_unknown_path)
{
    server_process srv;
    connection c(srv.port());
    c.send("PUT /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    auto r = c.read_response(false, 2s);
    EXPECT_TRUE(is_problem(r, 404, "not_found"));
}

TEST(http_server, answers_413_to_a_declared_body_over_the_limit_without_expect)
{
    server_process srv;
    connection c(srv.port());
    std::string const body(100 * 1024, 'b');
    // The whole body is sent, as a naive client does; the 413 must survive it (no reset).
    ASSERT_TRUE(c.try_send(make_request("GET", "/ping", {}, body)));
    auto r = c.read_response();
    EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_TRUE(c.wait_closed(3s));
}

TEST(http_server, reads_a_declared_body_within_the_limit)
{
    server_process srv;
    connection c(srv.port());
    std::string const body(64 * 1024, 'b');
    auto r = c.request(make_request("GET", "/ping", {}, body));
    EXPECT_EQ(r.status(), 200u) << r;
    auto again = c.get("/ping");
    EXPECT_EQ(again.status(), 200u) << again;
}

TEST(http_server, answers_head_with_the_get_headers_and_no_body)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request(make_request("HEAD", "/ping"), /*head=*/true);
    EXPECT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.header("Content-Length"), "5") << r;
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8") << r;
    EXPECT_TRUE(has_standard_headers(r, /*head=*/true));
    EXPECT_EQ(c.unread_bytes(200ms), 0u) << "body bytes followed the answer to HEAD";
    auto next = c.get("/ping");
    EXPECT_EQ(next.status(), 200u) << next;
    EXPECT_EQ(next.body(), "pong\n");

    // Pipelined behind a GET, too.
    c.send(make_request("HEAD", "/ping", {{"X-Request-Id", "h-1"}}) + make_request("GET", "/ping", {{"X-Request-Id", "g-2"}}));
    auto h = c.read_response(true);
    auto g = c.read_response();
    EXPECT_EQ(h.header("X-Request-Id"), "h-1");
    EXPECT_TRUE(h.body().empty());
    EXPECT_EQ(g.header("X-Request-Id"), "g-2");
    EXPECT_EQ(g.body(), "pong\n");
}

TEST(http_server, answers_head_to_json_routes_with_their_length)
{
    server_process srv;
    connection c(srv.port());
    auto g = c.get("/healthz");
    auto h = c.request(make_request("HEAD", "/healthz"), true);
    EXPECT_EQ(h.status(), 200u) << h;
    EXPECT_EQ(h.header("Content-Length"), std::to_string(g.body().size()));
    EXPECT_EQ(c.unread_bytes(200ms), 0u);
}

TEST(http_server, answers_404_not_found_for_an_unknown_path)
{
    server_process srv;
    auto r = get(srv.port(), "/no/such/thing");
    EXPECT_TRUE(is_problem(r, 404, "not_found"));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_TRUE(r.message.keep_alive()) << "a 404 need not close the connection";
}

TEST(http_server, answers_405_with_allow_for_a_wrong_method)
{
    server_process srv;
    for (auto method : {"POST", "DELETE", "PUT", "OPTIONS", "FOO"}) {
        SCOPED_TRACE(method);
        connection c(srv.port());
        auto r = c.request(make_request(method, "/ping"));
        EXPECT_TRUE(is_problem(r, 405, "method_not_allowed"));
        EXPECT_EQ(r.header("Allow"), "GET, HEAD") << r;
        EXPECT_TRUE(has_standard_headers(r));
    }
}

TEST(http_server, answers_431_for_headers_over_16_kib)
{
    server_process srv;
    connection c(srv.port());
    ASSERT_TRUE(c.try_send(make_request("GET", "/ping", {{"X-Big", std::string(20 * 1024, 'h')}})));
    auto r = c.read_response();
    ASSERT_EQ(r.status(), 431u) << r;
    // API.md names no code for 431; any stable, non-empty one will do.
    std::string const code(r.json().at("code").as_string());
    EXPECT_FALSE(code.empty());
    EXPECT_TRUE(is_problem(r, 431, code));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_TRUE(c.wait_closed(3s));
}

TEST(http_server, accepts_headers_just_under_the_limit)
{
    server_process srv;
    auto r = get(srv.port(), "/ping", {{"X-Big", std::string(15 * 1024, 'h')}});
    EXPECT_EQ(r.status(), 200u) << r;
}

TEST(http_server, answers_400_for_a_malformed_request_line)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request("this is not http\r\n\r\n");
    EXPECT_TRUE(is_problem(r, 400, "bad_request"));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_TRUE(c.wait_closed(3s));
}

TEST(http_server, requires_a_host_header_in_http_1_1)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request("GET /ping HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(is_problem(r, 400, "bad_request"));
    // HTTP/1.0 has no such rule.
    connection old(srv.port());
    EXPECT_EQ(old.request("GET /ping HTTP/1.0\r\n\r\n").status(), 200u);
}

TEST(http_server, accepts_an_absolute_form_target)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request("GET http://127.0.0.1/demo/io?ms=1&mode=async HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.json().at("ms").to_number<int>(), 1);
}

TEST(http_server, answers_400_for_a_malformed_chunked_body)
{
    server_process srv;
    connection c(srv.port());
    auto r = c.request("GET /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    EXPECT_TRUE(is_problem(r, 400, "bad_request"));
    EXPECT_TRUE(c.wait_closed(3s));
}

TEST(http_server, rejects_bad_query_parameters_naming_the_parameter)
{
    server_process srv;
    struct bad_case {
        char const* query;
        char const* param;
    };
    bad_case const cases[] = {
        {"ms=-1", "ms"},
        {"ms=abc", "ms"},
        {"ms=", "ms"},
        {"ms", "ms"},
        {"ms=10001", "ms"},
        {"ms=99999999999999999999999", "ms"},
        {"ms=%2B5", "ms"},  // "+5": signed where unsigned
        {"ms=5%20", "ms"},  // trailing space
        {"ms=0x10", "ms"},
        {"ms=1&ms=2", "ms"},
        {"mode=bogus", "mode"},
        {"mode=", "mode"},
    };
    connection c(srv.port());
    for (auto const& bc : cases) {
        SCOPED_TRACE(bc.query);
        auto r = c.get(std::string("/demo/io?") + bc.query);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        EXPECT_LT(r.elapsed_ms(), 500.0) << "a bad parameter must not start the wait";
        std::string const detail(r.json().at("detail").as_string());
        EXPECT_TRUE(std::regex_search(detail, std::regex(std::string("\\b") + bc.param + "\\b")))
            << "detail does not name '" << bc.param << "': " << detail;
    }
}

TEST(http_server, accepts_query_parameters_at_the_ends_of_their_range)
{
    server_process srv;
    connection c(srv.port());
    auto r0 = c.get("/demo/io?ms=0&mode=async");
    EXPECT_EQ(r0.status(), 200u) << r0;
    EXPECT_EQ(r0.json().at("ms").to_number<int>(), 0);
    auto def = c.get("/demo/io?ms=00010");
    EXPECT_EQ(def.status(), 200u) << def;
    EXPECT_EQ(def.json().at("ms").to_number<int>(), 10);
    EXPECT_EQ(def.json().at("mode").as_string(), "async");
}

TEST(http_server, sets_the_standard_headers_on_every_answer)
{
    server_process srv;
    // /readyz answers 200 once every worker process is up, a moment after the listener.
    ASSERT_TRUE(eventually([&] { return get(srv.port(), "/readyz").status() == 200; }, 5s));
    struct one {
        std::string raw;
        bool head;
        unsigned status;
    };
    std::vector<one> const cases = {
        {make_request("GET", "/ping"), false, 200},
        {make_request("GET", "/healthz"), false, 200},
        {make_request("GET", "/readyz"), false, 200},
        {make_request("GET", "/loop"), false, 200},
        {make_request("HEAD", "/ping"), true, 200},
        {make_request("GET", "/nope"), false, 404},
        {make_request("POST", "/ping"), false, 405},
        {make_request("GET", "/demo/io?ms=x"), false, 400},
        {make_request("GET", "/ping", {{"Content-Length", "100000"}}), false, 413},
        {make_request("GET", "/ping", {{"X-Big", std::string(20 * 1024, 'h')}}), false, 431},
        {"BAD\r\n\r\n", false, 400},
    };
    for (auto const& tc : cases) {
        SCOPED_TRACE(tc.raw.substr(0, 40));
        connection c(srv.port());
        auto r = c.request(tc.raw, tc.head);
        EXPECT_EQ(r.status(), tc.status) << r;
        EXPECT_TRUE(has_standard_headers(r, tc.head));
    }
}

TEST(http_server, echoes_a_valid_client_request_id)
{
    server_process srv;
    connection c(srv.port());
    for (std::string id : {std::string("abc"), std::string("A.b_c-9"), std::string("x"), std::string(128, 'z')}) {
        SCOPED_TRACE(id);
        auto r = c.get("/ping", {{"X-Request-Id", id}});
        EXPECT_EQ(r.header("X-Request-Id"), id) << r;
    }
    // Echoed on errors too.
    auto nf = c.get("/nope", {{"X-Request-Id", "err-42"}});
    EXPECT_EQ(nf.status(), 404u);
    EXPECT_EQ(nf.header("X-Request-Id"), "err-42");
}

TEST(http_server, replaces_an_invalid_client_request_id)
{
    server_process srv;
    connection c(srv.port());
    std::string const bad[] = {std::string(129, 'a'), std::string(200, 'a'), "has space", "dollar$sign",
                               "slash/no", "semi;colon", "\xc3\xa9t\xc3\xa9"};
    std::vector<std::string> generated;
    for (auto const& id : bad) {
        SCOPED_TRACE(id);
        auto r = c.get("/ping", {{"X-Request-Id", id}});
        EXPECT_EQ(r.status(), 200u) << r;
        auto got = r.header("X-Request-Id");
        EXPECT_NE(got, id);
        EXPECT_TRUE(valid_request_id(got)) << got;
        generated.push_back(got);
    }
    // Generated ids differ from one request to the next.
    std::sort(generated.begin(), generated.end());
    EXPECT_EQ(std::unique(generated.begin(), generated.end()), generated.end());
}

TEST(http_server, generates_a_request_id_when_none_is_sent)
{
    server_process srv;
    auto a = get(srv.port(), "/ping");
    auto b = get(srv.port(), "/ping");
    EXPECT_TRUE(valid_request_id(a.header("X-Request-Id"))) << a;
    EXPECT_TRUE(valid_request_id(b.header("X-Request-Id"))) << b;
    EXPECT_NE(a.header("X-Request-Id"), b.header("X-Request-Id"));
}

TEST(http_server, answers_json_bodies_ending_with_a_newline)
{
    server_process srv;
    // /readyz answers 200 once every worker process is up, a moment after the listener.
    ASSERT_TRUE(eventually([&] { return get(srv.port(), "/readyz").status() == 200; }, 5s));
    for (auto target : {"/healthz", "/readyz", "/loop", "/demo/io?ms=0"}) {
        SCOPED_TRACE(target);
        auto r = get(srv.port(), target);
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.header("Content-Type"), "application/json") << r;
        ASSERT_FALSE(r.body().empty());
        EXPECT_EQ(r.body().back(), '\n');
        EXPECT_NO_THROW(r.json()) << r;
    }
    EXPECT_EQ(get(srv.port(), "/healthz").json().at("status").as_string(), "ok");
    EXPECT_EQ(get(srv.port(), "/readyz").json().at("status").as_string(), "ready");
}

TEST(http_server, rejects_a_third_connection_over_max_connections)
{
    server_process srv({"--max-connections", "2"});
    connection a(srv.port());
    connection b(srv.port());
    // Both are registered once each has been answered.
    EXPECT_EQ(a.get("/ping").status(), 200u);
    EXPECT_EQ(b.get("/ping").status(), 200u);

    connection c(srv.port());
    ASSERT_TRUE(c.try_send(make_request("GET", "/ping")));
    auto r = c.read_response();
    EXPECT_TRUE(is_problem(r, 503, "too_many_connections"));
    EXPECT_EQ(r.header("Retry-After"), "1") << r;
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_TRUE(c.wait_closed(3s));

    // A slot freed is a slot available again.
    a.close();
    EXPECT_TRUE(eventually(
        [&] {
            connection d(srv.port());
            return d.get("/ping").status() == 200;
        },
        2s, 20ms));
}

}  // namespace
