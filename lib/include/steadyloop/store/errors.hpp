// Errors of the store layer. Each carries SQLite's extended result code and a stable
// machine string, so the HTTP boundary can pick the answer (busy → 503, full → 507, …)
// without looking at SQLite itself.
#pragma once

#include <stdexcept>
#include <string>

namespace steadyloop::store {

// Anything SQLite reported that has no more specific type below (corruption, misuse,
// a constraint the store did not expect): a bug or a broken file, answered as 500.
class store_error : public std::runtime_error {
public:
    store_error(int sqlite_code, std::string code, std::string const& what)
        : std::runtime_error(what), sqlite_code_(sqlite_code), code_(std::move(code))
    {
    }
    // SQLite's extended result code (SQLITE_IOERR_WRITE, …), 0 when not from SQLite.
    int sqlite_code() const noexcept { return sqlite_code_; }
    // Stable machine string: "database_error", "database_busy", "storage_full", …
    std::string const& code() const noexcept { return code_; }

private:
    int sqlite_code_;
    std::string code_;
};

// The database could not be opened, checked or migrated. what() is one line, starting
// with the path, fit to print before exiting with status 2.
class open_error : public store_error {
public:
    explicit open_error(std::string what, int sqlite_code = 0)
        : store_error(sqlite_code, "database_open_failed", one_line(std::move(what)))
    {
    }

private:
    static std::string one_line(std::string s)
    {
        for (char& c : s)
            if (c == '\n' || c == '\r')
                c = ' ';
        return s;
    }
};

// The database stayed locked by other writers for the whole busy timeout.
class busy_error : public store_error {
public:
    busy_error(int sqlite_code, std::string const& what) : store_error(sqlite_code, "database_busy", what) {}
};

// The disk is full (code "storage_full") or the file cannot be read or written
// ("storage_unavailable": I/O errors, a file that became read-only or vanished).
class storage_error : public store_error {
public:
    storage_error(int sqlite_code, bool full, std::string const& what)
        : store_error(sqlite_code, full ? "storage_full" : "storage_unavailable", what), full_(full)
    {
    }
    bool full() const noexcept { return full_; }

private:
    bool full_;
};

}  // namespace steadyloop::store
