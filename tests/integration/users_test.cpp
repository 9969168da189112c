// /users and /login over HTTP against the real binary: registration (hash in the worker
// pool, row in the blocking pool), the hash never shown, duplicate usernames refused even
// when the requests race, validation, and logins that answer an unknown user and a wrong
// password alike, in about the same time.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"
#include "store_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <future>
#include <iostream>
#include <latch>
#include <map>
#include <regex>
#include <set>
#include <thread>
#include <string>
#include <vector>

namespace {

using namespace itest;

// Cheap Argon2id parameters for the tests that are not about its cost.
std::vector<std::string> fast_args()
{
    return {"--workers", "2", "--argon2-memory-kib", "8", "--argon2-iterations", "1"};
}

std::string credentials(std::string_view username, std::string_view password)
{
    return boost::json::serialize(boost::json::object{{"username", username}, {"password", password}});
}

reply post_json(unsigned short port, std::string_view target, std::string_view body,
                std::string_view content_type = "application/json")
{
    headers h;
    if (!content_type.empty())
        h.emplace_back("Content-Type", std::string(content_type));
    return send(port, "POST", target, h, body);
}

reply register_user(unsigned short port, std::string_view username, std::string_view password = "correct horse")
{
    return post_json(port, "/users", credentials(username, password));
}

reply login(unsigned short port, std::string_view username, std::string_view password)
{
    return post_json(port, "/login", credentials(username, password));
}

// No answer shows a password hash, under any name.
::testing::AssertionResult shows_no_hash(reply const& r)
{
    for (auto needle : {"argon2", "$v=", "$m=", "\"hash\"", "\"password", "password_hash"})
        if (r.body().find(needle) != std::string::npos)
            return ::testing::AssertionFailure() << "\"" << needle << "\" in\n" << r;
    return ::testing::AssertionSuccess();
}

// {"id","username","created_at"} and nothing else; created_at ISO 8601 UTC, about now.
::testing::AssertionResult is_user(reply const& r, unsigned status, std::string_view username)
{
    auto fail = [&](std::string const& why) { return ::testing::AssertionFailure() << why << " in\n" << r; };
    if (r.status() != status)
        return fail("status " + std::to_string(r.status()));
    if (r.header("Content-Type") != "application/json")
        return fail("Content-Type " + r.header("Content-Type"));
    if (auto h = shows_no_hash(r); !h)
        return h;
    auto j = r.json();
    if (j.size() != 3 || !j.contains("id") || !j.contains("username") || !j.contains("created_at"))
        return fail("not exactly id, username, created_at");
    if (!j.at("id").is_int64() || j.at("id").as_int64() < 1)
        return fail("id is not a positive integer");
    if (!j.at("username").is_string() || j.at("username").as_string() != username)
        return fail("username is not " + std::string(username));
    if (!j.at("created_at").is_string())
        return fail("created_at is not a string");
    std::string const at(j.at("created_at").as_string());
    static std::regex const iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
    if (!std::regex_match(at, iso))
        return fail("created_at \"" + at + "\" is not YYYY-MM-DDTHH:MM:SSZ");
    std::tm tm{};
    ::strptime(at.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    auto skew = std::abs(static_cast<long>(::timegm(&tm) - std::time(nullptr)));
    if (skew > 120)
        return fail("created_at is " + std::to_string(skew) + " s away from now");
    return ::testing::AssertionSuccess();
}

// The same problem document (every field) and the same header names, but for the
// headers that differ on every answer.
::testing::AssertionResult same_answer(reply const& a, reply const& b)
{
    if (a.status() != b.status() || a.body() != b.body())
        return ::testing::AssertionFailure() << "different answers:\n" << a << "\nand\n" << b;
    auto names = [](reply const& r) {
        std::set<std::string> out;
        for (auto const& f : r.message) {
            std::string n(f.name_string());
            std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
            if (n != "date" && n != "x-request-id")
                out.insert(n + ": " + std::string(f.value()));
        }
        return out;
    };
    if (names(a) != names(b))
        return ::testing::AssertionFailure() << "different headers:\n" << a << "\nand\n" << b;
    return ::testing::AssertionSuccess();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// ---- POST /users, GET /users/{username} -------------------------------------------------

TEST(users, registers_a_user_and_never_shows_its_hash)
{
    server_process srv(fast_args());
    auto alice = register_user(srv.port(), "alice");
    ASSERT_TRUE(is_user(alice, 201, "alice"));
    EXPECT_TRUE(has_standard_headers(alice));
    auto const id = alice.json().at("id").as_int64();

    auto found = get(srv.port(), "/users/alice");
    ASSERT_TRUE(is_user(found, 200, "alice"));
    EXPECT_EQ(found.json(), alice.json()) << "GET answers what POST created";
    auto h = head(srv.port(), "/users/alice");
    EXPECT_EQ(h.status(), 200u) << h;
    EXPECT_TRUE(h.body().empty());

    auto bob = register_user(srv.port(), "Bob.the-builder_2");
    ASSERT_TRUE(is_user(bob, 201, "Bob.the-builder_2"));
    EXPECT_NE(bob.json().at("id").as_int64(), id);
    EXPECT_TRUE(is_user(get(srv.port(), "/users/Bob.the-builder_2"), 200, "Bob.the-builder_2"));
    // Usernames compare exactly.
    EXPECT_TRUE(is_problem(get(srv.port(), "/users/bob.the-builder_2"), 404, "not_found"));
    EXPECT_TRUE(is_user(register_user(srv.port(), "ALICE"), 201, "ALICE"));
}

TEST(users, answers_404_for_an_unknown_user)
{
    server_process srv(fast_args());
    for (std::string name : std::vector<std::string>{"nobody", "ab", std::string(65, 'x'), "bad%20name", "%C3%BC%C3%BC%C3%BC"}) {
        SCOPED_TRACE(name);
        auto r = get(srv.port(), "/users/" + name);
        EXPECT_TRUE(is_problem(r, 404, "not_found"));
    }
}

TEST(users, refuses_a_taken_username_with_409)
{
    server_process srv(fast_args());
    auto first = register_user(srv.port(), "carol", "first password");
    ASSERT_TRUE(is_user(first, 201, "carol"));
    auto again = register_user(srv.port(), "carol", "another password");
    EXPECT_TRUE(is_problem(again, 409, "username_taken"));
    EXPECT_TRUE(shows_no_hash(again));
    // The first registration stands: its password logs in, the second's does not.
    auto ok = login(srv.port(), "carol", "first password");
    EXPECT_EQ(ok.status(), 200u) << ok;
    EXPECT_TRUE(is_problem(login(srv.port(), "carol", "another password"), 401, "invalid_credentials"));
    EXPECT_EQ(get(srv.port(), "/users/carol").json(), first.json());
}

// 20 registrations of one username sent at the same moment: exactly one 201.
void check_raced_registrations(server_process& srv)
{
    constexpr int racers = 20;
    std::latch start(racers);
    std::vector<std::future<reply>> answers;
    for (int i = 0; i < racers; ++i) {
        answers.push_back(std::async(std::launch::async, [&, i] {
            connection c(srv.port());
            auto req = make_request("POST", "/users", {{"Content-Type", "application/json"}},
                                    credentials("dave", "password " + std::to_string(i)));
            start.arrive_and_wait();
            return c.request(req, false, 20s);
        }));
    }
    std::map<unsigned, int> statuses;
    std::optional<reply> winner;
    for (auto& f : answers) {
        auto r = f.get();
        ++statuses[r.status()];
        if (r.status() == 201) {
            EXPECT_TRUE(is_user(r, 201, "dave"));
            winner = r;
        } else {
            EXPECT_TRUE(is_problem(r, 409, "username_taken"));
        }
    }
    EXPECT_EQ(statuses[201], 1);
    EXPECT_EQ(statuses[409], racers - 1);
    ASSERT_TRUE(winner.has_value());
    EXPECT_EQ(get(srv.port(), "/users/dave").json(), winner->json());
}

TEST(users, registers_a_raced_username_exactly_once_in_a_file)
{
    temp_dir dir;
    auto args = fast_args();
    args.insert(args.end(), {"--db", dir.file("users.db")});
    server_process srv(args);
    check_raced_registrations(srv);
}

TEST(users, registers_a_raced_username_exactly_once_in_memory)
{
    server_process srv(fast_args());
    check_raced_registrations(srv);
}

TEST(users, refuses_bad_usernames_with_400)
{
    server_process srv(fast_args());
    std::vector<std::string> const bad{"ab", std::string(65, 'a'), "bad name", "\xC3\xBC", "\xC3\xBC\xC3\xBC\xC3\xBC",
                                       "", "a/b/c", "semi;colon", "tab\tname", std::string("nul\0name", 8)};
    for (auto const& name : bad) {
        SCOPED_TRACE("username \"" + name + "\"");
        auto r = register_user(srv.port(), name);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_NE(r.json().at("detail").as_string().find("username"), boost::json::string::npos) << r;
        }
    }
    for (std::string body : {R"({"password":"pw"})", R"({"username":42,"password":"pw"})",
                             R"({"username":null,"password":"pw"})", R"({"username":["abc"],"password":"pw"})"}) {
        SCOPED_TRACE(body);
        auto r = post_json(srv.port(), "/users", body);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_NE(r.json().at("detail").as_string().find("username"), boost::json::string::npos) << r;
        }
    }
    // The edges that are allowed.
    EXPECT_TRUE(is_user(register_user(srv.port(), "abc"), 201, "abc"));
    EXPECT_TRUE(is_user(register_user(srv.port(), std::string(64, 'a')), 201, std::string(64, 'a')));
    EXPECT_TRUE(is_user(register_user(srv.port(), "A.Z-0_9"), 201, "A.Z-0_9"));
    EXPECT_TRUE(is_problem(get(srv.port(), "/users/ab"), 404, "not_found")) << "nothing was stored for a bad name";
}

TEST(users, refuses_an_empty_or_too_long_password_with_400)
{
    server_process srv(fast_args());
    for (std::string password : {std::string(), std::string(1025, 'p')}) {
        SCOPED_TRACE(std::to_string(password.size()) + " bytes");
        auto r = register_user(srv.port(), "erin", password);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_NE(r.json().at("detail").as_string().find("password"), boost::json::string::npos) << r;
        }
    }
    for (std::string body : {R"({"username":"erin"})", R"({"username":"erin","password":12345})"}) {
        SCOPED_TRACE(body);
        EXPECT_TRUE(is_problem(post_json(srv.port(), "/users", body), 400, "bad_request"));
    }
    EXPECT_TRUE(is_problem(get(srv.port(), "/users/erin"), 404, "not_found"));
    // 1 and 1024 bytes are fine, and log in.
    EXPECT_TRUE(is_user(register_user(srv.port(), "erin", std::string(1024, 'p')), 201, "erin"));
    EXPECT_TRUE(is_user(register_user(srv.port(), "frank", "p"), 201, "frank"));
    EXPECT_EQ(login(srv.port(), "erin", std::string(1024, 'p')).status(), 200u);
    EXPECT_EQ(login(srv.port(), "frank", "p").status(), 200u);
}

TEST(users, wants_a_json_object_body)
{
    server_process srv(fast_args());
    for (std::string target : {"/users", "/login"}) {
        SCOPED_TRACE(target);
        auto body = credentials("grace", "pw");
        EXPECT_TRUE(is_problem(post_json(srv.port(), target, body, "text/plain"), 415, "unsupported_media_type"));
        EXPECT_TRUE(
            is_problem(post_json(srv.port(), target, body, "application/x-www-form-urlencoded"), 415,
                       "unsupported_media_type"));
        for (std::string bad : {"{", "not json", "{\"username\":\"grace\",}", "[\"grace\",\"pw\"]", "\"grace\"", ""}) {
            SCOPED_TRACE("body " + bad);
            EXPECT_TRUE(is_problem(post_json(srv.port(), target, bad), 400, "bad_request"));
        }
        // Over the route's body limit.
        auto big = credentials("grace", std::string(64 * 1024, 'p'));
        EXPECT_TRUE(is_problem(post_json(srv.port(), target, big), 413, "body_too_large"));
    }
    // application/json with a charset, and no Content-Type at all, are JSON too.
    EXPECT_TRUE(is_user(post_json(srv.port(), "/users", credentials("grace", "pw"), "application/json; charset=utf-8"),
                        201, "grace"));
    EXPECT_TRUE(is_user(post_json(srv.port(), "/users", credentials("heidi", "pw"), ""), 201, "heidi"));
    EXPECT_TRUE(is_problem(get(srv.port(), "/users/grace2"), 404, "not_found"));
}

TEST(users, answers_405_with_allow_for_other_methods)
{
    server_process srv(fast_args());
    auto r = get(srv.port(), "/users");
    EXPECT_TRUE(is_problem(r, 405, "method_not_allowed"));
    EXPECT_NE(r.header("Allow").find("POST"), std::string::npos) << r;
    auto l = get(srv.port(), "/login");
    EXPECT_TRUE(is_problem(l, 405, "method_not_allowed"));
    EXPECT_NE(l.header("Allow").find("POST"), std::string::npos) << l;
    EXPECT_TRUE(is_problem(send(srv.port(), "DELETE", "/users/alice"), 405, "method_not_allowed"));
}

TEST(users, hashes_in_the_worker_pool_and_reads_and_writes_in_the_blocking_pool)
{
    server_process srv(fast_args());
    auto counts = [&] {
        auto loop = loop_snapshot(srv.port());
        return std::pair{number_at(loop, "worker_pool/completed"), number_at(loop, "blocking_pool/completed")};
    };
    auto const [w0, b0] = counts();
    ASSERT_TRUE(is_user(register_user(srv.port(), "karl", "pw"), 201, "karl"));
    EXPECT_TRUE(eventually([&] { return counts() == std::pair{w0 + 1, b0 + 1}; }, 2s))
        << "registration: one hash in a worker, one write in the blocking pool; now " << counts().first - w0 << ", "
        << counts().second - b0;
    ASSERT_EQ(login(srv.port(), "karl", "pw").status(), 200u);
    EXPECT_TRUE(eventually([&] { return counts() == std::pair{w0 + 2, b0 + 2}; }, 2s))
        << "login: one verification, one read; now " << counts().first - w0 << ", " << counts().second - b0;
    ASSERT_EQ(get(srv.port(), "/users/karl").status(), 200u);
    EXPECT_TRUE(eventually([&] { return counts() == std::pair{w0 + 2, b0 + 3}; }, 2s));
    // A refused body reaches neither pool.
    ASSERT_EQ(register_user(srv.port(), "k").status(), 400u);
    ASSERT_EQ(register_user(srv.port(), "karl2", "").status(), 400u);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(counts(), (std::pair{w0 + 2, b0 + 3}));
}

// ---- POST /login --------------------------------------------------------------------------

TEST(login, accepts_the_right_password)
{
    server_process srv(fast_args());
    auto reg = register_user(srv.port(), "ivan", "s3cret pass");
    ASSERT_TRUE(is_user(reg, 201, "ivan"));
    auto r = login(srv.port(), "ivan", "s3cret pass");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_TRUE(shows_no_hash(r));
    auto j = r.json();
    EXPECT_EQ(j.size(), 2u) << r;
    ASSERT_TRUE(j.at("ok").is_bool()) << r;
    EXPECT_TRUE(j.at("ok").as_bool());
    EXPECT_EQ(j.at("id"), reg.json().at("id"));
}

TEST(login, answers_the_same_401_for_a_wrong_password_and_an_unknown_user)
{
    server_process srv(fast_args());
    ASSERT_TRUE(is_user(register_user(srv.port(), "judy", "right"), 201, "judy"));
    auto wrong = login(srv.port(), "judy", "wrong");
    EXPECT_TRUE(is_problem(wrong, 401, "invalid_credentials"));
    EXPECT_TRUE(shows_no_hash(wrong));
    for (std::string user : {"nobody", "judy2", "JUDY", "x", "not a valid name!"}) {
        SCOPED_TRACE(user);
        auto unknown = login(srv.port(), user, "right");
        EXPECT_TRUE(is_problem(unknown, 401, "invalid_credentials"));
        EXPECT_TRUE(same_answer(wrong, unknown));
    }
    // Near misses of the password fail too; the right one still works.
    for (std::string pw : {"Right", "right ", "righ", ""}) {
        SCOPED_TRACE("password \"" + pw + "\"");
        auto r = login(srv.port(), "judy", pw);
        if (pw.empty()) {
            EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        } else {
            EXPECT_TRUE(same_answer(wrong, r));
        }
    }
    EXPECT_EQ(login(srv.port(), "judy", "right").status(), 200u);
}

TEST(login, takes_about_as_long_for_an_unknown_user_as_for_a_wrong_password)
{
    // The default (OWASP) Argon2id parameters: every verification costs some 10+ ms.
    server_process srv({"--workers", "2", "--argon2-memory-kib", "19456", "--argon2-iterations", "2"});
    ASSERT_TRUE(is_user(register_user(srv.port(), "mallory", "the real one"), 201, "mallory"));
    // Warm-up: the first unknown-user login may make the dummy hash; neither is measured.
    EXPECT_EQ(login(srv.port(), "nobody-at-all", "guess").status(), 401u);
    EXPECT_EQ(login(srv.port(), "mallory", "guess").status(), 401u);

    std::vector<double> unknown_ms, wrong_ms;
    for (int i = 0; i < 5; ++i) {
        // Interleaved, so that a busy moment of the machine hits both series alike.
        auto u = login(srv.port(), "unknown-" + std::to_string(i), "guess " + std::to_string(i));
        EXPECT_EQ(u.status(), 401u) << u;
        unknown_ms.push_back(u.elapsed_ms());
        auto w = login(srv.port(), "mallory", "guess " + std::to_string(i));
        EXPECT_EQ(w.status(), 401u) << w;
        wrong_ms.push_back(w.elapsed_ms());
    }
    double const mu = median(unknown_ms), mw = median(wrong_ms);
    std::cout << "[ info     ] login median: unknown user " << mu << " ms, wrong password " << mw << " ms\n";
    EXPECT_GE(mw, 5.0) << "a verification with the default parameters should take longer";
    EXPECT_GE(mu, 0.5 * mw) << "an unknown user is answered faster: unknown " << mu << " ms, wrong " << mw << " ms";
    EXPECT_LE(mu, 2.0 * mw) << "an unknown user is answered slower: unknown " << mu << " ms, wrong " << mw << " ms";
}

}  // namespace
