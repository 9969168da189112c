// User functions of store::database, against a real temporary database file.
#include "steadyloop/store/database.hpp"

#include "temp_dir.hpp"


#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace steadyloop;
namespace fs = std::filesystem;

namespace {

class users : public ::testing::Test {
protected:
    users()
    {
        db_ = store::database::blocking_open(dir_.file("users.db"));
    }
    ~users() override
    {
        db_.reset();  // before its folder goes
    }

    test::temp_dir dir_{"steadyloop-users"};
    std::unique_ptr<store::database> db_;
};

// "YYYY-MM-DDTHH:MM:SSZ", digits where the shape has a 'd'.
bool iso8601_utc_seconds(std::string const& text)
{
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:ddZ";
    if (text.size() != shape.size())
        return false;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        bool ok = shape[i] == 'd' ? text[i] >= '0' && text[i] <= '9' : text[i] == shape[i];
        if (!ok)
            return false;
    }
    return true;
}

// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ".
std::time_t parse_utc(std::string const& text)
{
    std::tm tm{};
    ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return ::timegm(&tm);
}

}  // namespace

TEST_F(users, creates_and_finds_a_user)
{
    auto created = db_->blocking_create_user("alice", "$argon2id$v=19$m=19456,t=2,p=1$salt$hash");
    ASSERT_TRUE(created);
    EXPECT_GT(created->id, 0);
    EXPECT_EQ(created->username, "alice");
    EXPECT_TRUE(iso8601_utc_seconds(created->created_at)) << created->created_at;
    auto now = std::time(nullptr);
    EXPECT_LE(std::abs(parse_utc(created->created_at) - now), 5);

    auto found = db_->blocking_find_user("alice");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, created->id);
    EXPECT_EQ(found->username, "alice");
    EXPECT_EQ(found->created_at, created->created_at);
}

TEST_F(users, ids_are_distinct)
{
    auto a = db_->blocking_create_user("alice", "h1");
    auto b = db_->blocking_create_user("bob", "h2");
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->id, b->id);
    EXPECT_EQ(db_->blocking_find_user("bob")->id, b->id);
}

TEST_F(users, a_taken_username_is_refused_and_keeps_its_hash)
{
    ASSERT_TRUE(db_->blocking_create_user("alice", "first-hash"));
    EXPECT_FALSE(db_->blocking_create_user("alice", "second-hash"));
    EXPECT_EQ(db_->blocking_find_login("alice")->second, "first-hash");
    // Byte by byte: another case is another name.
    EXPECT_TRUE(db_->blocking_create_user("Alice", "third-hash"));
}

TEST_F(users, unknown_users_are_absent)
{
    EXPECT_FALSE(db_->blocking_find_user("nobody"));
    EXPECT_FALSE(db_->blocking_find_login("nobody"));
}

TEST_F(users, find_login_returns_the_hash)
{
    auto created = db_->blocking_create_user("carol", "$argon2id$the-hash");
    ASSERT_TRUE(created);
    auto login = db_->blocking_find_login("carol");
    ASSERT_TRUE(login);
    EXPECT_EQ(login->first.id, created->id);
    EXPECT_EQ(login->first.username, "carol");
    EXPECT_EQ(login->first.created_at, created->created_at);
    EXPECT_EQ(login->second, "$argon2id$the-hash");
}

TEST_F(users, two_threads_racing_for_a_name_one_wins)
{
    // 100 names, each raced for by two threads released together.
    constexpr int names = 100;
    std::atomic<int> wins[names] = {};
    std::atomic<int> go{0};
    auto racer = [&](char const* hash) {
        while (go.load() == 0) {
        }
        for (int i = 0; i < names; ++i)
            if (db_->blocking_create_user("user" + std::to_string(i), hash))
                ++wins[i];
    };
    std::thread a(racer, "hash-a");
    std::thread b(racer, "hash-b");
    go = 1;
    a.join();
    b.join();
    for (int i = 0; i < names; ++i)
        EXPECT_EQ(wins[i].load(), 1) << "user" << i;
}

TEST_F(users, eight_threads_racing_for_one_name_one_wins)
{
    std::atomic<int> wins{0};
    std::vector<std::thread> racers;
    for (int t = 0; t < 8; ++t)
        racers.emplace_back([&, t] {
            if (db_->blocking_create_user("popular", "hash-" + std::to_string(t)))
                ++wins;
        });
    for (auto& r : racers)
        r.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_TRUE(db_->blocking_find_user("popular"));
}
