// The SQLite database: opened, checked and migrated once (off the loop), then one
// connection per calling thread, each opened lazily with the same settings. Its key-value
// and user functions block: call them from the blocking pool, never from the loop (they
// abort there in checked builds). Every one is safe to call from many threads at once.
#pragma once

#include "steadyloop/store/errors.hpp"
#include "steadyloop/store/sqlite.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace steadyloop::store {

// A stored value: bytes with the content type they came with, and the count of writes
// to the key (1 when created).
struct kv_entry {
    std::string key;
    std::string value;
    std::string content_type;
    std::int64_t version;
};

struct put_result {
    bool created;          // false when an existing value was replaced
    std::int64_t version;  // 1 when created, then +1 on every write
    std::size_t bytes;     // the value's size
};

struct key_page {
    std::vector<std::string> keys;
    std::optional<std::string> next;  // pass as `after` for the next page; nullopt on the last
};

// What may be shown about a user (never the password hash).
struct user {
    std::int64_t id;
    std::string username;
    std::string created_at;  // ISO 8601 UTC to the second: "2026-11-21T10:00:00Z"
};

struct open_options {
    // How long a statement waits for other writers before busy_error.
    std::chrono::milliseconds busy_timeout{5000};
};

class database {
public:
    // The schema this binary creates and understands (PRAGMA user_version).
    static constexpr int schema_version = 1;

    // Opens `path` (":memory:" = one in-memory database shared by every thread of this
    // object), creating its folder and the file when missing; checks that it is an SQLite
    // database; switches a file to WAL; migrates the schema to schema_version in one
    // BEGIN IMMEDIATE transaction. Throws open_error (one line, starting with the path)
    // for a folder or file that cannot be created or opened, a file that is not a
    // database, a schema newer than schema_version, or any SQLite failure on the way.
    // A file that is not a database is left untouched.
    static std::unique_ptr<database> blocking_open(std::string path, open_options options = {});

    // Closes every connection (off the loop: the last close checkpoints the WAL). No
    // thread may be using the database any more: join the blocking pool first.
    ~database();
    database(database const&) = delete;
    database& operator=(database const&) = delete;

    std::string const& path() const noexcept { return path_; }
    bool in_memory() const noexcept { return in_memory_; }

    // The calling thread's connection, opened (with busy_timeout, foreign_keys=ON,
    // synchronous=NORMAL) on its first call. Throws store_error if it cannot be opened.
    connection& blocking_connection();

    // ---- key-value pairs (kv.cpp) ----
    // Keys and values are byte strings, NUL bytes included; keys compare byte by byte.
    // Errors: busy_error, storage_error, store_error (errors.hpp).

    // Creates or replaces the value under `key`, in one BEGIN IMMEDIATE transaction.
    put_result blocking_put(std::string_view key, std::string_view value, std::string_view content_type);

    std::optional<kv_entry> blocking_get(std::string_view key);

    // True when a value was there and is now gone. A key created again starts at version 1.
    bool blocking_erase(std::string_view key);

    // Up to `limit` (≥ 1, else std::invalid_argument) keys starting with `prefix`, strictly
    // after `after` when given, in byte order. `next` is the last key returned when more
    // keys match, so pages chain by passing it back as `after`.
    key_page blocking_list(std::string_view prefix, std::size_t limit,
                           std::optional<std::string_view> after = std::nullopt);

    // ---- users (users.cpp) ----

    // The new user, or nullopt when the username is taken (also when another thread or
    // process takes it at the same moment). Usernames compare byte by byte.
    std::optional<user> blocking_create_user(std::string_view username, std::string_view password_hash);

    std::optional<user> blocking_find_user(std::string_view username);

    // The user and their password hash, for verifying a login only.
    std::optional<std::pair<user, std::string>> blocking_find_login(std::string_view username);

private:
    struct private_tag {};

public:
    database(private_tag, std::string path, open_options options);  // use blocking_open

private:
    void blocking_initialize();
    std::unique_ptr<connection> open_connection() const;

    std::string path_;        // as given, for messages
    std::string filename_;    // what SQLite opens (a memdb URI for ":memory:")
    bool in_memory_;
    int flags_;
    open_options options_;
    std::uint64_t id_;        // unique per database object, never reused: keys the thread-local slot

    // Every thread's connection, owned here so that closing the database closes them all
    // (and, for ":memory:", the opener's connection keeps the shared database alive).
    // Locked only when a thread looks for its connection the first time.
    std::mutex mutex_;
    std::unordered_map<std::thread::id, std::unique_ptr<connection>> connections_;
};

}  // namespace steadyloop::store
