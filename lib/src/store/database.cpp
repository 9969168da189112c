#include "steadyloop/store/database.hpp"

#include "steadyloop/loop/loop_thread.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <iterator>
#include <system_error>

namespace steadyloop::store {
namespace {

// Migration N+1 takes a database from user_version N to N+1.
constexpr char const* migrations[] = {
    // 1: key-value pairs (keys compared byte by byte, the BINARY collation) and users.
    "CREATE TABLE kv ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  version INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  created_at TEXT NOT NULL"
    ");",
};
static_assert(std::size(migrations) == database::schema_version);

std::atomic<std::uint64_t> next_database_id{1};

std::int64_t read_user_version(connection& conn)
{
    auto st = conn.prepare("PRAGMA user_version");
    return st.step() ? st.column_int64(0) : 0;
}

}  // namespace

database::database(private_tag, std::string path, open_options options)
    : path_(std::move(path)),
      in_memory_(path_ == ":memory:"),
      flags_(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE),
      options_(options),
      id_(next_database_id.fetch_add(1, std::memory_order_relaxed))
{
    if (in_memory_) {
        // The memdb VFS shares a database between the connections that open the same
        // "/name" and locks it like a file, so busy_timeout works. (A shared-cache
        // "mode=memory&cache=shared" database answers SQLITE_LOCKED at once instead, which
        // no busy handler waits for.) It lives while one connection to it is open.
        filename_ = "file:/steadyloop-mem-" + std::to_string(id_) + "?vfs=memdb";
        flags_ |= SQLITE_OPEN_URI;
    } else if (path_.starts_with("file:")) {
        // This SQLite reads every "file:" name as a URI; a path is a path.
        filename_ = "./" + path_;
    } else {
        filename_ = path_;
    }
}

database::~database()
{
    // Closing checkpoints the WAL into the file: I/O, so not on the loop either.
    STEADYLOOP_ASSERT_OFF_LOOP();
}

std::unique_ptr<database> database::blocking_open(std::string path, open_options options)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    if (path.empty())
        throw open_error("empty database path");
    auto db = std::make_unique<database>(private_tag{}, std::move(path), options);
    try {
        db->blocking_initialize();
    } catch (open_error const&) {
        throw;
    } catch (store_error const& e) {
        // The first statement on a connection reads the file's header and schema.
        int primary = e.sqlite_code() & 0xff;
        if (primary == SQLITE_NOTADB)
            throw open_error(db->path_ + ": not an SQLite database", e.sqlite_code());
        if (primary == SQLITE_CORRUPT)
            throw open_error(db->path_ + ": the database is corrupt (" + e.what() + ")", e.sqlite_code());
        throw open_error(db->path_ + ": " + e.what(), e.sqlite_code());
    }
    return db;
}

void database::blocking_initialize()
{
    if (!in_memory_) {
        auto folder = std::filesystem::path(path_).parent_path();
        if (!folder.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(folder, ec);
            if (ec)
                throw open_error(path_ + ": cannot create its folder " + folder.string() + ": " + ec.message());
        }
        // The file and, in WAL mode, its -wal and -shm files are created there. (SQLite
        // itself would report the ENOENT of its read-only retry, not the EACCES.)
        auto where = folder.empty() ? std::filesystem::path(".") : folder;
        if (::access(where.c_str(), W_OK | X_OK) != 0)
            throw open_error(path_ + ": cannot write in its folder " + where.string() + ": " +
                             std::generic_category().message(errno));
    }
    connection& conn = blocking_connection();

    // Read before anything writes: a file that is not a database must stay as it is
    // (SQLITE_NOTADB, turned into an open_error by blocking_open).
    conn.prepare("SELECT count(*) FROM sqlite_master").run();
    // SQLite falls back to read-only when the file cannot be written.
    if (sqlite3_db_readonly(conn.handle(), "main") == 1)
        throw open_error(path_ + ": the database file cannot be written");

    auto check_version = [this](std::int64_t version) {
        if (version > schema_version)
            throw open_error(path_ + ": database schema version " + std::to_string(version) +
                             " is newer than this steadyloop knows (" + std::to_string(schema_version) + ")");
        if (version < 0)
            throw open_error(path_ + ": database schema version " + std::to_string(version) + " is not a steadyloop one");
    };
    check_version(read_user_version(conn));  // before the switch to WAL writes the header

    if (!in_memory_) {
        auto st = conn.prepare("PRAGMA journal_mode = WAL");
        std::string mode = st.step() ? st.column_text(0) : std::string();
        if (mode != "wal")
            throw open_error(path_ + ": cannot switch the database to WAL (journal mode stays \"" + mode + "\")");
    }

    // Another process may be migrating the same file: decide inside the write lock.
    transaction tx(conn);
    auto version = read_user_version(conn);
    check_version(version);
    for (auto v = version; v < schema_version; ++v)
        conn.exec(migrations[v]);
    if (version != schema_version)
        conn.exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    tx.commit();
}

connection& database::blocking_connection()
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    // The last database this thread used and its connection: no lock on the hot path.
    struct slot_type {
        std::uint64_t owner = 0;
        connection* conn = nullptr;
    };
    thread_local slot_type slot;
    if (slot.owner == id_)
        return *slot.conn;

    std::lock_guard lock(mutex_);
    // A thread id may be reused once its thread has ended; the new thread then takes over
    // the old connection, which nothing else can be using any more.
    auto& conn = connections_[std::this_thread::get_id()];
    if (!conn)
        conn = open_connection();
    slot = {id_, conn.get()};
    return *conn;
}

std::unique_ptr<connection> database::open_connection() const
{
    auto conn = std::make_unique<connection>(filename_, flags_, options_.busy_timeout);
    conn->exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
    return conn;
}

}  // namespace steadyloop::store
