#include "steadyloop/store/database.hpp"

#include "steadyloop/loop/loop_thread.hpp"

#include <chrono>
#include <ctime>

namespace steadyloop::store {
namespace {

// "2026-11-21T10:00:00Z"
std::string utc_now_iso8601()
{
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(text, n);
}

user read_user(statement const& st)
{
    return user{st.column_int64(0), st.column_text(1), st.column_text(2)};
}

}  // namespace

std::optional<user> database::blocking_create_user(std::string_view username, std::string_view password_hash)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    std::string created_at = utc_now_iso8601();
    auto& conn = blocking_connection();
    // The write lock serialises racing creators; the loser's insert does nothing.
    transaction tx(conn);
    std::optional<std::int64_t> id;
    {
        auto st = conn.prepare(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (username) DO NOTHING "
            "RETURNING id");
        st.bind_text(1, username).bind_text(2, password_hash).bind_text(3, created_at);
        if (st.step()) {
            id = st.column_int64(0);
            st.run();
        }
    }
    tx.commit();
    if (!id)
        return std::nullopt;  // taken
    return user{*id, std::string(username), std::move(created_at)};
}

std::optional<user> database::blocking_find_user(std::string_view username)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    auto& conn = blocking_connection();
    auto st = conn.prepare("SELECT id, username, created_at FROM users WHERE username = ?1");
    st.bind_text(1, username);
    if (!st.step())
        return std::nullopt;
    return read_user(st);
}

std::optional<std::pair<user, std::string>> database::blocking_find_login(std::string_view username)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    auto& conn = blocking_connection();
    auto st = conn.prepare("SELECT id, username, created_at, password_hash FROM users WHERE username = ?1");
    st.bind_text(1, username);
    if (!st.step())
        return std::nullopt;
    return std::pair{read_user(st), st.column_text(3)};
}

}  // namespace steadyloop::store
