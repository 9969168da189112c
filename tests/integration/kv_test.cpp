// /kv over HTTP against the real binary and a real SQLite database (in memory, see
// server_process): versions as ETags, 304s, HEAD, keys percent-decoded from the path,
// the 1 MiB limit, byte-exact values, cursor paging in key order, concurrent writers,
// load shedding, and a loop that stays free while the blocking pool is saturated.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"
#include "store_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <iostream>
#include <latch>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace itest;
using clock_type = std::chrono::steady_clock;

// A server for the /kv tests: one worker (none is needed), an in-memory database.
std::vector<std::string> kv_args(std::vector<std::string> more = {})
{
    std::vector<std::string> args{"--workers", "1"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// An ETag made from version `version`: a strong entity-tag, "V" or "V-<opaque>" (the
// version alone would repeat after a delete and a re-create, so an implementation may add
// a digest of the value to it).
::testing::AssertionResult is_etag_of_version(std::string const& tag, int version)
{
    static std::regex const re(R"re("([0-9]+)(-[0-9A-Za-z]+)?")re");
    std::smatch m;
    if (!std::regex_match(tag, m, re))
        return ::testing::AssertionFailure() << "ETag " << tag << " is not \"<version>\" or \"<version>-<tag>\"";
    if (m[1].str() != std::to_string(version))
        return ::testing::AssertionFailure() << "ETag " << tag << " is not of version " << version;
    return ::testing::AssertionSuccess();
}

reply put(unsigned short port, std::string const& key_path, std::string_view value, headers const& extra = {})
{
    return send(port, "PUT", "/kv/" + key_path, extra, value);
}

// Every key under `prefix`, following `next` from page to page of `limit` keys; the
// pages themselves in `pages` when wanted.
std::vector<std::string> list_all(unsigned short port, std::string const& prefix, int limit,
                                  std::vector<std::vector<std::string>>* pages = nullptr)
{
    std::vector<std::string> keys;
    std::string after;
    bool first = true;
    for (int guard = 0; guard < 10000; ++guard) {
        std::string target = "/kv?prefix=" + percent_encode(prefix) + "&limit=" + std::to_string(limit);
        if (!first)
            target += "&after=" + percent_encode(after);
        first = false;
        auto r = get(port, target);
        EXPECT_EQ(r.status(), 200u) << r;
        if (r.status() != 200)
            break;
        auto j = r.json();
        auto page = strings_of(j.at("keys"));
        EXPECT_LE(page.size(), static_cast<std::size_t>(limit));
        keys.insert(keys.end(), page.begin(), page.end());
        if (pages)
            pages->push_back(page);
        auto const& next = j.at("next");
        if (next.is_null())
            break;
        EXPECT_TRUE(next.is_string()) << r;
        after = std::string(next.as_string());
        EXPECT_FALSE(page.empty()) << "a page with no keys but a next";
        if (page.empty())
            break;
        EXPECT_EQ(after, page.back()) << "next is the last key of its page";
    }
    return keys;
}

// ---- PUT, GET, HEAD, DELETE ------------------------------------------------------------

TEST(kv, answers_201_for_a_new_key_and_200_with_the_next_version_for_a_replaced_one)
{
    server_process srv(kv_args());
    auto created = put(srv.port(), "greeting", "hello");
    ASSERT_EQ(created.status(), 201u) << created;
    EXPECT_TRUE(has_standard_headers(created));
    EXPECT_EQ(created.header("Content-Type"), "application/json") << created;
    EXPECT_EQ(created.body().back(), '\n');
    auto j = created.json();
    EXPECT_EQ(j.size(), 3u) << created.body();
    EXPECT_EQ(j.at("key").as_string(), "greeting");
    EXPECT_EQ(j.at("bytes").to_number<int>(), 5);
    EXPECT_EQ(j.at("version").to_number<int>(), 1);
    EXPECT_TRUE(is_etag_of_version(created.header("ETag"), 1));

    auto replaced = put(srv.port(), "greeting", "hello again");
    ASSERT_EQ(replaced.status(), 200u) << replaced;
    auto k = replaced.json();
    EXPECT_EQ(k.at("key").as_string(), "greeting");
    EXPECT_EQ(k.at("bytes").to_number<int>(), 11);
    EXPECT_EQ(k.at("version").to_number<int>(), 2);
    EXPECT_TRUE(is_etag_of_version(replaced.header("ETag"), 2));

    auto third = put(srv.port(), "greeting", "");
    ASSERT_EQ(third.status(), 200u) << third;
    EXPECT_EQ(third.json().at("version").to_number<int>(), 3);
    EXPECT_EQ(third.json().at("bytes").to_number<int>(), 0);
    EXPECT_TRUE(is_etag_of_version(third.header("ETag"), 3));
    // The same bytes written again are still a new version.
    auto fourth = put(srv.port(), "greeting", "");
    ASSERT_EQ(fourth.status(), 200u) << fourth;
    EXPECT_EQ(fourth.json().at("version").to_number<int>(), 4);
    EXPECT_TRUE(is_etag_of_version(fourth.header("ETag"), 4));
}

TEST(kv, answers_the_stored_bytes_with_their_content_type_and_etag)
{
    server_process srv(kv_args());
    auto put_typed = put(srv.port(), "typed", "{\"a\":1}", {{"Content-Type", "application/json; charset=utf-8"}});
    ASSERT_EQ(put_typed.status(), 201u) << put_typed;
    auto put_untyped = put(srv.port(), "untyped", "raw bytes");
    ASSERT_EQ(put_untyped.status(), 201u) << put_untyped;

    auto typed = get(srv.port(), "/kv/typed");
    ASSERT_EQ(typed.status(), 200u) << typed;
    EXPECT_TRUE(has_standard_headers(typed));
    EXPECT_EQ(typed.body(), "{\"a\":1}");
    EXPECT_EQ(typed.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(typed.header("ETag"), put_typed.header("ETag")) << "GET tags the value as PUT did";
    EXPECT_TRUE(is_etag_of_version(typed.header("ETag"), 1));

    auto untyped = get(srv.port(), "/kv/untyped");
    ASSERT_EQ(untyped.status(), 200u) << untyped;
    EXPECT_EQ(untyped.body(), "raw bytes");
    EXPECT_EQ(untyped.header("Content-Type"), "application/octet-stream");
    EXPECT_EQ(untyped.header("ETag"), put_untyped.header("ETag"));

    // A replacement takes the new content type (or the default again) and a new ETag.
    auto put_again = put(srv.port(), "typed", "plain");
    ASSERT_EQ(put_again.status(), 200u) << put_again;
    auto again = get(srv.port(), "/kv/typed");
    EXPECT_EQ(again.body(), "plain");
    EXPECT_EQ(again.header("Content-Type"), "application/octet-stream");
    EXPECT_EQ(again.header("ETag"), put_again.header("ETag"));
    EXPECT_TRUE(is_etag_of_version(again.header("ETag"), 2));
    EXPECT_NE(again.header("ETag"), typed.header("ETag"));
}

TEST(kv, answers_404_not_found_for_a_missing_key)
{
    server_process srv(kv_args());
    EXPECT_TRUE(is_problem(get(srv.port(), "/kv/nothing-here"), 404, "not_found"));
    EXPECT_TRUE(is_problem(send(srv.port(), "DELETE", "/kv/nothing-here"), 404, "not_found"));
    auto h = head(srv.port(), "/kv/nothing-here");
    EXPECT_EQ(h.status(), 404u) << h;
    EXPECT_TRUE(h.body().empty());
}

TEST(kv, answers_304_for_a_current_etag)
{
    server_process srv(kv_args());
    auto p1 = put(srv.port(), "cached", "v1", {{"Content-Type", "text/plain"}});
    ASSERT_EQ(p1.status(), 201u) << p1;
    auto p2 = put(srv.port(), "cached", "v2", {{"Content-Type", "text/plain"}});
    ASSERT_EQ(p2.status(), 200u) << p2;
    std::string const old_tag = p1.header("ETag"), tag = p2.header("ETag");
    ASSERT_TRUE(is_etag_of_version(old_tag, 1));
    ASSERT_TRUE(is_etag_of_version(tag, 2));

    for (std::string const& inm : std::vector<std::string>{tag, "W/" + tag, old_tag + ", " + tag, "\"7\"," + tag, "*"}) {
        SCOPED_TRACE("If-None-Match: " + inm);
        auto r = get(srv.port(), "/kv/cached", {{"If-None-Match", inm}});
        EXPECT_EQ(r.status(), 304u) << r;
        EXPECT_TRUE(r.body().empty()) << r;
        EXPECT_EQ(r.header("ETag"), tag) << r;
        EXPECT_NE(r.header("Content-Type"), "application/problem+json") << r;
    }
    // The 304 ends its response: the next answer on the same connection is intact.
    {
        connection c(srv.port());
        auto r1 = c.get("/kv/cached", {{"If-None-Match", tag}});
        EXPECT_EQ(r1.status(), 304u) << r1;
        auto r2 = c.get("/kv/cached");
        EXPECT_EQ(r2.status(), 200u) << r2;
        EXPECT_EQ(r2.body(), "v2");
    }
    std::string const unquoted = tag.substr(1, tag.size() - 2);
    for (std::string const& inm : std::vector<std::string>{old_tag, "\"3\"", "\"22\"", unquoted, "W/" + old_tag}) {
        SCOPED_TRACE("If-None-Match: " + inm);
        auto r = get(srv.port(), "/kv/cached", {{"If-None-Match", inm}});
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.body(), "v2");
        EXPECT_EQ(r.header("ETag"), tag);
    }
    // A missing key is 404 whatever the client holds.
    EXPECT_TRUE(is_problem(get(srv.port(), "/kv/absent", {{"If-None-Match", "*"}}), 404, "not_found"));
}

TEST(kv, does_not_answer_304_to_the_etag_of_a_deleted_value)
{
    // Deleted and created again, a key starts over at version 1: a client that still holds
    // the old value's ETag must get the new bytes, not a 304.
    server_process srv(kv_args());
    auto first = put(srv.port(), "reborn", "the old value");
    ASSERT_EQ(first.status(), 201u) << first;
    std::string const old_tag = first.header("ETag");
    ASSERT_EQ(send(srv.port(), "DELETE", "/kv/reborn").status(), 204u);
    auto second = put(srv.port(), "reborn", "a new value!!");
    ASSERT_EQ(second.status(), 201u) << second;
    EXPECT_EQ(second.json().at("version").to_number<int>(), 1);
    auto r = get(srv.port(), "/kv/reborn", {{"If-None-Match", old_tag}});
    EXPECT_EQ(r.status(), 200u) << "a 304 for the deleted value's ETag " << old_tag << ": " << r;
    EXPECT_EQ(r.body(), "a new value!!");
    EXPECT_NE(r.header("ETag"), old_tag);
}

TEST(kv, sends_no_content_length_with_a_304_but_that_of_the_value)
{
    // RFC 9110 §8.6: a server MUST NOT send Content-Length in a 304 unless its value is
    // the length a 200 to the same request would have had. (API.md wants Content-Length
    // on every answer: the value's length satisfies both.)
    server_process srv(kv_args());
    std::string const value(1234, 'c');
    auto p = put(srv.port(), "conditional", value);
    ASSERT_EQ(p.status(), 201u) << p;
    auto r = get(srv.port(), "/kv/conditional", {{"If-None-Match", p.header("ETag")}});
    ASSERT_EQ(r.status(), 304u) << r;
    EXPECT_TRUE(r.body().empty());
    if (r.has_header("Content-Length")) {
        EXPECT_EQ(r.header("Content-Length"), "1234") << "a 304 announcing another length than the 200's: " << r;
    }
    auto h = head(srv.port(), "/kv/conditional", {{"If-None-Match", p.header("ETag")}});
    EXPECT_EQ(h.status(), 304u) << h;
    if (h.has_header("Content-Length")) {
        EXPECT_EQ(h.header("Content-Length"), "1234") << h;
    }
}

TEST(kv, answers_head_with_the_headers_of_get_and_no_body)
{
    server_process srv(kv_args());
    std::string const value(1000, 'h');
    auto p = put(srv.port(), "headed", value, {{"Content-Type", "text/csv"}});
    ASSERT_EQ(p.status(), 201u) << p;
    auto h = head(srv.port(), "/kv/headed");
    ASSERT_EQ(h.status(), 200u) << h;
    EXPECT_TRUE(has_standard_headers(h, true));
    EXPECT_TRUE(h.body().empty());
    EXPECT_EQ(h.header("Content-Length"), "1000");
    EXPECT_EQ(h.header("Content-Type"), "text/csv");
    EXPECT_EQ(h.header("ETag"), p.header("ETag"));
    // And the connection goes on: no body bytes were sent after the HEAD answer.
    connection c(srv.port());
    auto h1 = c.request(make_request("HEAD", "/kv/headed"), true);
    EXPECT_EQ(h1.status(), 200u) << h1;
    auto g = c.get("/kv/headed");
    EXPECT_EQ(g.status(), 200u) << g;
    EXPECT_EQ(g.body(), value);
}

TEST(kv, deletes_with_204_then_answers_404)
{
    server_process srv(kv_args());
    ASSERT_EQ(put(srv.port(), "doomed", "x").status(), 201u);
    ASSERT_EQ(put(srv.port(), "doomed", "y").status(), 200u);
    auto d = send(srv.port(), "DELETE", "/kv/doomed");
    EXPECT_EQ(d.status(), 204u) << d;
    EXPECT_TRUE(d.body().empty());
    EXPECT_TRUE(is_problem(get(srv.port(), "/kv/doomed"), 404, "not_found"));
    EXPECT_TRUE(is_problem(send(srv.port(), "DELETE", "/kv/doomed"), 404, "not_found"));
    // Created again, it starts over at version 1.
    auto again = put(srv.port(), "doomed", "z");
    EXPECT_EQ(again.status(), 201u) << again;
    EXPECT_EQ(again.json().at("version").to_number<int>(), 1);
    EXPECT_TRUE(is_etag_of_version(again.header("ETag"), 1));
}

TEST(kv, answers_405_with_allow_for_other_methods)
{
    server_process srv(kv_args());
    auto r = send(srv.port(), "POST", "/kv/x", {}, "body");
    EXPECT_TRUE(is_problem(r, 405, "method_not_allowed"));
    for (auto m : {"GET", "PUT", "DELETE", "HEAD"})
        EXPECT_NE(r.header("Allow").find(m), std::string::npos) << m << " missing from " << r;
    auto l = send(srv.port(), "DELETE", "/kv");
    EXPECT_TRUE(is_problem(l, 405, "method_not_allowed"));
    EXPECT_NE(l.header("Allow").find("GET"), std::string::npos) << l;
}

// ---- keys ---------------------------------------------------------------------------------

TEST(kv, decodes_keys_from_the_path_with_slashes_spaces_and_utf8)
{
    server_process srv(kv_args());
    auto r = put(srv.port(), "caf%C3%A9/x%2Fy", "latte");
    ASSERT_EQ(r.status(), 201u) << r;
    EXPECT_EQ(r.json().at("key").as_string(), "caf\xC3\xA9/x/y");
    // The same key however it is spelled in the path.
    for (std::string path : {"caf%C3%A9/x%2Fy", "caf%C3%A9/x/y", "caf%c3%a9%2Fx%2fy", "caf%C3%A9%2Fx/y"}) {
        SCOPED_TRACE(path);
        auto g = get(srv.port(), "/kv/" + path);
        EXPECT_EQ(g.status(), 200u) << g;
        EXPECT_EQ(g.body(), "latte");
    }

    auto spaced = put(srv.port(), "with%20space%20and%20%3F%23%25", "s");
    ASSERT_EQ(spaced.status(), 201u) << spaced;
    EXPECT_EQ(spaced.json().at("key").as_string(), "with space and ?#%");
    EXPECT_EQ(get(srv.port(), "/kv/with%20space%20and%20%3F%23%25").body(), "s");

    auto deep = put(srv.port(), "a/b/c/d.txt", "deep");
    ASSERT_EQ(deep.status(), 201u) << deep;
    EXPECT_EQ(deep.json().at("key").as_string(), "a/b/c/d.txt");
    EXPECT_EQ(get(srv.port(), "/kv/a%2Fb%2Fc%2Fd.txt").body(), "deep");

    // Any UTF-8, NUL included: "a\0b" is its own key, not "a".
    auto nul = put(srv.port(), "n%00b", "with nul");
    ASSERT_EQ(nul.status(), 201u) << nul;
    EXPECT_EQ(nul.json().at("key").as_string(), std::string_view("n\0b", 3));
    EXPECT_EQ(get(srv.port(), "/kv/n%00b").body(), "with nul");
    EXPECT_TRUE(is_problem(get(srv.port(), "/kv/n"), 404, "not_found"));
    EXPECT_EQ(send(srv.port(), "DELETE", "/kv/n%00b").status(), 204u);

    // No key at all is no resource.
    auto empty = put(srv.port(), "", "nothing");
    EXPECT_GE(empty.status(), 400u) << empty;
    EXPECT_LT(empty.status(), 500u) << empty;

    // A query string is not part of the key.
    auto q = put(srv.port(), "plain?ignored=1", "q");
    ASSERT_EQ(q.status(), 201u) << q;
    EXPECT_EQ(q.json().at("key").as_string(), "plain");

    // Listed as the decoded keys, in byte order.
    auto all = list_all(srv.port(), "", 100);
    std::vector<std::string> expected{"a/b/c/d.txt", "caf\xC3\xA9/x/y", "plain", "with space and ?#%"};
    EXPECT_EQ(all, expected);
    EXPECT_EQ(list_all(srv.port(), "caf\xC3\xA9", 10), std::vector<std::string>{"caf\xC3\xA9/x/y"});

    EXPECT_EQ(send(srv.port(), "DELETE", "/kv/caf%C3%A9%2Fx%2Fy").status(), 204u);
    EXPECT_EQ(get(srv.port(), "/kv/caf%C3%A9/x/y").status(), 404u);
}

TEST(kv, takes_keys_of_256_bytes_and_refuses_257_with_400)
{
    server_process srv(kv_args());
    std::string const k256(256, 'k');
    auto ok = put(srv.port(), k256, "fits");
    ASSERT_EQ(ok.status(), 201u) << ok;
    EXPECT_EQ(ok.json().at("key").as_string(), k256);
    EXPECT_EQ(get(srv.port(), "/kv/" + k256).body(), "fits");

    std::string const k257(257, 'k');
    for (auto method : {"PUT", "GET", "DELETE"}) {
        SCOPED_TRACE(method);
        auto r = send(srv.port(), method, "/kv/" + k257, {}, std::string_view(method) == "PUT" ? "x" : "");
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        EXPECT_NE(r.json().at("detail").as_string().find("key"), boost::json::string::npos) << r;
    }

    // Bytes, not characters: 128 × "é" is 256 bytes, 129 are 258.
    std::string e128, e129;
    for (int i = 0; i < 128; ++i)
        e128 += "%C3%A9";
    e129 = e128 + "%C3%A9";
    EXPECT_EQ(put(srv.port(), e128, "e").status(), 201u);
    EXPECT_TRUE(is_problem(put(srv.port(), e129, "e"), 400, "bad_request"));
    // A key of 257 bytes after decoding, though much longer as a path.
    std::string encoded257;
    for (int i = 0; i < 257; ++i)
        encoded257 += "%41";
    EXPECT_TRUE(is_problem(put(srv.port(), encoded257, "e"), 400, "bad_request"));
    // Nothing but the valid keys was stored.
    EXPECT_EQ(list_all(srv.port(), "", 1000).size(), 2u);
}

TEST(kv, refuses_keys_that_are_not_utf8_with_400)
{
    server_process srv(kv_args());
    for (std::string path : {"%FF", "ok%FF", "a%C3", "%C3%28", "%E2%82", "%C0%AF", "%ED%A0%80"}) {
        for (auto method : {"PUT", "GET", "DELETE"}) {
            SCOPED_TRACE(std::string(method) + " /kv/" + path);
            auto r = send(srv.port(), method, "/kv/" + path, {}, std::string_view(method) == "PUT" ? "x" : "");
            EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        }
    }
    auto all = get(srv.port(), "/kv");
    ASSERT_EQ(all.status(), 200u) << all;
    EXPECT_TRUE(all.json().at("keys").as_array().empty()) << all;
}

// ---- values ---------------------------------------------------------------------------

TEST(kv, keeps_values_with_nul_bytes_exactly)
{
    server_process srv(kv_args());
    std::string every_byte;
    for (int round = 0; round < 3; ++round)
        for (int b = 0; b < 256; ++b)
            every_byte.push_back(static_cast<char>(b));
    std::string const nuls("\0\0a\0b\0\0", 7);
    std::string const trailing("abc\0", 4);
    struct item {
        std::string key;
        std::string value;
    };
    for (auto const& [key, value] : std::vector<item>{{"every-byte", every_byte}, {"nuls", nuls}, {"trailing", trailing},
                                                      {"empty", ""}}) {
        SCOPED_TRACE(key);
        auto p = put(srv.port(), key, value);
        ASSERT_EQ(p.status(), 201u) << p;
        EXPECT_EQ(p.json().at("bytes").to_number<std::size_t>(), value.size());
        auto g = get(srv.port(), "/kv/" + key);
        ASSERT_EQ(g.status(), 200u) << g;
        EXPECT_EQ(g.header("Content-Length"), std::to_string(value.size()));
        EXPECT_TRUE(g.body() == value) << "the value came back as " << g.body().size() << " different bytes";
    }
}

TEST(kv, takes_a_value_of_1_mib_and_refuses_a_larger_one_with_413)
{
    server_process srv(kv_args());
    std::string mib(1024 * 1024, '\0');
    for (std::size_t i = 0; i < mib.size(); ++i)
        mib[i] = static_cast<char>((i * 131) % 251);
    auto ok = put(srv.port(), "big", mib);
    ASSERT_EQ(ok.status(), 201u) << ok;
    EXPECT_EQ(ok.json().at("bytes").to_number<std::size_t>(), mib.size());
    auto g = get(srv.port(), "/kv/big");
    ASSERT_EQ(g.status(), 200u) << g;
    EXPECT_TRUE(g.body() == mib);

    std::string const over = mib + "!";
    {
        // Declared by Content-Length: refused from the headers.
        auto r = put(srv.port(), "big", over);
        EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    }
    {
        // With Expect: 100-continue: the 413 instead of the 100.
        connection c(srv.port());
        c.send("PUT /kv/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(over.size()) +
               "\r\nExpect: 100-continue\r\n\r\n");
        auto r = c.read_response();
        EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    }
    {
        // Chunked: refused once the body passes the limit.
        std::string raw = "PUT /kv/big HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        std::size_t const chunk = 64 * 1024;
        for (std::size_t pos = 0; pos < over.size(); pos += chunk) {
            auto n = std::min(chunk, over.size() - pos);
            char size[32];
            std::snprintf(size, sizeof size, "%zx\r\n", n);
            raw.append(size).append(over, pos, n).append("\r\n");
        }
        raw += "0\r\n\r\n";
        connection c(srv.port());
        c.try_send(raw);
        auto r = c.try_read_response();
        ASSERT_TRUE(r.has_value()) << "no answer to a chunked body over the limit";
        EXPECT_TRUE(is_problem(*r, 413, "body_too_large"));
    }
    // The stored value is the 1 MiB one still, at version 1.
    auto after = get(srv.port(), "/kv/big");
    EXPECT_EQ(after.header("ETag"), ok.header("ETag"));
    EXPECT_TRUE(after.body() == mib);
    EXPECT_TRUE(is_problem(put(srv.port(), "fresh", over), 413, "body_too_large"));
    EXPECT_EQ(get(srv.port(), "/kv/fresh").status(), 404u);
}

// ---- listing -----------------------------------------------------------------------------

TEST(kv, lists_keys_by_prefix_in_key_order_a_page_at_a_time)
{
    server_process srv(kv_args());
    // Stored out of order, with neighbours just outside the prefix on both sides.
    for (std::string k : {"p/e", "o/z", "p/c", "p/a", "q/a", "p/d", "p", "p/b", "pa", "P/x"})
        ASSERT_EQ(put(srv.port(), percent_encode(k), "v").status(), 201u) << k;

    auto first = get(srv.port(), "/kv?prefix=p%2F&limit=2");
    ASSERT_EQ(first.status(), 200u) << first;
    EXPECT_TRUE(has_standard_headers(first));
    EXPECT_EQ(first.header("Content-Type"), "application/json");
    auto j1 = first.json();
    EXPECT_EQ(strings_of(j1.at("keys")), (std::vector<std::string>{"p/a", "p/b"}));
    ASSERT_TRUE(j1.at("next").is_string()) << first;
    EXPECT_EQ(j1.at("next").as_string(), "p/b");

    auto second = get(srv.port(), "/kv?prefix=p%2F&limit=2&after=p%2Fb");
    auto j2 = second.json();
    EXPECT_EQ(strings_of(j2.at("keys")), (std::vector<std::string>{"p/c", "p/d"}));
    ASSERT_TRUE(j2.at("next").is_string()) << second;
    EXPECT_EQ(j2.at("next").as_string(), "p/d");

    auto third = get(srv.port(), "/kv?prefix=p%2F&limit=2&after=p%2Fd");
    auto j3 = third.json();
    EXPECT_EQ(strings_of(j3.at("keys")), (std::vector<std::string>{"p/e"}));
    EXPECT_TRUE(j3.at("next").is_null()) << third;

    // A last page that is exactly full says so: no `next` to an empty page.
    auto exact = get(srv.port(), "/kv?prefix=p%2F&limit=5").json();
    EXPECT_EQ(exact.at("keys").as_array().size(), 5u);
    EXPECT_TRUE(exact.at("next").is_null()) << boost::json::serialize(exact);
    std::vector<std::vector<std::string>> pages;
    auto walked = list_all(srv.port(), "p/", 1, &pages);
    EXPECT_EQ(walked, (std::vector<std::string>{"p/a", "p/b", "p/c", "p/d", "p/e"}));
    EXPECT_EQ(pages.size(), 5u);

    // "p" matches itself and everything after it; no prefix lists everything, in byte
    // order (upper case first), with the default limit.
    EXPECT_EQ(list_all(srv.port(), "p", 3),
              (std::vector<std::string>{"p", "p/a", "p/b", "p/c", "p/d", "p/e", "pa"}));
    auto everything = get(srv.port(), "/kv");
    ASSERT_EQ(everything.status(), 200u) << everything;
    EXPECT_EQ(strings_of(everything.json().at("keys")),
              (std::vector<std::string>{"P/x", "o/z", "p", "p/a", "p/b", "p/c", "p/d", "p/e", "pa", "q/a"}));
    EXPECT_TRUE(everything.json().at("next").is_null());
    // No match: an empty page.
    auto none = get(srv.port(), "/kv?prefix=zzz").json();
    EXPECT_TRUE(none.at("keys").as_array().empty());
    EXPECT_TRUE(none.at("next").is_null());
    // After the last key: an empty page too.
    auto past = get(srv.port(), "/kv?prefix=p%2F&after=p%2Fe").json();
    EXPECT_TRUE(past.at("keys").as_array().empty());
    EXPECT_TRUE(past.at("next").is_null());
}

TEST(kv, pages_through_more_keys_than_the_default_limit)
{
    server_process srv(kv_args());
    std::vector<std::string> expected;
    {
        connection c(srv.port());
        for (int i = 0; i < 150; ++i) {
            char key[32];
            std::snprintf(key, sizeof key, "many/%04d", (i * 37) % 150);
            expected.emplace_back(key);
            auto r = c.request(make_request("PUT", std::string("/kv/") + key, {}, "v"));
            ASSERT_EQ(r.status(), 201u) << r;
        }
    }
    std::sort(expected.begin(), expected.end());
    auto first = get(srv.port(), "/kv?prefix=many%2F").json();
    EXPECT_EQ(first.at("keys").as_array().size(), 100u) << "the default limit is 100";
    EXPECT_TRUE(first.at("next").is_string());
    std::vector<std::vector<std::string>> pages;
    EXPECT_EQ(list_all(srv.port(), "many/", 1000, &pages), expected);
    EXPECT_EQ(pages.size(), 1u);
    pages.clear();
    EXPECT_EQ(list_all(srv.port(), "many/", 40, &pages), expected);
    EXPECT_EQ(pages.size(), 4u);
}

TEST(kv, refuses_a_limit_outside_1_to_1000_with_400)
{
    server_process srv(kv_args());
    for (std::string limit : {"0", "1001", "abc", "-1", "", "1.5", "+5", "99999999999999999999", "1%200"}) {
        SCOPED_TRACE("limit=" + limit);
        auto r = get(srv.port(), "/kv?limit=" + limit);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_NE(r.json().at("detail").as_string().find("limit"), boost::json::string::npos) << r;
        }
    }
    EXPECT_EQ(get(srv.port(), "/kv?limit=1").status(), 200u);
    EXPECT_EQ(get(srv.port(), "/kv?limit=1000").status(), 200u);
    // A parameter given twice is ambiguous.
    EXPECT_TRUE(is_problem(get(srv.port(), "/kv?prefix=a&prefix=b"), 400, "bad_request"));
}

TEST(kv, refuses_a_prefix_or_after_over_256_bytes_with_400)
{
    server_process srv(kv_args());
    std::string const k256(256, 'p');
    ASSERT_EQ(put(srv.port(), k256, "v").status(), 201u);
    auto ok = get(srv.port(), "/kv?prefix=" + k256);
    ASSERT_EQ(ok.status(), 200u) << ok;
    EXPECT_EQ(strings_of(ok.json().at("keys")), std::vector<std::string>{k256});
    EXPECT_EQ(get(srv.port(), "/kv?after=" + k256).status(), 200u);
    for (std::string name : {"prefix", "after"}) {
        SCOPED_TRACE(name);
        auto r = get(srv.port(), "/kv?" + name + "=" + std::string(257, 'p'));
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_NE(r.json().at("detail").as_string().find(name), boost::json::string::npos) << r;
        }
    }
}

TEST(kv, matches_percent_and_underscore_in_a_prefix_literally)
{
    server_process srv(kv_args());
    for (std::string k : {"a%b", "a%%", "a_b", "axb", "abc", "a\\b", "a\\_", "a%", "a_"})
        ASSERT_EQ(put(srv.port(), percent_encode(k), "v").status(), 201u) << k;
    EXPECT_EQ(list_all(srv.port(), "a%", 100), (std::vector<std::string>{"a%", "a%%", "a%b"}));
    EXPECT_EQ(list_all(srv.port(), "a_", 100), (std::vector<std::string>{"a_", "a_b"}));
    EXPECT_EQ(list_all(srv.port(), "a\\", 100), (std::vector<std::string>{"a\\_", "a\\b"}));
    EXPECT_EQ(list_all(srv.port(), "a%%", 100), (std::vector<std::string>{"a%%"}));
    EXPECT_TRUE(list_all(srv.port(), "%", 100).empty());
    EXPECT_TRUE(list_all(srv.port(), "_", 100).empty());
    // '+' in a query is a space, as in a form.
    ASSERT_EQ(put(srv.port(), "b%20c", "v").status(), 201u);
    auto plus = get(srv.port(), "/kv?prefix=b+").json();
    EXPECT_EQ(strings_of(plus.at("keys")), std::vector<std::string>{"b c"});
}

// ---- concurrency, the pool, the loop ------------------------------------------------------

// 8 clients × 200 PUTs of distinct keys at once, each client on one keep-alive
// connection; then every key read back with its value, and the listing complete.
void check_concurrent_puts(server_process& srv)
{
    constexpr int clients = 8;
    constexpr int per_client = 200;
    auto key_of = [](int c, int i) { return "conc/" + std::to_string(c) + "/" + std::to_string(i); };
    auto value_of = [](int c, int i) {
        std::string v = "value of client " + std::to_string(c) + " item " + std::to_string(i) + ":";
        v.append(static_cast<std::size_t>((c * 31 + i) % 97), static_cast<char>('a' + i % 26));
        return v;
    };
    double const completed_before = number_at(loop_snapshot(srv.port()), "blocking_pool/completed");

    std::latch start(clients);
    std::vector<std::future<std::pair<int, std::string>>> writers;  // (answers not 201, the first)
    auto const t0 = clock_type::now();
    for (int c = 0; c < clients; ++c) {
        writers.push_back(std::async(std::launch::async, [&, c] {
            std::pair<int, std::string> bad{0, {}};
            connection conn(srv.port());  // keep-alive: every PUT of this client on it
            start.arrive_and_wait();
            for (int i = 0; i < per_client; ++i) {
                auto r = conn.request(make_request("PUT", "/kv/" + key_of(c, i), {}, value_of(c, i)), false, 20s);
                if (r.status() != 201 || r.json().at("version").to_number<int>() != 1) {
                    if (bad.first++ == 0) {
                        std::ostringstream msg;
                        msg << key_of(c, i) << ": " << r;
                        bad.second = msg.str();
                    }
                }
            }
            return bad;
        }));
    }
    for (auto& w : writers) {
        auto [count, first] = w.get();
        EXPECT_EQ(count, 0) << first;
    }
    auto const write_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();

    // Every key, read back with its own value.
    std::vector<std::future<std::pair<int, std::string>>> readers;
    for (int c = 0; c < clients; ++c) {
        readers.push_back(std::async(std::launch::async, [&, c] {
            std::pair<int, std::string> bad{0, {}};
            connection conn(srv.port());
            for (int i = 0; i < per_client; ++i) {
                auto r = conn.get("/kv/" + key_of(c, i), {}, 20s);
                if (r.status() != 200 || r.body() != value_of(c, i) || !is_etag_of_version(r.header("ETag"), 1)) {
                    if (bad.first++ == 0) {
                        std::ostringstream msg;
                        msg << key_of(c, i) << ": " << r;
                        bad.second = msg.str();
                    }
                }
            }
            return bad;
        }));
    }
    for (auto& r : readers) {
        auto [count, first] = r.get();
        EXPECT_EQ(count, 0) << first;
    }

    std::vector<std::string> expected;
    for (int c = 0; c < clients; ++c)
        for (int i = 0; i < per_client; ++i)
            expected.push_back(key_of(c, i));
    std::sort(expected.begin(), expected.end());
    std::vector<std::vector<std::string>> pages;
    auto listed = list_all(srv.port(), "conc/", 1000, &pages);
    EXPECT_EQ(listed.size(), expected.size());
    EXPECT_TRUE(listed == expected) << "the listing is not every key once, in order";
    EXPECT_EQ(pages.size(), 2u);

    auto loop = loop_snapshot(srv.port());
    EXPECT_GE(number_at(loop, "blocking_pool/completed") - completed_before, 2.0 * clients * per_client)
        << boost::json::serialize(loop);
    EXPECT_EQ(number_at(loop, "blocking_pool/rejected"), 0);
    std::cout << "[ info     ] " << clients * per_client << " concurrent PUTs in " << write_ms << " ms\n";
}

TEST(kv, keeps_every_one_of_1600_concurrent_puts_from_8_clients_in_a_file)
{
    temp_dir dir;
    server_process srv(kv_args({"--db", dir.file("kv.db")}));
    check_concurrent_puts(srv);
}

TEST(kv, keeps_every_one_of_1600_concurrent_puts_from_8_clients_in_memory)
{
    server_process srv(kv_args({"--db", ":memory:"}));
    check_concurrent_puts(srv);
}

TEST(kv, counts_its_requests_in_the_blocking_pool)
{
    server_process srv(kv_args());
    auto completed = [&] { return number_at(loop_snapshot(srv.port()), "blocking_pool/completed"); };
    double const before = completed();
    ASSERT_EQ(put(srv.port(), "counted", "1").status(), 201u);
    EXPECT_TRUE(eventually([&] { return completed() == before + 1; }, 2s)) << completed() - before;
    ASSERT_EQ(get(srv.port(), "/kv/counted").status(), 200u);
    ASSERT_EQ(get(srv.port(), "/kv?prefix=c").status(), 200u);
    ASSERT_EQ(send(srv.port(), "DELETE", "/kv/counted").status(), 204u);
    EXPECT_TRUE(eventually([&] { return completed() == before + 4; }, 2s)) << completed() - before;
    // A request refused before the pool (a bad key) does not reach it.
    ASSERT_EQ(get(srv.port(), "/kv/%FF").status(), 400u);
    ASSERT_EQ(get(srv.port(), "/kv?limit=0").status(), 400u);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(completed(), before + 4);
}

TEST(kv, answers_503_at_once_when_the_blocking_pool_is_full)
{
    server_process srv(kv_args({"--blocking-threads", "1", "--blocking-queue", "0"}));
    auto sleeper = std::async(std::launch::async, [&] { return get(srv.port(), "/demo/io?ms=1500&mode=thread", {}, 8s); });
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "blocking_pool/busy") == 1; }, 3s));

    std::vector<std::pair<std::string, reply>> answers;
    answers.emplace_back("PUT", put(srv.port(), "shed", "x"));
    answers.emplace_back("GET", get(srv.port(), "/kv/shed"));
    answers.emplace_back("DELETE", send(srv.port(), "DELETE", "/kv/shed"));
    answers.emplace_back("LIST", get(srv.port(), "/kv"));
    for (auto const& [what, r] : answers) {
        SCOPED_TRACE(what);
        EXPECT_TRUE(is_problem(r, 503, "blocking_pool_full"));
        EXPECT_EQ(r.header("Retry-After"), "1") << r;
        EXPECT_LT(r.elapsed_ms(), 500.0) << "load shedding must not wait";
    }
    EXPECT_GE(number_at(loop_snapshot(srv.port()), "blocking_pool/rejected"), 4);
    EXPECT_EQ(sleeper.get().status(), 200u);
    // Nothing was written by the refused PUT; with the pool free again, it works.
    EXPECT_EQ(get(srv.port(), "/kv/shed").status(), 404u);
    EXPECT_EQ(put(srv.port(), "shed", "x").status(), 201u);
}

TEST(kv, does_not_delay_ping_while_the_blocking_pool_is_saturated)
{
    server_process srv(kv_args({"--blocking-threads", "2"}));
    std::vector<std::future<reply>> sleeps;
    for (int i = 0; i < 4; ++i)
        sleeps.push_back(std::async(std::launch::async,
                                    [&] { return get(srv.port(), "/demo/io?ms=1000&mode=thread", {}, 10s); }));
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "blocking_pool/busy") == 2; }, 3s));

    // kv traffic queued behind the sleeps, on keep-alive connections.
    std::atomic<bool> stop{false};
    std::vector<std::future<std::pair<int, int>>> traffic;  // (answered 200/201, other)
    for (int t = 0; t < 2; ++t) {
        traffic.push_back(std::async(std::launch::async, [&, t] {
            std::pair<int, int> n{0, 0};
            connection c(srv.port());
            for (int i = 0; !stop.load() || i < 1; ++i) {
                auto key = "/kv/sat/" + std::to_string(t) + "/" + std::to_string(i % 10);
                auto r = c.request(make_request("PUT", key, {}, std::string(100, 'v')), false, 10s);
                auto g = c.get(key, {}, 10s);
                bool ok = (r.status() == 200 || r.status() == 201) && g.status() == 200;
                ++(ok ? n.first : n.second);
            }
            return n;
        }));
    }
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "blocking_pool/queued") >= 3; }, 3s))
        << boost::json::serialize(loop_snapshot(srv.port()));

    connection c(srv.port());
    double worst = 0;
    for (int i = 0; i < 20; ++i) {
        auto r = c.get("/ping");
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.body(), "pong\n");
        EXPECT_LT(r.elapsed_ms(), 50.0) << "ping " << i;
        worst = std::max(worst, r.elapsed_ms());
        std::this_thread::sleep_for(20ms);
    }
    auto loop = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(loop, "blocking_pool/busy"), 2) << "the pool was not saturated: "
                                                         << boost::json::serialize(loop);
    EXPECT_LT(number_at(loop, "lag_ms/max"), 50.0) << boost::json::serialize(loop);

    stop = true;
    for (auto& s : sleeps) {
        auto r = s.get();
        EXPECT_EQ(r.status(), 200u) << r;
    }
    for (auto& t : traffic) {
        auto [ok, bad] = t.get();
        EXPECT_GE(ok, 1);
        EXPECT_EQ(bad, 0);
    }
    std::cout << "[ info     ] worst ping " << worst << " ms while the blocking pool was saturated\n";
}

}  // namespace
