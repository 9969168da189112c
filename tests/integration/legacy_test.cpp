// /legacy/resolve over HTTP: getaddrinfo() in the blocking pool, addresses de-duplicated,
// unknown names 404, invalid names refused before the resolver is called.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"
#include "store_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <future>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace itest;

double completed(unsigned short port) { return number_at(loop_snapshot(port), "blocking_pool/completed"); }

bool is_ip_address(std::string const& s)
{
    unsigned char buf[16];
    return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

TEST(legacy_resolve, resolves_localhost_without_duplicates)
{
    server_process srv({"--workers", "1"});
    auto r = get(srv.port(), "/legacy/resolve?host=localhost");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    auto j = r.json();
    EXPECT_EQ(j.size(), 2u) << r;
    EXPECT_EQ(j.at("host").as_string(), "localhost");
    auto addresses = strings_of(j.at("addresses"));
    EXPECT_NE(std::find(addresses.begin(), addresses.end(), "127.0.0.1"), addresses.end()) << r;
    EXPECT_EQ(std::set<std::string>(addresses.begin(), addresses.end()).size(), addresses.size())
        << "duplicates in " << r;
    for (auto const& a : addresses)
        EXPECT_TRUE(is_ip_address(a)) << a;

    // Numeric hosts, IPv4 and IPv6, come back as themselves.
    auto v4 = get(srv.port(), "/legacy/resolve?host=127.0.0.1");
    ASSERT_EQ(v4.status(), 200u) << v4;
    EXPECT_EQ(strings_of(v4.json().at("addresses")), std::vector<std::string>{"127.0.0.1"});
    auto v6 = get(srv.port(), "/legacy/resolve?host=%3A%3A1");
    ASSERT_EQ(v6.status(), 200u) << v6;
    EXPECT_EQ(v6.json().at("host").as_string(), "::1");
    EXPECT_EQ(strings_of(v6.json().at("addresses")), std::vector<std::string>{"::1"});

    auto h = head(srv.port(), "/legacy/resolve?host=localhost");
    EXPECT_EQ(h.status(), 200u) << h;
    EXPECT_TRUE(h.body().empty());
}

TEST(legacy_resolve, answers_404_host_not_found_for_an_unknown_name)
{
    server_process srv({"--workers", "1"});
    auto r = get(srv.port(), "/legacy/resolve?host=no-such-host.invalid", {}, 15s);
    EXPECT_TRUE(is_problem(r, 404, "host_not_found"));
    EXPECT_TRUE(has_standard_headers(r));
}

TEST(legacy_resolve, refuses_an_invalid_host_with_400_without_calling_the_resolver)
{
    server_process srv({"--workers", "1"});
    double const before = completed(srv.port());
    std::vector<std::string> const targets{
        "/legacy/resolve",
        "/legacy/resolve?host=",
        "/legacy/resolve?host=local%20host",
        "/legacy/resolve?host=local+host",
        "/legacy/resolve?host=%20localhost",
        "/legacy/resolve?host=" + std::string(300, 'a'),
        "/legacy/resolve?host=" + std::string(254, 'a'),
        "/legacy/resolve?host=" + std::string(64, 'a') + ".example",
        "/legacy/resolve?host=a..b",
        "/legacy/resolve?host=.localhost",
        "/legacy/resolve?host=local%00host",
        "/legacy/resolve?host=caf%C3%A9.example",
        "/legacy/resolve?host=a/b",
        "/legacy/resolve?host=localhost&host=localhost",
        "/legacy/resolve?other=localhost",
    };
    for (auto const& target : targets) {
        SCOPED_TRACE(target.substr(0, 80));
        auto r = get(srv.port(), target);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_NE(r.json().at("detail").as_string().find("'host'"), boost::json::string::npos) << r;
        }
        EXPECT_LT(r.elapsed_ms(), 200.0) << "refused without a lookup, at once";
    }
    EXPECT_EQ(completed(srv.port()), before) << "an invalid host reached the blocking pool";
}

TEST(legacy_resolve, counts_every_lookup_in_the_blocking_pool)
{
    server_process srv({"--workers", "1"});
    double const before = completed(srv.port());
    ASSERT_EQ(get(srv.port(), "/legacy/resolve?host=localhost").status(), 200u);
    EXPECT_TRUE(eventually([&] { return completed(srv.port()) == before + 1; }, 2s)) << completed(srv.port()) - before;
    ASSERT_EQ(get(srv.port(), "/legacy/resolve?host=127.0.0.1").status(), 200u);
    ASSERT_EQ(get(srv.port(), "/legacy/resolve?host=no-such-host.invalid", {}, 15s).status(), 404u);
    EXPECT_TRUE(eventually([&] { return completed(srv.port()) == before + 3; }, 2s)) << completed(srv.port()) - before;
    auto loop = loop_snapshot(srv.port());
    EXPECT_EQ(number_at(loop, "blocking_pool/busy"), 0);
    EXPECT_EQ(number_at(loop, "blocking_pool/rejected"), 0);
}

TEST(legacy_resolve, answers_503_at_once_when_the_blocking_pool_is_full)
{
    server_process srv({"--workers", "1", "--blocking-threads", "1", "--blocking-queue", "0"});
    auto sleeper = std::async(std::launch::async, [&] { return get(srv.port(), "/demo/io?ms=800&mode=thread", {}, 8s); });
    ASSERT_TRUE(eventually([&] { return number_at(loop_snapshot(srv.port()), "blocking_pool/busy") == 1; }, 3s));
    auto r = get(srv.port(), "/legacy/resolve?host=localhost");
    EXPECT_TRUE(is_problem(r, 503, "blocking_pool_full"));
    EXPECT_EQ(r.header("Retry-After"), "1") << r;
    EXPECT_EQ(sleeper.get().status(), 200u);
    EXPECT_EQ(get(srv.port(), "/legacy/resolve?host=localhost").status(), 200u);
}

}  // namespace
