// Key-value functions of store::database, against a real temporary database file.
#include "steadyloop/store/database.hpp"

#include "temp_dir.hpp"


#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace steadyloop;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

// A database file in a fresh temporary folder, removed afterwards.
class kv_store : public ::testing::Test {
protected:
    kv_store()
    {
        db_ = store::database::blocking_open(dir_.file("kv.db"));
    }
    ~kv_store() override
    {
        db_.reset();  // before its folder goes
    }

    // Every key, page by page.
    std::vector<std::string> all_keys(std::string_view prefix, std::size_t limit)
    {
        std::vector<std::string> keys;
        std::optional<std::string> after;
        for (int pages = 0; pages < 10000; ++pages) {
            auto page = db_->blocking_list(prefix, limit, after);
            keys.insert(keys.end(), page.keys.begin(), page.keys.end());
            if (!page.next)
                break;
            after = page.next;
        }
        return keys;
    }

    void put_all(std::vector<std::string> const& keys)
    {
        for (auto const& k : keys)
            db_->blocking_put(k, "v", "text/plain");
    }

    test::temp_dir dir_{"steadyloop-kv"};
    std::unique_ptr<store::database> db_;
};

std::string numbered(char const* stem, int i)
{
    char text[32];
    std::snprintf(text, sizeof text, "%s%03d", stem, i);
    return text;
}

}  // namespace

TEST_F(kv_store, puts_gets_and_erases)
{
    auto put = db_->blocking_put("greeting", "hello", "text/plain; charset=utf-8");
    EXPECT_TRUE(put.created);
    EXPECT_EQ(put.version, 1);
    EXPECT_EQ(put.bytes, 5u);

    auto entry = db_->blocking_get("greeting");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->key, "greeting");
    EXPECT_EQ(entry->value, "hello");
    EXPECT_EQ(entry->content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(entry->version, 1);

    EXPECT_TRUE(db_->blocking_erase("greeting"));
    EXPECT_FALSE(db_->blocking_get("greeting"));
    EXPECT_FALSE(db_->blocking_erase("greeting"));
}

TEST_F(kv_store, missing_keys_are_absent)
{
    EXPECT_FALSE(db_->blocking_get("nothing"));
    EXPECT_FALSE(db_->blocking_erase("nothing"));
}

TEST_F(kv_store, replacing_increments_the_version_and_keeps_the_new_type)
{
    EXPECT_TRUE(db_->blocking_put("k", "one", "text/plain").created);
    for (std::int64_t v = 2; v <= 5; ++v) {
        auto put = db_->blocking_put("k", "value " + std::to_string(v), "application/json");
        EXPECT_FALSE(put.created);
        EXPECT_EQ(put.version, v);
    }
    auto entry = db_->blocking_get("k");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->value, "value 5");
    EXPECT_EQ(entry->content_type, "application/json");
    EXPECT_EQ(entry->version, 5);
}

TEST_F(kv_store, a_key_created_again_starts_over)
{
    db_->blocking_put("k", "a", "text/plain");
    db_->blocking_put("k", "b", "text/plain");
    db_->blocking_erase("k");
    auto put = db_->blocking_put("k", "c", "text/plain");
    EXPECT_TRUE(put.created);
    EXPECT_EQ(put.version, 1);
}

TEST_F(kv_store, versions_are_per_key)
{
    db_->blocking_put("a", "1", "text/plain");
    db_->blocking_put("a", "2", "text/plain");
    EXPECT_EQ(db_->blocking_put("b", "1", "text/plain").version, 1);
    EXPECT_EQ(db_->blocking_put("a", "3", "text/plain").version, 3);
}

TEST_F(kv_store, keys_and_values_keep_nul_bytes)
{
    auto key = "a\0b"s;
    auto value = "\0\0binary\0\xff\x01"s;
    EXPECT_TRUE(db_->blocking_put(key, value, "application/octet-stream").created);
    EXPECT_TRUE(db_->blocking_put("a", "plain a", "text/plain").created);
    EXPECT_TRUE(db_->blocking_put("a\0"s, "a and a NUL", "text/plain").created);

    auto entry = db_->blocking_get(key);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->key, key);
    EXPECT_EQ(entry->value, value);
    EXPECT_EQ(entry->value.size(), 11u);
    EXPECT_EQ(db_->blocking_get("a")->value, "plain a");
    EXPECT_EQ(db_->blocking_get("a\0"s)->value, "a and a NUL");
    EXPECT_FALSE(db_->blocking_get("a\0c"s));

    auto page = db_->blocking_list("a", 10);
    EXPECT_EQ(page.keys, (std::vector{"a"s, "a\0"s, "a\0b"s}));
    EXPECT_EQ(db_->blocking_list("a\0"s, 10).keys, (std::vector{"a\0"s, "a\0b"s}));

    EXPECT_TRUE(db_->blocking_erase(key));
    EXPECT_TRUE(db_->blocking_get("a\0"s));
}

TEST_F(kv_store, stores_empty_and_large_values)
{
    auto put = db_->blocking_put("empty", "", "application/octet-stream");
    EXPECT_EQ(put.bytes, 0u);
    auto empty = db_->blocking_get("empty");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->value, "");

    std::string big(1024 * 1024, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4096)
        big[i] = static_cast<char>(i / 4096);
    EXPECT_EQ(db_->blocking_put("big", big, "application/octet-stream").bytes, big.size());
    EXPECT_EQ(db_->blocking_get("big")->value, big);
}

TEST_F(kv_store, pages_in_key_order)
{
    std::vector<std::string> keys;
    for (int i = 0; i < 250; ++i)
        keys.push_back(numbered("key-", i));
    // Written out of order.
    std::vector<std::string> shuffled = keys;
    std::reverse(shuffled.begin(), shuffled.end());
    std::rotate(shuffled.begin(), shuffled.begin() + 97, shuffled.end());
    put_all(shuffled);

    auto first = db_->blocking_list("", 100);
    ASSERT_EQ(first.keys.size(), 100u);
    EXPECT_EQ(first.keys, std::vector(keys.begin(), keys.begin() + 100));
    ASSERT_TRUE(first.next);
    EXPECT_EQ(*first.next, "key-099");

    auto second = db_->blocking_list("", 100, *first.next);
    EXPECT_EQ(second.keys, std::vector(keys.begin() + 100, keys.begin() + 200));
    ASSERT_TRUE(second.next);
    EXPECT_EQ(*second.next, "key-199");

    auto third = db_->blocking_list("", 100, *second.next);
    EXPECT_EQ(third.keys, std::vector(keys.begin() + 200, keys.end()));
    EXPECT_FALSE(third.next);
}

TEST_F(kv_store, a_last_page_that_is_exactly_full_has_no_next)
{
    for (int i = 0; i < 200; ++i)
        db_->blocking_put(numbered("k", i), "v", "text/plain");
    auto first = db_->blocking_list("", 100);
    ASSERT_TRUE(first.next);
    auto second = db_->blocking_list("", 100, *first.next);
    EXPECT_EQ(second.keys.size(), 100u);
    EXPECT_FALSE(second.next);
    EXPECT_TRUE(db_->blocking_list("", 100, "k199").keys.empty());
}

TEST_F(kv_store, lists_in_byte_order)
{
    // Unsigned bytes: uppercase < lowercase < multi-byte UTF-8; a shorter key first.
    put_all({"\xc3\xa9t\xc3\xa9", "b", "B", "a", "ab", "a\x7f", "\xf0\x9f\x99\x82", "Z"});
    EXPECT_EQ(all_keys("", 3),
              (std::vector{"B"s, "Z"s, "a"s, "ab"s, "a\x7f"s, "b"s, "\xc3\xa9t\xc3\xa9"s, "\xf0\x9f\x99\x82"s}));
}

TEST_F(kv_store, lists_by_prefix_without_wildcards)
{
    put_all({"100%", "100%done", "100x", "1000", "a_b", "a_c", "axb", "a", "%", "_", "%%", "a%"});
    EXPECT_EQ(db_->blocking_list("100%", 10).keys, (std::vector{"100%"s, "100%done"s}));
    EXPECT_EQ(db_->blocking_list("a_", 10).keys, (std::vector{"a_b"s, "a_c"s}));
    EXPECT_EQ(db_->blocking_list("%", 10).keys, (std::vector{"%"s, "%%"s}));
    EXPECT_EQ(db_->blocking_list("_", 10).keys, (std::vector{"_"s}));
    EXPECT_EQ(db_->blocking_list("a%", 10).keys, (std::vector{"a%"s}));
    EXPECT_TRUE(db_->blocking_list("zzz", 10).keys.empty());
}

TEST_F(kv_store, lists_by_a_multibyte_prefix)
{
    // "café" (c3 a9), "cafe", "caf\xc3\xaa" (ê), and "caf\xc3" alone as a key.
    put_all({"caf\xc3\xa9/1", "caf\xc3\xa9/2", "caf\xc3\xa9", "cafe", "caf\xc3\xaa", "cag", "caf"});
    EXPECT_EQ(db_->blocking_list("caf\xc3\xa9", 10).keys,
              (std::vector{"caf\xc3\xa9"s, "caf\xc3\xa9/1"s, "caf\xc3\xa9/2"s}));
    EXPECT_EQ(db_->blocking_list("caf\xc3", 10).keys,
              (std::vector{"caf\xc3\xa9"s, "caf\xc3\xa9/1"s, "caf\xc3\xa9/2"s, "caf\xc3\xaa"s}));
    EXPECT_EQ(db_->blocking_list("caf", 2).keys, (std::vector{"caf"s, "cafe"s}));
    EXPECT_EQ(all_keys("caf", 2).size(), 6u);
}

TEST_F(kv_store, lists_by_a_prefix_ending_in_ff_bytes)
{
    put_all({"a\xfe", "a\xfe\xff", "a\xff", "a\xff\xff", "a\xff\xff\xff", "a\xff" "z", "b", "\xff", "\xff\xff", "\xff\xff" "a"});
    EXPECT_EQ(db_->blocking_list("a\xff", 10).keys,
              (std::vector{"a\xff"s, "a\xff" "z"s, "a\xff\xff"s, "a\xff\xff\xff"s}));
    EXPECT_EQ(db_->blocking_list("a\xfe", 10).keys, (std::vector{"a\xfe"s, "a\xfe\xff"s}));
    // No upper bound exists for an all-0xFF prefix.
    EXPECT_EQ(db_->blocking_list("\xff", 10).keys, (std::vector{"\xff"s, "\xff\xff"s, "\xff\xff" "a"s}));
    EXPECT_EQ(db_->blocking_list("\xff\xff", 10).keys, (std::vector{"\xff\xff"s, "\xff\xff" "a"s}));
    EXPECT_EQ(all_keys("a\xff", 1).size(), 4u);
}

TEST_F(kv_store, after_outside_the_prefix)
{
    put_all({"a1", "b1", "b2", "b3", "c1"});
    // Before the prefix: the whole prefix; inside: strictly after; past it: nothing.
    EXPECT_EQ(db_->blocking_list("b", 10, "a9").keys, (std::vector{"b1"s, "b2"s, "b3"s}));
    EXPECT_EQ(db_->blocking_list("b", 10, "b1").keys, (std::vector{"b2"s, "b3"s}));
    EXPECT_EQ(db_->blocking_list("b", 10, "b15").keys, (std::vector{"b2"s, "b3"s}));
    EXPECT_TRUE(db_->blocking_list("b", 10, "b3").keys.empty());
    EXPECT_TRUE(db_->blocking_list("b", 10, "c").keys.empty());
    EXPECT_EQ(db_->blocking_list("", 10, "b2").keys, (std::vector{"b3"s, "c1"s}));
}

TEST_F(kv_store, a_zero_limit_is_refused)
{
    EXPECT_THROW(db_->blocking_list("", 0), std::invalid_argument);
}

TEST_F(kv_store, concurrent_puts_from_eight_threads_are_all_kept)
{
    constexpr int threads = 8;
    constexpr int per_thread = 200;
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
        writers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                try {
                    auto key = "t" + std::to_string(t) + "/" + numbered("", i);
                    if (!db_->blocking_put(key, key, "text/plain").created)
                        ++failures;
                } catch (std::exception const& e) {
                    ADD_FAILURE() << e.what();
                    ++failures;
                }
            }
        });
    }
    for (auto& w : writers)
        w.join();
    EXPECT_EQ(failures.load(), 0);

    auto keys = all_keys("", 1000);
    EXPECT_EQ(keys.size(), std::size_t{threads * per_thread});
    for (int t = 0; t < threads; ++t) {
        for (int i = 0; i < per_thread; ++i) {
            auto key = "t" + std::to_string(t) + "/" + numbered("", i);
            auto entry = db_->blocking_get(key);
            ASSERT_TRUE(entry) << key;
            EXPECT_EQ(entry->value, key);
        }
    }
}

TEST_F(kv_store, concurrent_writes_to_one_key_count_every_version)
{
    constexpr int threads = 4;
    constexpr int per_thread = 100;
    std::vector<std::thread> writers;
    std::atomic<int> created{0};
    for (int t = 0; t < threads; ++t)
        writers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i)
                if (db_->blocking_put("shared", "x", "text/plain").created)
                    ++created;
        });
    for (auto& w : writers)
        w.join();
    EXPECT_EQ(created.load(), 1);
    EXPECT_EQ(db_->blocking_get("shared")->version, threads * per_thread);
}

TEST(kv_store_memory, concurrent_puts_from_eight_threads_are_all_kept)
{
    auto db = store::database::blocking_open(":memory:");
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t)
        writers.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i)
                db->blocking_put(std::to_string(t) + "/" + std::to_string(i), "v", "text/plain");
        });
    for (auto& w : writers)
        w.join();
    std::size_t count = 0;
    std::optional<std::string> after;
    do {
        auto page = db->blocking_list("", 1000, after);
        count += page.keys.size();
        after = page.next;
    } while (after);
    EXPECT_EQ(count, 1600u);
}
