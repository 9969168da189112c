// Faults with real processes, each test bounded: workers SIGKILLed at random under mixed
// load (only the requests on them fail, the pool is whole again afterwards); SIGTERM under
// mixed load (every request sent before the signal is answered, exit 0); the whole service
// SIGKILLed while it writes, then restarted on its file (every acknowledged write is
// there); the database's filesystem full (writes answer 507 storage_full, reads go on,
// the file is sound once space returns).
//
// Each test prints one line starting with "fault-figures" with what it counted.
#include "checks.hpp"
#include "http_client.hpp"
#include "processes.hpp"
#include "server_process.hpp"
#include "store_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace itest;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

// A sanitized binary on a loaded 2-core machine may take seconds to start.
constexpr std::chrono::milliseconds start_timeout = 30s;

double ms_between(clock_type::time_point a, clock_type::time_point b)
{
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// ---- mixed load -----------------------------------------------------------------------------

enum class kind { ping, kv_put, kv_get, hash, password };
constexpr std::array all_kinds{kind::ping, kind::kv_put, kind::kv_get, kind::hash, kind::password};

char const* name_of(kind k)
{
    switch (k) {
    case kind::ping: return "ping";
    case kind::kv_put: return "kv_put";
    case kind::kv_get: return "kv_get";
    case kind::hash: return "hash";
    case kind::password: return "password";
    }
    return "?";
}

bool needs_worker(kind k) { return k == kind::hash || k == kind::password; }

// One request of the mixed load as its client saw it.
struct record {
    kind k = kind::ping;
    std::optional<clock_type::time_point> sent;  // when its last byte left; nullopt: never sent
    clock_type::time_point done{};
    unsigned status = 0;  // 0: no answer
    std::string code;     // the problem document's code, for an error answer
    std::string error;    // no answer (what the socket did), or an answer with a wrong body

    bool ok() const { return status >= 200 && status < 300 && error.empty(); }
    // "200", "500 worker_crashed", "no answer: …"
    std::string outcome() const
    {
        if (status == 0)
            return "no answer: " + error;
        std::string s = std::to_string(status);
        if (!code.empty())
            s += " " + code;
        if (!error.empty())
            s += " (" + error + ")";
        return s;
    }
};

// A client on one keep-alive connection doing ping, PUT and GET /kv, POST /hash (4 KiB)
// and POST /passwords/hash (Argon2id) in turn, each answer checked; a `light` one only
// ping and /kv, so that it never waits behind the worker pool. It opens a new connection
// when the server closed its own (Connection: close, or a socket error) and stops when
// `stop` is set or a new connection is refused.
class load_client {
public:
    load_client(unsigned short port, int id, bool light) : port_(port), id_(id), light_(light)
    {
        hash_body_.resize(4096);
        for (std::size_t i = 0; i < hash_body_.size(); ++i)
            hash_body_[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(id)) % 26);
    }

    void run(std::atomic<bool> const& stop)
    {
        std::size_t const kinds = light_ ? 3 : all_kinds.size();  // ping, kv_put, kv_get come first
        for (std::size_t n = static_cast<std::size_t>(id_); !stop.load() && !refused_; ++n)
            records.push_back(one(all_kinds[n % kinds]));
    }

    std::vector<record> records;

private:
    record one(kind k)
    {
        record r;
        r.k = k;
        if (k == kind::kv_get && !last_put_)
            r.k = k = kind::kv_put;  // nothing stored yet
        ++seq_;
        std::string raw;
        std::string key;
        std::string value;
        switch (k) {
        case kind::ping:
            raw = make_request("GET", "/ping");
            break;
        case kind::kv_put:
            key = "fault-c" + std::to_string(id_) + "-" + std::to_string(seq_);
            value = "value of " + key + " " + std::string(static_cast<std::size_t>(seq_ % 200), 'v');
            raw = make_request("PUT", "/kv/" + key, {}, value);
            break;
        case kind::kv_get:
            raw = make_request("GET", "/kv/" + last_put_->first);
            break;
        case kind::hash:
            raw = make_request("POST", "/hash?alg=sha256", {}, hash_body_);
            break;
        case kind::password:
            raw = make_request("POST", "/passwords/hash", {{"Content-Type", "application/json"}},
                               R"({"password":"pw-)" + std::to_string(id_) + "-" + std::to_string(seq_) + R"("})");
            break;
        }

        try {
            if (!conn_)
                conn_.emplace(port_);
        } catch (std::system_error const& e) {
            refused_ = true;
            r.error = std::string("connect: ") + e.what();
            r.done = clock_type::now();
            return r;
        }
        try {
            if (!conn_->try_send(raw, timeout)) {
                r.error = "send: the connection was closed";
                conn_.reset();
                r.done = clock_type::now();
                return r;
            }
            r.sent = clock_type::now();
            auto rep = conn_->try_read_response(false, timeout);
            r.done = clock_type::now();
            if (!rep) {
                r.error = "the connection ended without an answer";
                conn_.reset();
                return r;
            }
            r.status = rep->status();
            if (!rep->message.keep_alive())
                conn_.reset();
            if (!r.ok()) {
                try {
                    r.code = std::string(rep->json().at("code").as_string());
                } catch (std::exception const&) {
                    r.code = "(not a problem document)";
                }
                return r;
            }
            r.error = check_body(k, *rep, key, value);
        } catch (std::exception const& e) {
            r.done = clock_type::now();
            r.error = e.what();
            conn_.reset();
        }
        return r;
    }

    // "" when a 2xx answer says what it should.
    std::string check_body(kind k, reply const& rep, std::string const& key, std::string const& value)
    {
        switch (k) {
        case kind::ping:
            return rep.body() == "pong\n" ? "" : "ping body " + rep.body();
        case kind::kv_put:
            if (rep.status() != 201)
                return "a new key answered " + std::to_string(rep.status());
            last_put_ = {key, value};
            return "";
        case kind::kv_get:
            return rep.body() == last_put_->second ? "" : "GET /kv answered other bytes than were stored";
        case kind::hash: {
            auto o = rep.json();
            bool good = o.at("bytes").to_number<std::size_t>() == hash_body_.size() &&
                        o.at("digest").as_string().size() == 64;
            return good ? "" : "hash answer " + rep.body();
        }
        case kind::password:
            return rep.json().at("hash").as_string().starts_with("$argon2id$") ? "" : "password answer " + rep.body();
        }
        return "";
    }

    // Generous: while workers are killed faster than they start, a job may wait for a
    // worker through the pool's back-off and a slow start on a loaded machine.
    static constexpr std::chrono::milliseconds timeout = 60s;

    unsigned short port_;
    int id_;
    bool light_;
    long seq_ = 0;
    bool refused_ = false;
    std::optional<connection> conn_;
    std::string hash_body_;
    std::optional<std::pair<std::string, std::string>> last_put_;
};

// Runs `light` clients of ping and /kv and `full` clients of every kind until joined;
// the records of all of them, when joined.
class mixed_load {
public:
    mixed_load(unsigned short port, int light, int full)
    {
        for (int i = 0; i < light + full; ++i)
            clients_.push_back(std::make_unique<load_client>(port, i, i < light));
        for (auto& c : clients_)
            threads_.emplace_back([&c, this] { c->run(stop_); });
    }
    ~mixed_load() { join(); }
    mixed_load(mixed_load const&) = delete;
    mixed_load& operator=(mixed_load const&) = delete;

    std::vector<record> join()
    {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable())
                t.join();
        std::vector<record> all;
        for (auto& c : clients_)
            all.insert(all.end(), c->records.begin(), c->records.end());
        return all;
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::unique_ptr<load_client>> clients_;
    std::vector<std::thread> threads_;
};

// "ping=412 kv_put=… " and "200=…; 500 worker_crashed=…" for the figures line.
std::string counts_by_kind(std::vector<record> const& rs)
{
    std::map<std::string, int> n;
    for (auto const& r : rs)
        ++n[name_of(r.k)];
    std::ostringstream out;
    for (kind k : all_kinds)
        out << ' ' << name_of(k) << '=' << n[name_of(k)];
    return out.str();
}

std::string counts_by_outcome(std::vector<record> const& rs)
{
    std::map<std::string, int> n;
    for (auto const& r : rs)
        ++n[r.ok() ? std::string("ok") : r.outcome()];
    std::ostringstream out;
    for (auto const& [what, count] : n)
        out << " [" << what << "]=" << count;
    return out.str();
}

// ---- the worker pool, as /loop and /proc see it ---------------------------------------------

double pool_field(boost::json::object const& loop, std::string_view field)
{
    return number_at(loop, "worker_pool/" + std::string(field));
}

std::set<pid_t> pids_in(boost::json::object const& loop)
{
    std::set<pid_t> out;
    for (auto const& v : loop.at("worker_pool").at("pids").as_array())
        out.insert(v.to_number<pid_t>());
    return out;
}

// Every configured worker is up, and the server's children are exactly those workers.
bool pool_is_whole(server_process const& srv, std::size_t workers)
{
    auto loop = loop_snapshot(srv.port());
    auto pids = pids_in(loop);
    return pool_field(loop, "alive") == static_cast<double>(workers) && pids.size() == workers &&
           children_of(srv.pid()) == pids && no_zombie_children(srv.pid());
}

// The server's log lines "respawning in N ms" with N > 0: the pool backed off.
std::vector<long> respawn_delays(server_process const& srv)
{
    std::vector<long> out;
    for (auto const& line : srv.log_lines_after_listening()) {
        auto at = line.find("respawning in ");
        if (at == std::string::npos)
            continue;
        long ms = std::atol(line.c_str() + at + 14);
        if (ms > 0)
            out.push_back(ms);
    }
    return out;
}

// ---- the database file ----------------------------------------------------------------------

// PRAGMA integrity_check of a database file, with SQLite itself ("ok" when sound).
std::string integrity_check(std::string const& path)
{
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
        out = std::string("cannot open: ") + (db ? sqlite3_errmsg(db) : "?");
    } else {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK) {
            out = std::string("cannot check: ") + sqlite3_errmsg(db);
        } else {
            while (sqlite3_step(st) == SQLITE_ROW) {
                if (!out.empty())
                    out += "; ";
                out += reinterpret_cast<char const*>(sqlite3_column_text(st, 0));
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

// The value stored under `key`, read from the file with SQLite; nullopt when absent.
std::optional<std::string> stored_value(std::string const& path, std::string const& key)
{
    sqlite3* db = nullptr;
    std::optional<std::string> out;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT value FROM kv WHERE key = ?", -1, &st, nullptr) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                out = std::string(static_cast<char const*>(sqlite3_column_blob(st, 0)),
                                  static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

// ---- kill -9 of random workers under mixed load ---------------------------------------------

TEST(fault, fails_only_the_requests_on_workers_killed_at_random_and_keeps_the_pool_whole)
{
    constexpr std::size_t workers = 3;
    server_process srv({"--workers", std::to_string(workers)}, {}, start_timeout);
    ASSERT_TRUE(eventually([&] { return pool_is_whole(srv, workers); }, 30s)) << srv.log();

    mixed_load load(srv.port(), 2, 4);
    std::this_thread::sleep_for(300ms);  // every client under way

    // Every 200 ms for 10 s, SIGKILL one of the server's children (busy, idle or still
    // starting), chosen at random; a process already killed is not counted twice.
    auto const seed = std::random_device{}();
    std::mt19937 rng(seed);
    int kills = 0;
    std::set<std::pair<pid_t, unsigned long long>> killed;  // pid and start time
    std::vector<double> alive;                               // /loop's worker_pool.alive at each turn
    auto const started = clock_type::now();
    for (auto next = started + 200ms; next <= started + 10s; next += 200ms) {
        std::this_thread::sleep_until(next);
        alive.push_back(pool_field(loop_snapshot(srv.port()), "alive"));
        std::vector<std::pair<pid_t, unsigned long long>> live;
        for (pid_t pid : children_of(srv.pid())) {
            auto st = read_proc_stat(pid);
            if (st && is_running(pid) && !killed.contains({pid, st->start_time}))
                live.emplace_back(pid, st->start_time);
        }
        if (live.empty())
            continue;
        auto victim = live[std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng)];
        if (::kill(victim.first, SIGKILL) == 0) {
            ++kills;
            killed.insert(victim);
        }
    }
    auto const records = load.join();

    // Every failure is a worker job that answered 500 worker_crashed: no other status, no
    // socket error, no timeout; ping and /kv never fail.
    int crashed = 0;
    std::size_t failed = 0;
    std::map<kind, int> ok;
    std::vector<std::string> unexpected;
    for (auto const& r : records) {
        if (r.ok()) {
            ++ok[r.k];
            continue;
        }
        ++failed;
        if (needs_worker(r.k) && r.status == 500 && r.code == "worker_crashed" && r.error.empty())
            ++crashed;
        else if (unexpected.size() < 10)
            unexpected.push_back(std::string(name_of(r.k)) + ": " + r.outcome());
    }
    EXPECT_EQ(failed, static_cast<std::size_t>(crashed)) << "failures other than 500 worker_crashed, e.g.:\n"
                                                         << ::testing::PrintToString(unexpected);
    EXPECT_LE(crashed, kills) << "more requests failed than workers were killed";
    EXPECT_GT(crashed, 0) << "no kill hit a busy worker: the test proved nothing";
    for (kind k : {kind::ping, kind::kv_put, kind::kv_get})
        EXPECT_GT(ok[k], 0) << name_of(k) << " never succeeded";

    // Afterwards the pool is whole: as many workers as configured, each a live child of
    // the server, none left a zombie, every kill counted once and replaced; it hashes.
    EXPECT_TRUE(eventually([&] { return pool_is_whole(srv, workers); }, 20s))
        << boost::json::serialize(loop_snapshot(srv.port()));
    auto loop = loop_snapshot(srv.port());
    EXPECT_EQ(pool_field(loop, "crashes"), kills) << boost::json::serialize(loop);
    EXPECT_EQ(pool_field(loop, "respawns"), kills) << boost::json::serialize(loop);
    EXPECT_EQ(get(srv.port(), "/readyz").status(), 200u);
    auto hashed = send(srv.port(), "POST", "/hash?alg=sha256", {}, "after the storm");
    EXPECT_EQ(hashed.status(), 200u) << hashed;
    auto password = send(srv.port(), "POST", "/passwords/hash", {{"Content-Type", "application/json"}},
                         R"({"password":"after the storm"})", 30s);
    EXPECT_EQ(password.status(), 200u) << password;

    auto const backoffs = respawn_delays(srv);
    double alive_sum = 0;
    for (double a : alive)
        alive_sum += a;
    std::cout << "fault-figures kill9: seed=" << seed << " workers=" << workers << " kills=" << kills
              << " alive_avg=" << (alive.empty() ? 0.0 : alive_sum / static_cast<double>(alive.size()))
              << " requests=" << records.size() << counts_by_kind(records) << " ok=" << records.size() - failed
              << " worker_crashed=" << crashed << " other_failures=" << failed - static_cast<std::size_t>(crashed)
              << " respawn_backoffs=" << backoffs.size() << " max_backoff_ms="
              << (backoffs.empty() ? 0 : *std::max_element(backoffs.begin(), backoffs.end()))
              << " outcomes:" << counts_by_outcome(records) << '\n';
}

// ---- SIGTERM under mixed load ---------------------------------------------------------------

TEST(fault, answers_every_request_sent_before_sigterm_and_exits_0)
{
    constexpr std::chrono::milliseconds grace = 10s;
    server_process srv({"--workers", "2", "--shutdown-grace-ms", std::to_string(grace.count())}, {}, start_timeout);
    ASSERT_TRUE(eventually([&] { return pool_is_whole(srv, 2); }, 30s)) << srv.log();

    mixed_load load(srv.port(), 2, 4);
    std::this_thread::sleep_for(1500ms);
    auto const signalled = clock_type::now();
    srv.terminate();
    auto const st = srv.wait_exit(grace + 5s);
    auto const exited = clock_type::now();
    auto const records = load.join();

    ASSERT_TRUE(st.has_value()) << "still running " << (grace + 5s).count() << " ms after SIGTERM";
    EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();
    EXPECT_LT(ms_between(signalled, exited), static_cast<double>(grace.count()));

    // Sent before the signal: answered, 2xx, whatever the request. Sent after it (on a
    // connection the server was closing): not answered, or answered 2xx.
    int before = 0;
    int in_flight = 0;  // sent before the signal, answered after it
    int after_unanswered = 0;
    std::vector<std::string> failed;
    for (auto const& r : records) {
        bool const sent_before = r.sent && *r.sent < signalled;
        if (sent_before) {
            ++before;
            if (r.done >= signalled)
                ++in_flight;
            if (!r.ok())
                failed.push_back(std::string(name_of(r.k)) + ": " + r.outcome() + ", sent " +
                                 std::to_string(ms_between(*r.sent, signalled)) + " ms before the signal");
        } else if (r.status != 0) {
            if (!r.ok())
                failed.push_back(std::string(name_of(r.k)) + " sent after the signal: " + r.outcome());
        } else {
            ++after_unanswered;
        }
    }
    EXPECT_TRUE(failed.empty()) << failed.size() << " failed:\n" << ::testing::PrintToString(failed);
    EXPECT_GT(in_flight, 0) << "no request was in flight at the signal: the test proved nothing";

    std::cout << "fault-figures sigterm: requests=" << records.size() << counts_by_kind(records)
              << " sent_before_signal=" << before << " in_flight_at_signal=" << in_flight
              << " failed=" << failed.size() << " unanswered_after_signal=" << after_unanswered
              << " exit=" << (st ? st->code : -1) << " exit_ms=" << static_cast<long>(ms_between(signalled, exited))
              << " outcomes:" << counts_by_outcome(records) << '\n';
}

// ---- SIGKILL of the whole service during writes ---------------------------------------------

// Every PUT a writer sent, in order, and whether it was acknowledged.
struct put_log {
    struct put {
        std::string key;
        std::string value;
        bool acked = false;
    };
    std::vector<put> puts;
    std::string unexpected;  // an answer that was neither a success nor the end of the server
};

// Writes keys "<prefix>-k<0..39>" over and over with new values until the server is gone.
void write_until_gone(unsigned short port, std::string const& prefix, put_log& log)
{
    try {
        connection c(port);
        for (long i = 0;; ++i) {
            put_log::put p;
            p.key = prefix + "-k" + std::to_string(i % 40);
            p.value = prefix + " write " + std::to_string(i) + " " +
                      std::string(static_cast<std::size_t>(100 + (i * 37) % 2000), static_cast<char>('a' + i % 26));
            log.puts.push_back(p);
            if (!c.try_send(make_request("PUT", "/kv/" + p.key, {}, p.value), 10s))
                return;
            auto r = c.try_read_response(false, 10s);
            if (!r)
                return;
            if (r->status() == 200 || r->status() == 201) {
                log.puts.back().acked = true;
            } else {
                log.unexpected = std::to_string(r->status()) + " " + r->body();
                return;
            }
        }
    } catch (std::exception const&) {
        // The server went away between two requests.
    }
}

TEST(fault, keeps_every_acknowledged_write_across_sigkill_of_the_whole_service)
{
    subreaper_scope reaper;  // the killed server's workers come here, and are collected
    temp_dir dir;
    auto const db = dir.file("fault.db");
    std::vector<std::string> const args{"--workers", "1", "--db", db};
    std::vector<put_log> logs;  // of every writer of every round
    std::ostringstream figures;
    int acked_total = 0;

    // Every acknowledged key holds its last acknowledged value or a value written after it
    // (a write in flight at the kill may or may not have been committed).
    auto verify = [&](unsigned short port, int& in_flight_committed) -> ::testing::AssertionResult {
        connection c(port);
        for (auto const& log : logs) {
            std::map<std::string, std::size_t> last_acked;
            for (std::size_t i = 0; i < log.puts.size(); ++i)
                if (log.puts[i].acked)
                    last_acked[log.puts[i].key] = i;
            std::set<std::string> keys;
            for (auto const& p : log.puts)
                keys.insert(p.key);
            for (auto const& key : keys) {
                auto r = c.get("/kv/" + key);
                auto it = last_acked.find(key);
                std::size_t from = it == last_acked.end() ? 0 : it->second;
                if (it == last_acked.end() && r.status() == 404)
                    continue;  // never acknowledged, and not committed
                if (r.status() != 200)
                    return ::testing::AssertionFailure() << "acknowledged key " << key << " answered\n" << r;
                bool found = false;
                for (std::size_t i = from; i < log.puts.size() && !found; ++i) {
                    if (log.puts[i].key == key && log.puts[i].value == r.body()) {
                        found = true;
                        if (!log.puts[i].acked)
                            ++in_flight_committed;
                    }
                }
                if (!found)
                    return ::testing::AssertionFailure()
                           << "key " << key << " holds a value older than its last acknowledged write: "
                           << r.body().substr(0, 40);
            }
        }
        return ::testing::AssertionSuccess();
    };

    for (auto const kill_after : {300ms, 700ms, 1200ms}) {
        int const round = static_cast<int>(kill_after.count());
        // Listening means the database is open (it opens before the listener); /kv
        // needs no worker, so the writes need not wait for the pool.
        auto srv = std::make_unique<server_process>(args, env_vars{}, start_timeout);
        for (pid_t pid : children_of(srv->pid()))
            reaper.watch(pid);

        std::size_t const first = logs.size();
        logs.resize(logs.size() + 4);
        std::vector<std::thread> writers;
        for (std::size_t w = 0; w < 4; ++w)
            writers.emplace_back([&, w] {
                write_until_gone(srv->port(), "r" + std::to_string(round) + "-w" + std::to_string(w), logs[first + w]);
            });
        std::this_thread::sleep_for(kill_after);
        srv->kill();
        auto st = srv->wait_exit(5s);
        for (auto& t : writers)
            t.join();
        ASSERT_TRUE(st.has_value());
        EXPECT_EQ(st->signal, SIGKILL);

        int acked = 0;
        int unacked = 0;
        for (std::size_t i = first; i < logs.size(); ++i) {
            EXPECT_EQ(logs[i].unexpected, "") << "a write answered neither 2xx nor by the server's end";
            for (auto const& p : logs[i].puts)
                (p.acked ? acked : unacked) += 1;
        }
        acked_total += acked;
        EXPECT_GT(acked, 0) << "no write was acknowledged before the kill at " << round << " ms";
        bool const wal_left = fs::exists(db + "-wal") && fs::file_size(db + "-wal") > 0;
        EXPECT_TRUE(wal_left) << "the kill left no write-ahead log to recover";

        // Restarted on the same file: it opens, and every acknowledged write of every round is there.
        srv = std::make_unique<server_process>(args, env_vars{}, start_timeout);
        int in_flight_committed = 0;
        EXPECT_TRUE(verify(srv->port(), in_flight_committed)) << "after the kill at " << round << " ms";
        srv->terminate();
        auto end = srv->wait_exit(10s);
        ASSERT_TRUE(end.has_value());
        EXPECT_EQ(*end, exit_status::exited(0)) << srv->log();
        figures << " kill_at_" << round << "ms:acked=" << acked << ",unacked_in_flight=" << unacked
                << ",in_flight_found_committed=" << in_flight_committed << ",wal_left=" << wal_left;
    }
    EXPECT_EQ(integrity_check(db), "ok");
    std::cout << "fault-figures sigkill: rounds=3 acked_total=" << acked_total << figures.str() << '\n';
}

// ---- the database's filesystem full ---------------------------------------------------------

// A tmpfs of `size` mounted on `dir` for the length of a test; unmounted (lazily, so a
// process still holding a file cannot keep it) at the end, whatever happened.
class tmpfs_mount {
public:
    tmpfs_mount(std::string dir, std::string const& size) : dir_(std::move(dir))
    {
        std::string const options = "size=" + size + ",mode=0700";
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0)
            mounted_ = true;
        else
            error_ = std::strerror(errno);
    }
    ~tmpfs_mount()
    {
        if (mounted_)
            ::umount2(dir_.c_str(), MNT_DETACH);
    }
    tmpfs_mount(tmpfs_mount const&) = delete;
    tmpfs_mount& operator=(tmpfs_mount const&) = delete;

    bool mounted() const noexcept { return mounted_; }
    std::string const& error() const noexcept { return error_; }

private:
    std::string dir_;
    bool mounted_ = false;
    std::string error_;
};

// Writes `path` until the filesystem has no room left; the bytes written.
std::size_t fill_up(std::string const& path)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    std::string chunk(64 * 1024, 'f');
    std::size_t total = 0;
    for (std::size_t size = chunk.size(); size > 0; size /= 4) {
        for (;;) {
            ssize_t n = ::write(fd, chunk.data(), size);
            if (n > 0) {
                total += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            break;  // ENOSPC: try smaller pieces
        }
    }
    ::close(fd);
    return total;
}

TEST(fault, answers_507_to_writes_and_keeps_reading_while_the_disk_is_full)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "mounting the small tmpfs the database lives on needs root";
    temp_dir dir;
    fs::create_directory(dir.path() / "fs");
    tmpfs_mount fs_mount(dir.file("fs"), "4m");
    if (!fs_mount.mounted())
        GTEST_SKIP() << "cannot mount a tmpfs here (" << fs_mount.error() << "); is this a container without CAP_SYS_ADMIN?";
    auto const db = dir.file("fs/full.db");
    auto const filler = dir.file("fs/filler");

    server_process srv({"--workers", "1", "--db", db}, {}, start_timeout);
    connection c(srv.port());
    std::map<std::string, std::string> acked;
    auto value_for = [](std::string const& key) { return key + ":" + std::string(16 * 1024, key.back()); };
    auto put = [&](std::string const& key) {
        auto value = value_for(key);
        auto r = c.request(make_request("PUT", "/kv/" + key, {}, value), false, 10s);
        if (r.status() == 200 || r.status() == 201)
            acked[key] = value;
        return r;
    };
    for (int i = 0; i < 10; ++i)
        ASSERT_EQ(put("before-" + std::to_string(i)).status(), 201u);

    // Full: writes fail with 507 storage_full (a few may still fit in space SQLite holds).
    std::size_t const filled = fill_up(filler);
    int fitted = 0;
    std::optional<reply> refused;
    for (int i = 0; i < 100 && !refused; ++i) {
        auto r = put("while-full-" + std::to_string(i));
        if (r.status() == 201)
            ++fitted;
        else
            refused = r;
    }
    ASSERT_TRUE(refused.has_value()) << "100 writes of 16 KiB fitted on a full 4 MiB filesystem";
    EXPECT_TRUE(is_problem(*refused, 507, "storage_full"));
    EXPECT_TRUE(has_standard_headers(*refused));
    int refused_count = 1;
    for (int i = 0; i < 5; ++i) {
        auto r = put("still-full-" + std::to_string(i));
        EXPECT_TRUE(is_problem(r, 507, "storage_full")) << "write " << i << " while still full";
        refused_count += r.status() == 507;
    }

    // Reads go on: every acknowledged key, on this connection and on fresh ones; the probes too.
    int reads = 0;
    for (auto const& [key, value] : acked) {
        auto r = c.get("/kv/" + key);
        EXPECT_EQ(r.status(), 200u) << key;
        EXPECT_TRUE(r.body() == value) << key;
        ++reads;
    }
    EXPECT_EQ(get(srv.port(), "/ping").body(), "pong\n");
    EXPECT_EQ(get(srv.port(), "/kv/before-0").status(), 200u);
    EXPECT_EQ(get(srv.port(), "/healthz").status(), 200u);

    // Space returns: writes succeed again, on every connection of the pool's threads.
    fs::remove(filler);
    int after = 0;
    for (int i = 0; i < 10; ++i) {
        auto r = put("after-" + std::to_string(i));
        EXPECT_EQ(r.status(), 201u) << r;
        after += r.status() == 201;
    }
    for (int i = 0; i < 4; ++i) {
        auto r = send(srv.port(), "PUT", "/kv/after-fresh-" + std::to_string(i), {}, "fresh");
        EXPECT_EQ(r.status(), 201u) << r;
        if (r.status() == 201) {
            acked["after-fresh-" + std::to_string(i)] = "fresh";
            ++after;
        }
    }
    c.close();

    srv.terminate();
    auto st = srv.wait_exit(10s);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, exit_status::exited(0)) << srv.log();

    // Nothing corrupt: SQLite finds the file sound, and every acknowledged write in it.
    EXPECT_EQ(integrity_check(db), "ok");
    int missing = 0;
    for (auto const& [key, value] : acked) {
        auto v = stored_value(db, key);
        EXPECT_TRUE(v && *v == value) << key << (v ? " holds other bytes" : " is missing");
        missing += !(v && *v == value);
    }
    std::cout << "fault-figures disk_full: tmpfs=4MiB filler_bytes=" << filled << " acked_before=10"
              << " fitted_after_fill=" << fitted << " refused_507=" << refused_count << " reads_while_full=" << reads
              << " writes_after_space_returned=" << after << " acked_total=" << acked.size()
              << " missing_after_stop=" << missing << " integrity=" << integrity_check(db) << '\n';
}

}  // namespace
