// The RAII layer over SQLite: statement cache, transactions, error mapping.
#include "steadyloop/store/sqlite.hpp"

#include "temp_dir.hpp"
#include "steadyloop/store/database.hpp"


#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

using namespace steadyloop;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test::temp_dir;

namespace {


constexpr int open_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

template <class E>
E thrown_by(int rc)
{
    try {
        store::throw_sqlite_error(rc, "message");
    } catch (E const& e) {
        return e;
    } catch (...) {
        ADD_FAILURE() << "another type for " << rc;
    }
    throw std::logic_error("unreachable");
}

class store_sqlite : public ::testing::Test {};

}  // namespace

TEST_F(store_sqlite, caches_statements_by_their_text)
{
    store::connection conn(":memory:", open_flags, 1000ms);
    for (int i = 0; i < 3; ++i) {
        auto st = conn.prepare("SELECT ?1 + 1");
        st.bind_int64(1, i);
        ASSERT_TRUE(st.step());
        EXPECT_EQ(st.column_int64(0), i + 1);
    }
    EXPECT_EQ(conn.cached_statements(), 1u);
    {
        auto a = conn.prepare("SELECT 1");
        auto b = conn.prepare("SELECT 2");
        EXPECT_EQ(conn.cached_statements(), 3u);
    }
}

TEST_F(store_sqlite, a_reused_statement_starts_without_bindings)
{
    store::connection conn(":memory:", open_flags, 1000ms);
    {
        auto st = conn.prepare("SELECT ?1");
        st.bind_text(1, "bound");
        ASSERT_TRUE(st.step());
        EXPECT_EQ(st.column_text(0), "bound");
    }
    auto st = conn.prepare("SELECT ?1");
    ASSERT_TRUE(st.step());
    EXPECT_TRUE(st.column_is_null(0));
}

TEST_F(store_sqlite, the_same_sql_can_be_used_twice_at_once)
{
    store::connection conn(":memory:", open_flags, 1000ms);
    conn.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);");
    auto outer = conn.prepare("SELECT x FROM t ORDER BY x");
    ASSERT_TRUE(outer.step());
    auto inner = conn.prepare("SELECT x FROM t ORDER BY x");
    ASSERT_TRUE(inner.step());
    ASSERT_TRUE(inner.step());
    EXPECT_EQ(inner.column_int64(0), 2);
    EXPECT_EQ(outer.column_int64(0), 1);
    EXPECT_EQ(conn.cached_statements(), 1u);
}

TEST_F(store_sqlite, binds_empty_text_and_blobs_as_values_not_null)
{
    store::connection conn(":memory:", open_flags, 1000ms);
    auto st = conn.prepare("SELECT typeof(?1), typeof(?2), length(?2)");
    st.bind_text(1, std::string_view()).bind_blob(2, std::string_view());
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(0), "text");
    EXPECT_EQ(st.column_text(1), "blob");
    EXPECT_EQ(st.column_int64(2), 0);
}

TEST_F(store_sqlite, a_transaction_rolls_back_unless_committed)
{
    store::connection conn(":memory:", open_flags, 1000ms);
    conn.exec("CREATE TABLE t (x INTEGER)");
    {
        store::transaction tx(conn);
        conn.exec("INSERT INTO t VALUES (1)");
    }
    {
        store::transaction tx(conn);
        conn.exec("INSERT INTO t VALUES (2)");
        tx.commit();
    }
    auto st = conn.prepare("SELECT group_concat(x) FROM t");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(0), "2");
}

TEST_F(store_sqlite, maps_result_codes_to_error_types)
{
    EXPECT_EQ(thrown_by<store::busy_error>(SQLITE_BUSY).code(), "database_busy");
    EXPECT_EQ(thrown_by<store::busy_error>(SQLITE_BUSY_SNAPSHOT).sqlite_code(), SQLITE_BUSY_SNAPSHOT);
    EXPECT_EQ(thrown_by<store::busy_error>(SQLITE_LOCKED).code(), "database_busy");
    auto full = thrown_by<store::storage_error>(SQLITE_FULL);
    EXPECT_TRUE(full.full());
    EXPECT_EQ(full.code(), "storage_full");
    auto io = thrown_by<store::storage_error>(SQLITE_IOERR_WRITE);
    EXPECT_FALSE(io.full());
    EXPECT_EQ(io.code(), "storage_unavailable");
    EXPECT_EQ(io.sqlite_code(), SQLITE_IOERR_WRITE);
    EXPECT_EQ(thrown_by<store::storage_error>(SQLITE_READONLY_DBMOVED).code(), "storage_unavailable");
    EXPECT_EQ(thrown_by<store::store_error>(SQLITE_CORRUPT).code(), "database_error");
    EXPECT_STREQ(thrown_by<store::store_error>(SQLITE_ERROR).what(), "message");
}

TEST_F(store_sqlite, sql_errors_carry_sqlites_message)
{
    store::connection conn(":memory:", open_flags, 1000ms);
    try {
        conn.prepare("SELECT FROM nowhere");
        FAIL() << "expected a syntax error";
    } catch (store::store_error const& e) {
        EXPECT_EQ(e.sqlite_code(), SQLITE_ERROR);
        EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
    }
}

TEST_F(store_sqlite, a_writer_waits_then_reports_busy)
{
    temp_dir dir{"steadyloop-sqlite"};
    auto path = dir.file("busy.db");
    auto holder = store::database::blocking_open(path);
    auto waiter = store::database::blocking_open(path, store::open_options{.busy_timeout = 100ms});
    store::transaction held(holder->blocking_connection());
    auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(waiter->blocking_put("k", "v", "text/plain"), store::busy_error);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
    // Reads do not wait for the writer in WAL mode.
    EXPECT_FALSE(waiter->blocking_get("k"));
    held.commit();
    EXPECT_TRUE(waiter->blocking_put("k", "v", "text/plain").created);
}

TEST_F(store_sqlite, a_full_database_reports_storage_full_and_keeps_its_data)
{
    temp_dir dir{"steadyloop-sqlite"};
    auto db = store::database::blocking_open(dir.file("full.db"));
    db->blocking_put("small", "kept", "text/plain");
    // Cap the file at its current size, for this connection: a disk that is full.
    auto& conn = db->blocking_connection();
    std::int64_t pages = 0;
    {
        auto st = conn.prepare("PRAGMA page_count");
        ASSERT_TRUE(st.step());
        pages = st.column_int64(0);
    }
    conn.exec(("PRAGMA max_page_count = " + std::to_string(pages)).c_str());
    try {
        db->blocking_put("big", std::string(1 << 20, 'x'), "application/octet-stream");
        FAIL() << "expected storage_error";
    } catch (store::storage_error const& e) {
        EXPECT_TRUE(e.full());
        EXPECT_EQ(e.code(), "storage_full");
    }
    // The failed transaction was rolled back and the connection is still usable.
    EXPECT_FALSE(db->blocking_get("big"));
    EXPECT_EQ(db->blocking_get("small")->value, "kept");
    EXPECT_FALSE(db->blocking_put("small", "still writable", "text/plain").created);
}
