#include "steadyloop/store/sqlite.hpp"

#include <sqlite3.h>

#include <limits>
#include <system_error>
#include <utility>

namespace steadyloop::store {

void throw_sqlite_error(int rc, std::string const& message)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        throw busy_error(rc, message);
    case SQLITE_FULL:
        throw storage_error(rc, true, message);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
        throw storage_error(rc, false, message);
    default:
        throw store_error(rc, "database_error", message);
    }
}

// ---- statement ----

namespace {

// SQLite binds a null pointer as SQL NULL, and an empty string_view may have one.
char const* non_null(std::string_view s) noexcept { return s.data() != nullptr ? s.data() : ""; }

int checked_length(std::string_view s)
{
    if (s.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw_sqlite_error(SQLITE_TOOBIG, "string or blob too big");
    return static_cast<int>(s.size());
}

}  // namespace

statement::statement(connection& conn, sqlite3_stmt* stmt, bool* in_use) noexcept
    : conn_(&conn), stmt_(stmt), in_use_(in_use)
{
}

statement::statement(statement&& other) noexcept
    : conn_(other.conn_), stmt_(std::exchange(other.stmt_, nullptr)), in_use_(std::exchange(other.in_use_, nullptr))
{
}

statement::~statement()
{
    if (stmt_ == nullptr)
        return;
    if (in_use_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        *in_use_ = false;
    } else {
        sqlite3_finalize(stmt_);
    }
}

statement& statement::bind_text(int index, std::string_view text)
{
    int rc = sqlite3_bind_text(stmt_, index, non_null(text), checked_length(text), SQLITE_STATIC);
    if (rc != SQLITE_OK)
        conn_->fail(rc);
    return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes)
{
    int rc = sqlite3_bind_blob(stmt_, index, non_null(bytes), checked_length(bytes), SQLITE_STATIC);
    if (rc != SQLITE_OK)
        conn_->fail(rc);
    return *this;
}

statement& statement::bind_int64(int index, std::int64_t value)
{
    int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK)
        conn_->fail(rc);
    return *this;
}

statement& statement::bind_null(int index)
{
    int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK)
        conn_->fail(rc);
    return *this;
}

bool statement::step()
{
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    conn_->fail(rc);
}

void statement::run()
{
    while (step()) {
    }
}

std::int64_t statement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string statement::column_text(int column) const
{
    // The pointer first, then the length (the order SQLite documents).
    auto const* p = reinterpret_cast<char const*>(sqlite3_column_text(stmt_, column));
    int n = sqlite3_column_bytes(stmt_, column);
    return p != nullptr ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::string statement::column_blob(int column) const
{
    auto const* p = static_cast<char const*>(sqlite3_column_blob(stmt_, column));
    int n = sqlite3_column_bytes(stmt_, column);
    return p != nullptr ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

bool statement::column_is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

// ---- connection ----

void connection::closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

void connection::finalizer::operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }

connection::connection(std::string const& filename, int flags, std::chrono::milliseconds busy_timeout)
{
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(filename.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
    db_.reset(raw);  // closed by the destructor even when the open failed
    if (rc != SQLITE_OK) {
        if (raw == nullptr)
            throw_sqlite_error(rc, "cannot open the database: out of memory");
        // The OS's reason ("Permission denied", "Is a directory") says more than
        // SQLite's "unable to open database file".
        int err = sqlite3_system_errno(raw);
        std::string reason = err != 0 ? std::generic_category().message(err) : std::string(sqlite3_errmsg(raw));
        throw_sqlite_error(rc, "cannot open the database: " + reason);
    }
    sqlite3_extended_result_codes(raw, 1);
    auto ms = busy_timeout.count();
    sqlite3_busy_timeout(raw, ms > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : static_cast<int>(ms));
}

connection::~connection()
{
    cache_.clear();  // finalize every statement, then db_ closes the connection
}

void connection::fail(int rc) const { throw_sqlite_error(rc, sqlite3_errmsg(db_.get())); }

sqlite3_stmt* connection::prepare_raw(std::string_view sql)
{
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), non_null(sql), checked_length(sql), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        fail(rc);
    }
    if (stmt == nullptr)  // only blanks or a comment
        throw_sqlite_error(SQLITE_MISUSE, "no SQL statement in \"" + std::string(sql) + "\"");
    return stmt;
}

statement connection::prepare(std::string_view sql)
{
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        std::unique_ptr<sqlite3_stmt, finalizer> stmt(prepare_raw(sql));
        it = cache_.emplace(std::string(sql), cached_statement{std::move(stmt), false}).first;
    } else if (it->second.in_use) {
        return statement(*this, prepare_raw(sql), nullptr);
    }
    it->second.in_use = true;
    return statement(*this, it->second.stmt.get(), &it->second.in_use);
}

void connection::exec(char const* sql)
{
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        fail(rc);
}

std::int64_t connection::changes() const noexcept { return sqlite3_changes64(db_.get()); }

// ---- transaction ----

transaction::transaction(connection& conn) : conn_(conn) { conn_.prepare("BEGIN IMMEDIATE").run(); }

transaction::~transaction()
{
    // SQLite may already have rolled back by itself (after some I/O or full-disk errors).
    if (!committed_ && sqlite3_get_autocommit(conn_.handle()) == 0)
        sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void transaction::commit()
{
    conn_.prepare("COMMIT").run();
    committed_ = true;
}

}  // namespace steadyloop::store
