#include "steadyloop/store/database.hpp"

#include "steadyloop/loop/loop_thread.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace steadyloop::store {
namespace {

// The smallest string greater than every string that starts with `prefix`: drop trailing
// 0xFF bytes and add one to the last byte left. None when the prefix is empty or all 0xFF.
// A range [prefix, successor) selects the prefix exactly, with no LIKE wildcards to escape.
std::optional<std::string> prefix_successor(std::string_view prefix)
{
    std::string s(prefix);
    while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xFF)
        s.pop_back();
    if (s.empty())
        return std::nullopt;
    s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
    return s;
}

// [after is the lower bound][the prefix has an upper bound]. ?1 lower, ?2 upper, ?3 rows.
constexpr char const* list_sql[2][2] = {
    {"SELECT key FROM kv WHERE key >= ?1 ORDER BY key LIMIT ?3",
     "SELECT key FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3"},
    {"SELECT key FROM kv WHERE key > ?1 ORDER BY key LIMIT ?3",
     "SELECT key FROM kv WHERE key > ?1 AND key < ?2 ORDER BY key LIMIT ?3"},
};

}  // namespace

put_result database::blocking_put(std::string_view key, std::string_view value, std::string_view content_type)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    auto& conn = blocking_connection();
    transaction tx(conn);
    std::int64_t version = 0;
    {
        // A replaced value always ends at version 2 or more, so version 1 means created.
        auto st = conn.prepare(
            "INSERT INTO kv (key, value, content_type, version) VALUES (?1, ?2, ?3, 1) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, content_type = excluded.content_type, "
            "version = kv.version + 1 "
            "RETURNING version");
        st.bind_text(1, key).bind_blob(2, value).bind_text(3, content_type);
        if (!st.step())
            throw store_error(0, "database_error", "kv upsert returned no version");
        version = st.column_int64(0);
        st.run();
    }
    tx.commit();
    return {version == 1, version, value.size()};
}

std::optional<kv_entry> database::blocking_get(std::string_view key)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    auto& conn = blocking_connection();
    auto st = conn.prepare("SELECT value, content_type, version FROM kv WHERE key = ?1");
    st.bind_text(1, key);
    if (!st.step())
        return std::nullopt;
    return kv_entry{std::string(key), st.column_blob(0), st.column_text(1), st.column_int64(2)};
}

bool database::blocking_erase(std::string_view key)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    auto& conn = blocking_connection();
    transaction tx(conn);
    conn.prepare("DELETE FROM kv WHERE key = ?1").bind_text(1, key).run();
    bool erased = conn.changes() > 0;
    tx.commit();
    return erased;
}

key_page database::blocking_list(std::string_view prefix, std::size_t limit, std::optional<std::string_view> after)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    if (limit == 0)
        throw std::invalid_argument("database::blocking_list: limit must be at least 1");
    // Every key with the prefix is >= prefix, so an `after` below the prefix changes nothing.
    bool after_is_lower = after.has_value() && *after >= prefix;
    std::string_view lower = after_is_lower ? *after : prefix;
    auto const upper = prefix_successor(prefix);  // bound below without a copy: outlives st
    // One row more than asked tells whether another page follows.
    auto rows = static_cast<std::int64_t>(std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max() - 1)) + 1;

    auto& conn = blocking_connection();
    auto st = conn.prepare(list_sql[after_is_lower][upper.has_value()]);
    st.bind_text(1, lower);
    if (upper)
        st.bind_text(2, *upper);
    st.bind_int64(3, rows);

    key_page page;
    page.keys.reserve(std::min<std::size_t>(limit, 1024));
    while (st.step()) {
        if (page.keys.size() == limit) {
            page.next = page.keys.back();
            break;
        }
        page.keys.push_back(st.column_text(0));
    }
    return page;
}

}  // namespace steadyloop::store
