// The CPU endpoints on the worker pool, per API.md: GET /demo/cpu in each mode, POST /hash
// against published test vectors, and POST /passwords/{hash,verify} with Argon2id and
// every 400/415 case of the contract.
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace itest;

double pool_field(unsigned short port, std::string_view field)
{
    return number_at(loop_snapshot(port), "worker_pool/" + std::string(field));
}

// Unpadded standard base64 of exactly `chars` characters.
bool is_base64(std::string_view s, std::size_t chars)
{
    return s.size() == chars && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
    });
}

// ---- /demo/cpu ------------------------------------------------------------------------

TEST(demo_cpu, runs_in_a_worker_process_in_process_mode)
{
    server_process srv({"--workers", "2"});
    connection c(srv.port());
    auto r = c.get("/demo/cpu?n=1000&x=7&mode=process");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    auto j = r.json();
    EXPECT_EQ(j.at("mode").as_string(), "process");
    EXPECT_EQ(j.at("n").to_number<std::uint64_t>(), 1000u);
    EXPECT_EQ(j.at("x").to_number<std::uint64_t>(), 7u);
    EXPECT_EQ(j.at("result").to_number<std::uint64_t>(), 7000u);
    EXPECT_GE(j.at("elapsed_ms").to_number<double>(), 0.0);
    auto const pid = j.at("pid").to_number<long>();
    EXPECT_NE(pid, srv.pid());
    auto loop = loop_snapshot(srv.port());
    bool listed = false;
    for (auto const& v : loop.at("worker_pool").at("pids").as_array())
        listed = listed || v.to_number<long>() == pid;
    EXPECT_TRUE(listed) << "pid " << pid << " is not a worker: " << boost::json::serialize(loop);
    EXPECT_EQ(number_at(loop, "worker_pool/completed"), 1);
}

TEST(demo_cpu, runs_in_the_server_process_in_thread_and_inline_modes)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    for (std::string mode : {"thread", "inline"}) {
        SCOPED_TRACE(mode);
        auto r = c.get("/demo/cpu?n=12345&x=3&mode=" + mode);
        ASSERT_EQ(r.status(), 200u) << r;
        auto j = r.json();
        EXPECT_EQ(j.at("mode").as_string(), mode);
        EXPECT_EQ(j.at("result").to_number<std::uint64_t>(), 37035u);
        EXPECT_EQ(j.at("pid").to_number<long>(), srv.pid());
    }
    EXPECT_EQ(pool_field(srv.port(), "completed"), 0) << "no worker job for thread or inline";
    EXPECT_EQ(number_at(loop_snapshot(srv.port()), "blocking_pool/completed"), 1);
}

TEST(demo_cpu, answers_n_times_x_in_every_mode)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    struct cpu_case {
        std::uint64_t n, x;
    };
    cpu_case const cases[] = {{1, 0}, {1, 1}, {1, 1000}, {123457, 999}, {3'000'000, 1000}};
    for (std::string mode : {"process", "thread", "inline"})
        for (auto const& cc : cases) {
            SCOPED_TRACE(mode + " n=" + std::to_string(cc.n) + " x=" + std::to_string(cc.x));
            auto r = c.get("/demo/cpu?n=" + std::to_string(cc.n) + "&x=" + std::to_string(cc.x) + "&mode=" + mode);
            ASSERT_EQ(r.status(), 200u) << r;
            EXPECT_EQ(r.json().at("result").to_number<std::uint64_t>(), cc.n * cc.x);
        }
}

TEST(demo_cpu, rejects_bad_parameters_naming_them)
{
    server_process srv({"--workers", "1"});
    struct bad_case {
        char const* query;
        char const* param;
    };
    bad_case const cases[] = {
        {"n=0", "n"},
        {"n=2000000001", "n"},
        {"n=-1", "n"},
        {"n=abc", "n"},
        {"n=", "n"},
        {"n=1e6", "n"},
        {"n=99999999999999999999999", "n"},
        {"x=1001", "x"},
        {"x=-1", "x"},
        {"x=", "x"},
        {"mode=bogus", "mode"},
        {"mode=PROCESS", "mode"},
        {"mode=", "mode"},
    };
    connection c(srv.port());
    for (auto const& bc : cases) {
        SCOPED_TRACE(bc.query);
        auto r = c.get(std::string("/demo/cpu?") + bc.query);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_TRUE(names(r, bc.param)) << r;
        }
    }
    EXPECT_EQ(pool_field(srv.port(), "completed"), 0) << "a bad request reached a worker";
}

TEST(demo_cpu, accepts_the_ends_of_the_parameter_ranges)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    auto r = c.get("/demo/cpu?n=1&x=0&mode=process");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.json().at("result").to_number<std::uint64_t>(), 0u);
    // n = 2·10⁹ is in range: checked without running it (a 400 would come at once).
    connection other(srv.port());
    other.send(make_request("GET", "/demo/cpu?n=2000000000&x=1000&mode=process"));
    EXPECT_TRUE(eventually([&] { return pool_field(srv.port(), "busy") == 1; }, 3s))
        << "n=2000000000 was not accepted";
}

// ---- /hash ----------------------------------------------------------------------------

reply post(connection& c, std::string const& target, std::string const& body, headers const& extra = {})
{
    return c.request(make_request("POST", target, extra, body), false, 10s);
}

struct vector_case {
    char const* alg;
    char const* abc;        // the examples of FIPS 180-2, FIPS 202 and RFC 7693 (appendix A)
    char const* empty;      // the well-known digests of no bytes
    char const* million_a;  // 1,000,000 × 'a': FIPS 180-2's and the SHA-3 examples' long
                            // message; BLAKE2b's as `openssl dgst -blake2b512` computes it
};

vector_case const vectors[] = {
    {"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {"sha512",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
      "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
      "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"},
    {"sha3-256", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
     "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
     "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1"},
    {"blake2b-512",
     "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
      "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
     "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
      "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
     "98fb3efb7206fd19ebf69b6f312cf7b64e3b94dbe1a17107913975a793f177e1"
      "d077609d7fba363cbba00d05f7aa4e4fa8715d6428104c0a75643b0ff3fd3eaf"},
};

TEST(hash, digests_abc_with_the_published_test_vectors)
{
    server_process srv({"--workers", "2"});
    connection c(srv.port());
    for (auto const& v : vectors) {
        SCOPED_TRACE(v.alg);
        auto r = post(c, std::string("/hash?alg=") + v.alg, "abc");
        ASSERT_EQ(r.status(), 200u) << r;
        EXPECT_TRUE(has_standard_headers(r));
        auto j = r.json();
        EXPECT_EQ(j.at("alg").as_string(), v.alg);
        EXPECT_EQ(j.at("digest").as_string(), v.abc);
        EXPECT_EQ(j.at("bytes").to_number<int>(), 3);
    }
    // sha256 is the default.
    auto r = post(c, "/hash", "abc");
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.json().at("alg").as_string(), "sha256");
    EXPECT_EQ(r.json().at("digest").as_string(), vectors[0].abc);
    EXPECT_EQ(pool_field(srv.port(), "completed"), 5) << "every digest is computed by a worker";
}

TEST(hash, digests_an_empty_body)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    for (auto const& v : vectors) {
        SCOPED_TRACE(v.alg);
        auto r = c.request(make_request("POST", std::string("/hash?alg=") + v.alg, {{"Content-Length", "0"}}));
        ASSERT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.json().at("digest").as_string(), v.empty);
        EXPECT_EQ(r.json().at("bytes").to_number<int>(), 0);
    }
}

TEST(hash, digests_a_million_and_a_mebibyte_of_bytes)
{
    server_process srv({"--workers", "2"});
    connection c(srv.port());
    std::string const million(1'000'000, 'a');
    for (auto const& v : vectors) {
        SCOPED_TRACE(v.alg);
        auto r = post(c, std::string("/hash?alg=") + v.alg, million);
        ASSERT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.json().at("digest").as_string(), v.million_a);
        EXPECT_EQ(r.json().at("bytes").to_number<int>(), 1'000'000);
    }
    // Exactly 1 MiB, sent chunked as well as with a length: the same digest (sha256sum).
    std::string const mebibyte(1u << 20, 'a');
    char const* const expected = "9bc1b2a288b26af7257a36277ae3816a7d4f16e89c1e7e77d0a5c48bad62b360";
    auto r = post(c, "/hash?alg=sha256", mebibyte);
    ASSERT_EQ(r.status(), 200u) << r;
    EXPECT_EQ(r.json().at("digest").as_string(), expected);
    EXPECT_EQ(r.json().at("bytes").to_number<std::size_t>(), 1u << 20);

    std::string chunked = "POST /hash?alg=sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t off = 0; off < mebibyte.size(); off += 65536)
        chunked += "10000\r\n" + mebibyte.substr(off, 65536) + "\r\n";
    chunked += "0\r\n\r\n";
    auto rc = c.request(chunked, false, 10s);
    ASSERT_EQ(rc.status(), 200u) << rc;
    EXPECT_EQ(rc.json().at("digest").as_string(), expected);
    EXPECT_EQ(rc.json().at("bytes").to_number<std::size_t>(), 1u << 20);
}

TEST(hash, answers_413_for_a_body_over_max_hash_body)
{
    server_process srv({"--workers", "1", "--max-hash-body", "1000"});
    {
        connection c(srv.port());
        auto r = post(c, "/hash", std::string(1000, 'b'));
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_EQ(r.json().at("bytes").to_number<int>(), 1000);
    }
    {
        connection c(srv.port());
        auto r = post(c, "/hash", std::string(1001, 'b'));
        EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    }
    {
        // Declared over the limit with Expect: 100-continue: 413 instead of 100, at once.
        connection c(srv.port());
        auto r = c.request(make_request("POST", "/hash", {{"Content-Length", "5000"}, {"Expect", "100-continue"}}));
        EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    }
    EXPECT_EQ(pool_field(srv.port(), "completed"), 1) << "an oversized body reached a worker";
}

TEST(hash, rejects_an_unknown_algorithm_naming_alg)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    for (char const* alg : {"md5", "SHA256", "sha-256", "", "sha256%00"}) {
        SCOPED_TRACE(alg);
        auto r = post(c, std::string("/hash?alg=") + alg, "abc");
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_TRUE(names(r, "alg")) << r;
        }
    }
    EXPECT_EQ(pool_field(srv.port(), "completed"), 0);
}

// ---- /passwords -----------------------------------------------------------------------

headers const json_type{{"Content-Type", "application/json"}};

std::string hash_of(connection& c, std::string const& password)
{
    auto r = post(c, "/passwords/hash", boost::json::serialize(boost::json::object{{"password", password}}), json_type);
    EXPECT_EQ(r.status(), 200u) << r;
    if (r.status() != 200)
        return {};
    return std::string(r.json().at("hash").as_string());
}

// The "valid" of a verify answer; nullopt when it is not a JSON boolean.
std::optional<bool> valid_of(reply const& r)
{
    if (r.status() != 200)
        return std::nullopt;
    auto j = r.json();
    auto const* v = j.if_contains("valid");
    if (v == nullptr || !v->is_bool())
        return std::nullopt;
    return v->get_bool();
}

reply verify(connection& c, std::string const& password, std::string const& hash)
{
    return post(c, "/passwords/verify",
                boost::json::serialize(boost::json::object{{"password", password}, {"hash", hash}}), json_type);
}

TEST(passwords, hash_then_verify_with_owasp_defaults)
{
    server_process srv({"--workers", "2"});
    connection c(srv.port());
    auto const h = hash_of(c, "correct horse battery staple");
    std::string_view const prefix = "$argon2id$v=19$m=19456,t=2,p=1$";
    EXPECT_TRUE(h.starts_with(prefix)) << h;
    // Then a 16-byte salt and a 32-byte hash, in unpadded base64.
    std::string_view const tail = std::string_view(h).substr(std::min(h.size(), prefix.size()));
    auto const dollar = tail.find('$');
    EXPECT_TRUE(dollar != std::string_view::npos && is_base64(tail.substr(0, dollar), 22) &&
                is_base64(tail.substr(dollar + 1), 43))
        << h;
    auto const h2 = hash_of(c, "correct horse battery staple");
    EXPECT_NE(h, h2) << "a fresh salt for every hash";

    auto yes = verify(c, "correct horse battery staple", h);
    ASSERT_EQ(yes.status(), 200u) << yes;
    EXPECT_TRUE(has_standard_headers(yes));
    EXPECT_EQ(valid_of(yes), true);
    auto no = verify(c, "correct horse battery stable", h);
    ASSERT_EQ(no.status(), 200u) << no;
    EXPECT_EQ(valid_of(no), false);
    EXPECT_EQ(valid_of(verify(c, "correct horse battery staple", h2)), true);

    // Unicode and the longest allowed password.
    std::string const longest(1024, 'p');
    auto const hl = hash_of(c, longest);
    EXPECT_EQ(valid_of(verify(c, longest, hl)), true);
    EXPECT_EQ(valid_of(verify(c, longest.substr(1), hl)), false);
    auto const hu = hash_of(c, "pässwörd ✓");
    EXPECT_EQ(valid_of(verify(c, "pässwörd ✓", hu)), true);
    EXPECT_EQ(pool_field(srv.port(), "completed"), 10) << "hashing and verifying run in the workers";
}

TEST(passwords, uses_the_configured_argon2_parameters)
{
    server_process srv({"--workers", "1", "--argon2-memory-kib", "1024", "--argon2-iterations", "1"});
    connection c(srv.port());
    auto const h = hash_of(c, "hunter2");
    EXPECT_TRUE(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$")) << h;
    EXPECT_EQ(valid_of(verify(c, "hunter2", h)), true);
    EXPECT_EQ(valid_of(verify(c, "hunter3", h)), false);
}

TEST(passwords, answers_415_for_a_body_that_is_not_json)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    std::string const body = R"({"password":"x"})";
    for (char const* type : {"text/plain", "application/x-www-form-urlencoded", "application/jsonx"}) {
        SCOPED_TRACE(type);
        EXPECT_TRUE(
            is_problem(post(c, "/passwords/hash", body, {{"Content-Type", type}}), 415, "unsupported_media_type"));
        EXPECT_TRUE(is_problem(post(c, "/passwords/verify", R"({"password":"x","hash":"$argon2id$"})",
                                    {{"Content-Type", type}}),
                               415, "unsupported_media_type"));
    }
    // A parameter on the JSON type is fine.
    auto r = post(c, "/passwords/hash", body, {{"Content-Type", "application/json; charset=utf-8"}});
    EXPECT_EQ(r.status(), 200u) << r;
}

TEST(passwords, answers_400_for_bad_hash_requests)
{
    server_process srv({"--workers", "1"});
    connection c(srv.port());
    struct bad_case {
        std::string body;
        char const* field;  // named in the detail, or "" for bodies that are not JSON objects
    };
    std::vector<bad_case> const cases = {
        {"", ""},
        {"{", ""},
        {R"({"password":"x",})", ""},
        {R"(["password"])", ""},
        {R"("password")", ""},
        {"{}", "password"},
        {R"({"pass":"x"})", "password"},
        {R"({"password":5})", "password"},
        {R"({"password":null})", "password"},
        {R"({"password":["x"]})", "password"},
        {R"({"password":""})", "password"},
        {R"({"password":")" + std::string(1025, 'p') + "\"}", "password"},
    };
    for (auto const& bc : cases) {
        SCOPED_TRACE(bc.body.substr(0, 40));
        auto r = post(c, "/passwords/hash", bc.body, json_type);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400 && *bc.field) {
            EXPECT_TRUE(names(r, bc.field)) << r;
        }
    }
    EXPECT_EQ(pool_field(srv.port(), "completed"), 0) << "a bad request reached a worker";
}

TEST(passwords, answers_400_for_bad_verify_requests_and_malformed_hashes)
{
    server_process srv({"--workers", "1", "--argon2-memory-kib", "1024", "--argon2-iterations", "1"});
    connection c(srv.port());
    auto const good = hash_of(c, "secret");
    ASSERT_FALSE(good.empty());
    std::string const salt_and_hash = good.substr(good.find("p=1$") + 4);
    auto body = [](boost::json::object o) { return boost::json::serialize(o); };
    struct bad_case {
        std::string body;
        char const* field;
    };
    std::vector<bad_case> const cases = {
        {"not json", ""},
        {body({{"hash", good}}), "password"},
        {body({{"password", "secret"}}), "hash"},
        {body({{"password", 1}, {"hash", good}}), "password"},
        {body({{"password", "secret"}, {"hash", 7}}), "hash"},
        {body({{"password", ""}, {"hash", good}}), "password"},
        {body({{"password", std::string(1025, 'p')}, {"hash", good}}), "password"},
        {body({{"password", "secret"}, {"hash", ""}}), "hash"},
        {body({{"password", "secret"}, {"hash", "nope"}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2id$"}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2i$v=19$m=1024,t=1,p=1$" + salt_and_hash}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2id$v=16$m=1024,t=1,p=1$" + salt_and_hash}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2id$v=19$m=1024,t=1,p=1$"}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!"}}), "hash"},
        {body({{"password", "secret"}, {"hash", good.substr(0, good.size() - 10)}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2id$v=19$m=01024,t=1,p=1$" + salt_and_hash}}), "hash"},
        {body({{"password", "secret"}, {"hash", "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt_and_hash}}), "hash"},
    };
    double const before = pool_field(srv.port(), "completed");
    for (auto const& bc : cases) {
        SCOPED_TRACE(bc.body.substr(0, 80));
        auto r = post(c, "/passwords/verify", bc.body, json_type);
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400 && *bc.field) {
            EXPECT_TRUE(names(r, bc.field)) << r;
        }
    }
    EXPECT_EQ(pool_field(srv.port(), "completed"), before);
    // The well-formed hash still verifies.
    EXPECT_EQ(valid_of(verify(c, "secret", good)), true);
}

}  // namespace
