#include "steadyloop/store/database.hpp"

#include "temp_dir.hpp"
#include "steadyloop/loop/loop_thread.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

using namespace steadyloop;
namespace fs = std::filesystem;

using test::temp_dir;

namespace {


std::string read_file(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(std::string const& path, std::string const& bytes)
{
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

std::int64_t pragma(store::connection& conn, char const* sql)
{
    auto st = conn.prepare(sql);
    EXPECT_TRUE(st.step()) << sql;
    return st.column_int64(0);
}

std::string pragma_text(store::connection& conn, char const* sql)
{
    auto st = conn.prepare(sql);
    EXPECT_TRUE(st.step()) << sql;
    return st.column_text(0);
}

bool has_table(store::connection& conn, std::string const& name)
{
    auto st = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    st.bind_text(1, name);
    return st.step();
}

// The message of the open_error that opening `path` throws, or "" when it opens.
std::string open_failure(std::string const& path)
{
    try {
        store::database::blocking_open(path);
    } catch (store::open_error const& e) {
        return e.what();
    }
    return "";
}

class store_database : public ::testing::Test {};

}  // namespace

TEST_F(store_database, creates_its_folder_and_migrates_a_new_file)
{
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("data/nested/steadyloop.db");
    auto db = store::database::blocking_open(path);
    EXPECT_TRUE(fs::is_regular_file(path));
    EXPECT_EQ(db->path(), path);
    EXPECT_FALSE(db->in_memory());
    auto& conn = db->blocking_connection();
    EXPECT_EQ(pragma(conn, "PRAGMA user_version"), store::database::schema_version);
    EXPECT_TRUE(has_table(conn, "kv"));
    EXPECT_TRUE(has_table(conn, "users"));
}

TEST_F(store_database, migrates_an_empty_file)
{
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("empty.db");
    write_file(path, "");
    ASSERT_EQ(fs::file_size(path), 0u);
    auto db = store::database::blocking_open(path);
    auto& conn = db->blocking_connection();
    EXPECT_EQ(pragma(conn, "PRAGMA user_version"), 1);
    EXPECT_TRUE(has_table(conn, "kv"));
    EXPECT_TRUE(has_table(conn, "users"));
    EXPECT_GT(fs::file_size(path), 0u);
}

TEST_F(store_database, a_file_is_in_wal_mode_and_every_connection_has_the_settings)
{
    temp_dir dir{"steadyloop-store"};
    auto db = store::database::blocking_open(dir.file("wal.db"));
    EXPECT_EQ(pragma_text(db->blocking_connection(), "PRAGMA journal_mode"), "wal");
    // A connection opened later, on another thread, gets the same settings.
    std::thread([&] {
        auto& conn = db->blocking_connection();
        EXPECT_EQ(pragma_text(conn, "PRAGMA journal_mode"), "wal");
        EXPECT_EQ(pragma(conn, "PRAGMA synchronous"), 1);  // NORMAL
        EXPECT_EQ(pragma(conn, "PRAGMA foreign_keys"), 1);
        EXPECT_EQ(pragma(conn, "PRAGMA busy_timeout"), 5000);
    }).join();
}

TEST_F(store_database, each_thread_has_its_own_connection)
{
    temp_dir dir{"steadyloop-store"};
    auto db = store::database::blocking_open(dir.file("threads.db"));
    store::connection* here = &db->blocking_connection();
    EXPECT_EQ(&db->blocking_connection(), here);
    store::connection* there = nullptr;
    std::thread([&] { there = &db->blocking_connection(); }).join();
    EXPECT_NE(there, here);
    // Two databases used alternately by one thread keep their own connections.
    auto other = store::database::blocking_open(dir.file("other.db"));
    EXPECT_NE(&other->blocking_connection(), here);
    EXPECT_EQ(&db->blocking_connection(), here);
}

TEST_F(store_database, reopening_keeps_the_data)
{
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("keep.db");
    {
        auto db = store::database::blocking_open(path);
        db->blocking_put("greeting", "hello", "text/plain");
        db->blocking_put("greeting", "hello again", "text/plain");
        ASSERT_TRUE(db->blocking_create_user("alice", "$argon2id$hash"));
    }
    auto db = store::database::blocking_open(path);
    auto entry = db->blocking_get("greeting");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->value, "hello again");
    EXPECT_EQ(entry->version, 2);
    auto alice = db->blocking_find_user("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->id, 1);
    EXPECT_EQ(pragma(db->blocking_connection(), "PRAGMA user_version"), 1);
}

TEST_F(store_database, refuses_a_file_that_is_not_a_database_and_leaves_it_untouched)
{
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("garbage.db");
    std::mt19937 rng(42);
    std::string garbage(8192, '\0');
    for (auto& c : garbage)
        c = static_cast<char>(rng());
    write_file(path, garbage);

    auto message = open_failure(path);
    EXPECT_EQ(message, path + ": not an SQLite database");
    EXPECT_EQ(read_file(path), garbage);
    EXPECT_FALSE(fs::exists(path + "-wal"));
    EXPECT_FALSE(fs::exists(path + "-shm"));
    EXPECT_FALSE(fs::exists(path + "-journal"));
}

TEST_F(store_database, refuses_a_short_text_file)
{
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("notes.txt");
    write_file(path, "these are my notes, not a database\n");
    EXPECT_EQ(open_failure(path), path + ": not an SQLite database");
    EXPECT_EQ(read_file(path), "these are my notes, not a database\n");
}

TEST_F(store_database, refuses_a_newer_schema)
{
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("future.db");
    store::database::blocking_open(path)->blocking_connection().exec("PRAGMA user_version = 99");
    auto message = open_failure(path);
    EXPECT_EQ(message, path + ": database schema version 99 is newer than this steadyloop knows (1)");
    // Nothing was migrated down or over.
    store::connection conn(path, SQLITE_OPEN_READONLY, std::chrono::milliseconds(100));
    EXPECT_EQ(pragma(conn, "PRAGMA user_version"), 99);
}

TEST_F(store_database, refuses_a_folder_that_cannot_be_created)
{
    // A path below a regular file can never be created, whoever runs the test (root too).
    temp_dir dir{"steadyloop-store"};
    auto blocker = dir.file("plain-file");
    write_file(blocker, "x");
    auto path = blocker + "/sub/steadyloop.db";
    auto message = open_failure(path);
    EXPECT_EQ(message, path + ": cannot create its folder " + blocker + "/sub: Not a directory");
    EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST_F(store_database, refuses_a_folder_that_cannot_be_written)
{
    if (::geteuid() == 0)
        GTEST_SKIP() << "root writes into any folder";
    temp_dir dir{"steadyloop-store"};
    auto locked = dir.path() / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    auto path = (locked / "steadyloop.db").string();
    auto message = open_failure(path);
    EXPECT_EQ(message, path + ": cannot write in its folder " + locked.string() + ": Permission denied");
    EXPECT_FALSE(fs::exists(path));

    // A database already there cannot work in WAL mode either: its -wal and -shm go there.
    fs::permissions(locked, fs::perms::owner_all);
    store::database::blocking_open(path);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    message = open_failure(path);
    fs::permissions(locked, fs::perms::owner_all);
    EXPECT_EQ(message, path + ": cannot write in its folder " + locked.string() + ": Permission denied");
}

TEST_F(store_database, refuses_a_read_only_file)
{
    if (::geteuid() == 0)
        GTEST_SKIP() << "root writes into any file";
    temp_dir dir{"steadyloop-store"};
    auto path = dir.file("readonly.db");
    store::database::blocking_open(path);
    fs::permissions(path, fs::perms::owner_read);
    EXPECT_EQ(open_failure(path), path + ": the database file cannot be written");
}

TEST_F(store_database, refuses_a_folder_as_the_file)
{
    temp_dir dir{"steadyloop-store"};
    auto message = open_failure(dir.path().string());
    EXPECT_EQ(message.rfind(dir.path().string() + ": ", 0), 0u) << message;
}

TEST_F(store_database, refuses_an_empty_path)
{
    EXPECT_EQ(open_failure(""), "empty database path");
}

TEST_F(store_database, a_path_starting_with_file_colon_is_a_path)
{
    // SQLite would read it as a URI opening "odd.db" read-only.
    temp_dir dir{"steadyloop-store"};
    struct back_to {
        fs::path cwd;
        ~back_to() { fs::current_path(cwd); }
    } restore{fs::current_path()};
    fs::current_path(dir.path());
    store::database::blocking_open("file:odd.db?mode=ro")->blocking_put("k", "v", "text/plain");
    EXPECT_TRUE(fs::is_regular_file(dir.path() / "file:odd.db?mode=ro"));
}

TEST_F(store_database, memory_is_shared_by_the_threads_of_one_database)
{
    auto db = store::database::blocking_open(":memory:");
    EXPECT_TRUE(db->in_memory());
    std::thread([&] { db->blocking_put("written", "on another thread", "text/plain"); }).join();
    auto entry = db->blocking_get("written");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->value, "on another thread");
    std::thread([&] {
        auto again = db->blocking_get("written");
        ASSERT_TRUE(again);
        EXPECT_EQ(again->version, 1);
    }).join();
    EXPECT_EQ(pragma(db->blocking_connection(), "PRAGMA user_version"), 1);
}

TEST_F(store_database, memory_databases_are_separate)
{
    auto one = store::database::blocking_open(":memory:");
    auto two = store::database::blocking_open(":memory:");
    one->blocking_put("only-in-one", "x", "text/plain");
    EXPECT_FALSE(two->blocking_get("only-in-one"));
}

TEST_F(store_database, memory_lives_as_long_as_the_database)
{
    auto db = store::database::blocking_open(":memory:");
    db->blocking_put("k", "v", "text/plain");
    // Threads come and go; the data stays.
    for (int i = 0; i < 3; ++i)
        std::thread([&] { EXPECT_TRUE(db->blocking_get("k")); }).join();
    EXPECT_TRUE(db->blocking_get("k"));
}

TEST(store_database_death, a_blocking_call_on_the_loop_aborts)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto db = store::database::blocking_open(":memory:");
    EXPECT_DEATH(
        {
            boost::asio::io_context ioc{1};
            loop::bind_loop(ioc);
            boost::asio::post(ioc, [&] { db->blocking_get("k"); });
            ioc.run();
        },
        "blocking call blocking_get ran on the loop thread");
}
