#include "steadyloop/obs/logging.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

using steadyloop::obs::json_quote;
using steadyloop::obs::valid_utf8;

TEST(valid_utf8, keeps_valid_text_as_it_is)
{
    EXPECT_EQ(valid_utf8("plain /kv/a?b=c"), "plain /kv/a?b=c");
    EXPECT_EQ(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(valid_utf8, replaces_each_invalid_byte)
{
    std::string const fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(valid_utf8("a\xFF" "b"), "a" + fffd + "b");
    EXPECT_EQ(valid_utf8("\xC3"), fffd);                        // truncated sequence
    EXPECT_EQ(valid_utf8("\xC0\xAF"), fffd + fffd);             // overlong '/'
    EXPECT_EQ(valid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);  // a UTF-16 surrogate
    EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
}

TEST(json_quote, always_makes_parseable_json)
{
    for (std::string s : {std::string("x\"y\\z\n"), std::string("\xFF\xFE"), std::string("a\0b", 3)}) {
        auto quoted = json_quote(s);
        EXPECT_NO_THROW(boost::json::parse(quoted)) << quoted;
    }
}
