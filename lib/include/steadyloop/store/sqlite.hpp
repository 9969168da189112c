// A thin RAII layer over SQLite's C API: a connection with its cache of prepared
// statements, a statement handle that returns itself to that cache, and a write
// transaction that rolls back unless committed.
//
// Why our own and not SQLiteCpp: the C API we need is a dozen functions; we need one
// connection per pool thread, statements cached per connection by their SQL text, exact
// mapping of result codes to our error types (busy, full, I/O), and byte-exact binding of
// keys and values that may hold NUL bytes. SQLiteCpp would wrap the same calls and
// leave all of that to us anyway. sqlite3.h stays out of this header.
//
// A connection belongs to one thread at a time (it is opened with SQLITE_OPEN_NOMUTEX);
// the database class hands each thread its own.
#pragma once

#include "steadyloop/store/errors.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace steadyloop::store {

// Throws the error type that fits SQLite's (extended) result code `rc`:
// BUSY/LOCKED → busy_error, FULL → storage_error (full), IOERR/CANTOPEN/READONLY/PROTOCOL
// → storage_error, anything else → store_error.
[[noreturn]] void throw_sqlite_error(int rc, std::string const& message);

class connection;

// A prepared statement borrowed from a connection's cache. Bound text and blobs are not
// copied: they must outlive this handle. Its destructor resets the statement and clears
// its bindings, so the next user starts clean and no read stays open.
class statement {
public:
    statement(statement&& other) noexcept;
    statement& operator=(statement&&) = delete;
    ~statement();

    // Parameters are numbered from 1, as in "?1".
    statement& bind_text(int index, std::string_view text);
    statement& bind_blob(int index, std::string_view bytes);
    statement& bind_int64(int index, std::int64_t value);
    statement& bind_null(int index);

    // Advances: true when a row is ready, false when done. Throws on errors.
    bool step();
    // Steps to the end, ignoring any rows.
    void run();

    // Columns are numbered from 0. Text and blobs are copied out with their exact length.
    std::int64_t column_int64(int column) const;
    std::string column_text(int column) const;
    std::string column_blob(int column) const;
    bool column_is_null(int column) const;

private:
    friend class connection;
    statement(connection& conn, sqlite3_stmt* stmt, bool* in_use) noexcept;

    connection* conn_;
    sqlite3_stmt* stmt_;
    bool* in_use_;  // the cache slot's flag; null when this handle owns an uncached statement
};

class connection {
public:
    // Opens `filename` with sqlite3_open_v2 `flags` (NOMUTEX and extended result codes
    // are added) and sets the busy timeout. Throws store_error (or a subtype) whose
    // message gives the reason, the OS's one when there is one.
    connection(std::string const& filename, int flags, std::chrono::milliseconds busy_timeout);
    ~connection();
    connection(connection const&) = delete;
    connection& operator=(connection const&) = delete;

    // The statement for `sql` from this connection's cache, prepared on first use. When
    // the cached one is still in use (a nested use of the same SQL), a fresh statement is
    // prepared for this handle alone.
    statement prepare(std::string_view sql);

    // Runs one or more statements that return nothing worth reading (DDL, PRAGMAs), uncached.
    void exec(char const* sql);

    // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    std::int64_t changes() const noexcept;

    std::size_t cached_statements() const noexcept { return cache_.size(); }

    // For SQLite calls this layer does not wrap.
    sqlite3* handle() const noexcept { return db_.get(); }

    // Throws the mapped error for `rc` with this connection's error message.
    [[noreturn]] void fail(int rc) const;

private:
    struct closer {
        void operator()(sqlite3* db) const noexcept;
    };
    struct finalizer {
        void operator()(sqlite3_stmt* stmt) const noexcept;
    };
    struct cached_statement {
        std::unique_ptr<sqlite3_stmt, finalizer> stmt;
        bool in_use = false;
    };
    // Lets the cache be searched with a string_view, without building a std::string.
    struct sql_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    sqlite3_stmt* prepare_raw(std::string_view sql);

    std::unique_ptr<sqlite3, closer> db_;
    // Declared after db_: statements are finalized before the connection is closed.
    std::unordered_map<std::string, cached_statement, sql_hash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE on construction (waits up to the busy timeout for other writers, then
// throws busy_error); ROLLBACK on destruction unless commit() succeeded.
class transaction {
public:
    explicit transaction(connection& conn);
    ~transaction();
    transaction(transaction const&) = delete;
    transaction& operator=(transaction const&) = delete;

    void commit();

private:
    connection& conn_;
    bool committed_ = false;
};

}  // namespace steadyloop::store
