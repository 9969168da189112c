#include "steadyloop/legacy/resolve.hpp"

#include <gtest/gtest.h>

#include <netdb.h>

#include <algorithm>
#include <set>
#include <string>

using namespace steadyloop::legacy;

TEST(valid_host_name, accepts_names_and_address_literals)
{
    for (auto* h : {"localhost", "example.com", "a-b.c_d.example", "127.0.0.1", "::1", "fe80::1", "x"})
        EXPECT_TRUE(valid_host_name(h)) << h;
}

TEST(valid_host_name, refuses_what_is_no_host_name)
{
    std::string long_label(64, 'a');
    std::string too_long(254, 'a');
    for (std::string h : {std::string(), std::string("with space"), std::string("a..b"), std::string(".lead"),
                          std::string("semi;colon"), std::string("slash/x"), std::string("nul\0x", 5),
                          std::string("caf\xC3\xA9"), long_label + ".com", too_long})
        EXPECT_FALSE(valid_host_name(h)) << h;
}

TEST(blocking_resolve, resolves_localhost_without_duplicates)
{
    auto r = blocking_resolve("localhost");
    ASSERT_EQ(r.error, 0) << gai_strerror(r.error);
    ASSERT_FALSE(r.addresses.empty());
    EXPECT_NE(std::find(r.addresses.begin(), r.addresses.end(), "127.0.0.1"), r.addresses.end());
    std::set<std::string> unique(r.addresses.begin(), r.addresses.end());
    EXPECT_EQ(unique.size(), r.addresses.size());
}

TEST(blocking_resolve, passes_address_literals_through)
{
    auto r = blocking_resolve("::1");
    ASSERT_EQ(r.error, 0);
    EXPECT_EQ(r.addresses, std::vector<std::string>{"::1"});
}

TEST(blocking_resolve, reports_an_unknown_name)
{
    // The .invalid top-level domain never resolves (RFC 6761).
    auto r = blocking_resolve("no-such-host.invalid");
    EXPECT_NE(r.error, 0);
    EXPECT_TRUE(r.addresses.empty());
}
