// The database file across the process's life: created with its folder, kept across a
// SIGTERM and a restart, and at start a file that is not a database, a corrupt one, a
// newer schema or a folder that cannot be made stop the process with exit code 2 and one
// line naming the problem, the file untouched.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"
#include "store_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace itest;
namespace fs = std::filesystem;

std::string read_bytes(fs::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_bytes(fs::path const& p, std::string const& bytes)
{
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::set<std::string> names_in(fs::path const& dir)
{
    std::set<std::string> out;
    for (auto const& e : fs::directory_iterator(dir))
        out.insert(e.path().filename().string());
    return out;
}

// Runs SQL on a database file with SQLite itself; "" on success, else the error.
std::string sqlite_exec(std::string const& path, std::string const& sql)
{
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    std::string err;
    if (rc != SQLITE_OK) {
        err = db ? sqlite3_errmsg(db) : "sqlite3_open_v2 failed";
    } else {
        char* msg = nullptr;
        if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
            err = msg ? msg : "sqlite3_exec failed";
            sqlite3_free(msg);
        }
    }
    sqlite3_close(db);
    return err;
}

// PRAGMA user_version of a database file, read-only; -1 when it cannot be read.
int user_version(std::string const& path)
{
    sqlite3* db = nullptr;
    int version = -1;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return version;
}

// The binary run with `--db path` until it exits (it must not get as far as listening).
run_result start_on(std::string const& path)
{
    return run_binary({"--port", "0", "--address", "127.0.0.1", "--workers", "1", "--db", path}, {}, 5s);
}

// Exit code 2 before listening, and a line (the one on stderr, "steadyloop: …") that
// names the database path and contains every one of `words`.
::testing::AssertionResult refused_at_start(run_result const& r, std::string const& path,
                                            std::vector<std::string> const& words)
{
    auto fail = [&](std::string const& why) { return ::testing::AssertionFailure() << why << "; output:\n" << r.output; };
    if (r.timed_out)
        return fail("still running after 5 s");
    if (r.status != exit_status::exited(2)) {
        std::ostringstream s;
        s << r.status << ", expected exit code 2";
        return fail(s.str());
    }
    if (r.output.find("\"event\":\"listening\"") != std::string::npos)
        return fail("it listened first");
    std::istringstream lines(r.output);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.starts_with("steadyloop: ") || line.find(path) == std::string::npos)
            continue;
        bool all = true;
        for (auto const& w : words)
            all = all && line.find(w) != std::string::npos;
        if (all)
            return ::testing::AssertionSuccess();
    }
    std::string list;
    for (auto const& w : words)
        list += " \"" + w + "\"";
    return fail("no line \"steadyloop: <path>: …\" naming" + list);
}

std::vector<std::string> args_on(std::string const& path)
{
    return {"--workers", "1", "--db", path, "--argon2-memory-kib", "8", "--argon2-iterations", "1"};
}

bool ready(unsigned short port)
{
    auto r = get(port, "/readyz");
    return r.status() == 200 && r.json().at("status").as_string() == "ready";
}

// ---- a file on disk -------------------------------------------------------------------------

TEST(database, keeps_its_data_across_sigterm_and_a_restart)
{
    temp_dir dir;
    std::string const path = dir.file("sub/steadyloop.db");
    ASSERT_FALSE(fs::exists(dir.path() / "sub"));
    std::string binary;
    for (int b = 0; b < 256; ++b)
        binary.push_back(static_cast<char>(b));
    boost::json::object user;
    std::string text_tag;  // the ETag of kept/text before the restart
    {
        server_process srv(args_on(path));
        EXPECT_TRUE(eventually([&] { return ready(srv.port()); }, 5s));
        EXPECT_TRUE(fs::is_regular_file(path)) << "the folder and the file are created";
        ASSERT_EQ(send(srv.port(), "PUT", "/kv/kept/text", {{"Content-Type", "text/plain"}}, "first").status(), 201u);
        auto second = send(srv.port(), "PUT", "/kv/kept/text", {{"Content-Type", "text/plain"}}, "second");
        ASSERT_EQ(second.status(), 200u) << second;
        text_tag = second.header("ETag");
        ASSERT_EQ(send(srv.port(), "PUT", "/kv/kept/binary", {}, binary).status(), 201u);
        ASSERT_EQ(send(srv.port(), "PUT", "/kv/kept/caf%C3%A9", {}, "utf8").status(), 201u);
        ASSERT_EQ(send(srv.port(), "PUT", "/kv/gone", {}, "x").status(), 201u);
        ASSERT_EQ(send(srv.port(), "DELETE", "/kv/gone").status(), 204u);
        auto reg = send(srv.port(), "POST", "/users", {{"Content-Type", "application/json"}},
                        R"({"username":"persistent","password":"still here"})");
        ASSERT_EQ(reg.status(), 201u) << reg;
        user = reg.json();

        srv.terminate();
        auto st = srv.wait_exit(15s);
        ASSERT_TRUE(st.has_value()) << "still running 15 s after SIGTERM";
        EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    }
    ASSERT_TRUE(fs::is_regular_file(path));
    EXPECT_EQ(user_version(path), 1) << "the schema version is recorded in the file";
    {
        server_process srv(args_on(path));
        EXPECT_TRUE(eventually([&] { return ready(srv.port()); }, 5s));
        auto text = get(srv.port(), "/kv/kept/text");
        EXPECT_EQ(text.status(), 200u) << text;
        EXPECT_EQ(text.body(), "second");
        EXPECT_EQ(text.header("Content-Type"), "text/plain");
        EXPECT_EQ(text.header("ETag"), text_tag) << "a client's ETag stays valid across a restart";
        EXPECT_EQ(get(srv.port(), "/kv/kept/text", {{"If-None-Match", text_tag}}).status(), 304u);
        auto bin = get(srv.port(), "/kv/kept/binary");
        EXPECT_EQ(bin.status(), 200u) << bin;
        EXPECT_TRUE(bin.body() == binary);
        EXPECT_EQ(bin.header("Content-Type"), "application/octet-stream");
        EXPECT_EQ(get(srv.port(), "/kv/kept/caf%C3%A9").body(), "utf8");
        EXPECT_TRUE(is_problem(get(srv.port(), "/kv/gone"), 404, "not_found"));
        auto listed = get(srv.port(), "/kv?prefix=kept%2F").json();
        EXPECT_EQ(strings_of(listed.at("keys")),
                  (std::vector<std::string>{"kept/binary", "kept/caf\xC3\xA9", "kept/text"}));

        auto found = get(srv.port(), "/users/persistent");
        EXPECT_EQ(found.status(), 200u) << found;
        EXPECT_EQ(found.json(), user);
        auto in = send(srv.port(), "POST", "/login", {{"Content-Type", "application/json"}},
                       R"({"username":"persistent","password":"still here"})");
        ASSERT_EQ(in.status(), 200u) << in;
        EXPECT_EQ(in.json().at("id"), user.at("id"));
        auto dup = send(srv.port(), "POST", "/users", {{"Content-Type", "application/json"}},
                        R"({"username":"persistent","password":"again"})");
        EXPECT_TRUE(is_problem(dup, 409, "username_taken"));

        // And it goes on counting versions where it left off.
        auto third = send(srv.port(), "PUT", "/kv/kept/text", {}, "third");
        EXPECT_EQ(third.status(), 200u) << third;
        EXPECT_EQ(third.json().at("version").to_number<int>(), 3);
        EXPECT_TRUE(third.header("ETag").starts_with("\"3")) << third;

        srv.terminate();
        auto st = srv.wait_exit(15s);
        ASSERT_TRUE(st.has_value());
        EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    }
}

TEST(database, makes_an_empty_file_a_database)
{
    temp_dir dir;
    std::string const path = dir.file("empty.db");
    write_bytes(path, "");
    server_process srv(args_on(path));
    EXPECT_TRUE(eventually([&] { return ready(srv.port()); }, 5s));
    EXPECT_EQ(send(srv.port(), "PUT", "/kv/k", {}, "v").status(), 201u);
    EXPECT_EQ(get(srv.port(), "/kv/k").body(), "v");
    srv.terminate();
    auto st = srv.wait_exit(15s);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, exit_status::exited(0));
    EXPECT_EQ(user_version(path), 1);
}

TEST(database, uses_a_memory_database_unless_a_test_names_one)
{
    // server_process passes --db :memory: by default: nothing is written to ./data.
    temp_dir dir;
    struct cwd_scope {
        fs::path saved = fs::current_path();
        explicit cwd_scope(fs::path const& to) { fs::current_path(to); }
        ~cwd_scope() { fs::current_path(saved); }
    };
    {
        cwd_scope in(dir.path());  // the server starts in the empty folder
        server_process srv({"--workers", "1"});
        EXPECT_TRUE(eventually([&] { return ready(srv.port()); }, 5s));
        EXPECT_EQ(send(srv.port(), "PUT", "/kv/k", {}, "v").status(), 201u);
        srv.terminate();
        EXPECT_EQ(srv.wait_exit(15s), exit_status::exited(0));
    }
    EXPECT_TRUE(names_in(dir.path()).empty()) << "the server wrote files in its working folder";
}

TEST(database, takes_its_file_from_db_equals_or_steadyloop_db)
{
    temp_dir dir;
    for (int how = 0; how < 2; ++how) {
        std::string const path = dir.file(how == 0 ? "flag/equals.db" : "env/variable.db");
        SCOPED_TRACE(path);
        std::optional<server_process> srv;
        if (how == 0)
            srv.emplace(std::vector<std::string>{"--workers", "1", "--db=" + path});
        else
            srv.emplace(std::vector<std::string>{"--workers", "1"}, env_vars{{"STEADYLOOP_DB", path}});
        EXPECT_EQ(send(srv->port(), "PUT", "/kv/where", {}, "here").status(), 201u);
        srv->terminate();
        EXPECT_EQ(srv->wait_exit(15s), exit_status::exited(0));
        EXPECT_TRUE(fs::is_regular_file(path));
        EXPECT_EQ(user_version(path), 1);
    }
}

// ---- refused at start --------------------------------------------------------------------

TEST(database, refuses_a_file_that_is_not_a_database_with_exit_2)
{
    temp_dir dir;
    std::string const path = dir.file("garbage.db");
    std::string garbage;
    std::uint32_t x = 12345;
    for (int i = 0; i < 8192; ++i) {
        x = x * 1103515245u + 12345u;
        garbage.push_back(static_cast<char>(x >> 24));
    }
    garbage.replace(0, 16, "not a database!\n");
    write_bytes(path, garbage);

    auto r = start_on(path);
    EXPECT_TRUE(refused_at_start(r, path, {"not an SQLite database"}));
    EXPECT_TRUE(read_bytes(path) == garbage) << "the file was changed";
    EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"garbage.db"}) << "files were added next to it";
}

TEST(database, refuses_a_corrupt_database_with_exit_2)
{
    temp_dir dir;
    std::string const path = dir.file("corrupt.db");
    ASSERT_EQ(sqlite_exec(path, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);"), "");
    auto bytes = read_bytes(path);
    ASSERT_GE(bytes.size(), 4096u);
    ASSERT_TRUE(bytes.starts_with(std::string("SQLite format 3\0", 16)));
    // Page 1 past the 100-byte file header (the schema's b-tree page) overwritten.
    for (std::size_t i = 100; i < 4096; ++i)
        bytes[i] = static_cast<char>(0xA5 ^ (i & 0xFF));
    write_bytes(path, bytes);

    auto r = start_on(path);
    EXPECT_TRUE(refused_at_start(r, path, {"corrupt"}));
    EXPECT_TRUE(read_bytes(path) == bytes) << "the file was changed";
}

TEST(database, refuses_a_newer_schema_with_exit_2)
{
    temp_dir dir;
    std::string const path = dir.file("future.db");
    ASSERT_EQ(sqlite_exec(path, "CREATE TABLE kv(key TEXT PRIMARY KEY, future_column BLOB); PRAGMA user_version = 99;"),
              "");
    ASSERT_EQ(user_version(path), 99);
    auto const before = read_bytes(path);

    auto r = start_on(path);
    EXPECT_TRUE(refused_at_start(r, path, {"99", "version"}));
    EXPECT_EQ(user_version(path), 99);
    EXPECT_TRUE(read_bytes(path) == before) << "the file was changed";
}

TEST(database, refuses_a_path_under_a_regular_file_with_exit_2)
{
    temp_dir dir;
    write_bytes(dir.path() / "plain-file", "I am a file, not a folder\n");
    for (std::string const& path : {dir.file("plain-file/steadyloop.db"), dir.file("plain-file/deeper/steadyloop.db")}) {
        SCOPED_TRACE(path);
        auto r = start_on(path);
        EXPECT_TRUE(refused_at_start(r, path, {}));
    }
    EXPECT_EQ(read_bytes(dir.path() / "plain-file"), "I am a file, not a folder\n");
}

TEST(database, refuses_a_folder_as_the_database_with_exit_2)
{
    temp_dir dir;
    fs::create_directory(dir.path() / "folder.db");
    auto r = start_on(dir.file("folder.db"));
    EXPECT_TRUE(refused_at_start(r, dir.file("folder.db"), {}));
    EXPECT_TRUE(names_in(dir.path() / "folder.db").empty());
}

TEST(database, refuses_a_folder_it_cannot_write_in_with_exit_2)
{
    if (::geteuid() == 0)
        GTEST_SKIP() << "root writes in any folder";
    temp_dir dir;
    fs::create_directory(dir.path() / "locked");
    fs::permissions(dir.path() / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    std::string const path = dir.file("locked/steadyloop.db");
    auto r = start_on(path);
    fs::permissions(dir.path() / "locked", fs::perms::owner_all);
    EXPECT_TRUE(refused_at_start(r, path, {}));
}

}  // namespace
