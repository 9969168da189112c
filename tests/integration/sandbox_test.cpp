// The worker sandbox with real processes: every worker runs under its seccomp filter with
// no_new_privs; a job attempting a forbidden system call (execve, socket, an open for
// writing, fork, a signal to another process) kills only its worker, answered 500
// worker_crashed, and the pool replaces it, after which hashing, Argon2id and resizing a
// real JPEG still work in sandboxed workers. With --worker-sandbox off the same calls
// simply return: the filter is what kills. The job is POST /test/jobs/forbidden?call=….
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include "../unit/jobs/image_fixtures.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace itest;
namespace images = steadyloop::test::images;

reply post(unsigned short port, std::string const& target, std::string const& body = {},
           headers const& extra = {})
{
    connection c(port);
    return c.request(make_request("POST", target, extra, body), false, 10s);
}

double pool_field(unsigned short port, std::string_view field)
{
    return number_at(loop_snapshot(port), "worker_pool/" + std::string(field));
}

std::vector<pid_t> worker_pids(unsigned short port)
{
    std::vector<pid_t> out;
    auto const loop = loop_snapshot(port);  // named: the loop below refers into it
    for (auto const& v : loop.at("worker_pool").at("pids").as_array())
        if (v.is_int64())  // a slot whose worker is starting has none yet
            out.push_back(static_cast<pid_t>(v.get_int64()));
    return out;
}

bool all_up(unsigned short port, std::size_t workers)
{
    return pool_field(port, "alive") == static_cast<double>(workers) && worker_pids(port).size() == workers &&
           get(port, "/readyz").status() == 200;
}

// The "Name:\tvalue" fields of /proc/<pid>/status.
std::map<std::string, std::string> proc_status(pid_t pid)
{
    std::map<std::string, std::string> fields;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        fields[line.substr(0, colon)] = value;
    }
    return fields;
}

// Jobs that use every library a worker has: they must work in sandboxed workers.
void expect_real_jobs_work(unsigned short port)
{
    auto h = post(port, "/hash?alg=sha3-256", "steadyloop");
    EXPECT_EQ(h.status(), 200u) << h;
    auto p = post(port, "/passwords/hash", R"({"password":"correct horse battery"})", {{"Content-Type", "application/json"}});
    ASSERT_EQ(p.status(), 200u) << p;
    auto const hash = std::string(p.json().at("hash").as_string());
    auto v = post(port, "/passwords/verify",
                  boost::json::serialize(boost::json::object{{"password", "correct horse battery"}, {"hash", hash}}),
                  {{"Content-Type", "application/json"}});
    ASSERT_EQ(v.status(), 200u) << v;
    EXPECT_TRUE(v.json().at("valid").as_bool());
    static std::string const jpeg = images::photo(320, 200, images::encoding::jpeg);
    for (char const* format : {"jpeg", "png", "webp"}) {
        auto r = post(port, std::string("/images/resize?width=64&format=") + format, jpeg);
        EXPECT_EQ(r.status(), 200u) << format << ": " << r;
        EXPECT_EQ(r.header("X-Image-Width"), "64") << format;
        EXPECT_EQ(r.header("X-Image-Height"), "40") << format;
    }
}

constexpr char const* forbidden_calls[] = {"execve", "socket", "open_write", "fork", "kill"};

TEST(sandbox, workers_run_under_seccomp_with_no_new_privs)
{
    server_process srv({"--workers", "2"});
    ASSERT_TRUE(eventually([&] { return all_up(srv.port(), 2); }, 10s));
    // A worker says "ready" before its warm-up; the filter follows before its first job.
    for (pid_t pid : worker_pids(srv.port())) {
        EXPECT_TRUE(eventually([&] { return proc_status(pid)["Seccomp"] == "2"; }, 10s))
            << "worker " << pid << " is not in seccomp filter mode";
        EXPECT_EQ(proc_status(pid)["NoNewPrivs"], "1") << "worker " << pid;
    }
    // The server itself is not filtered: it accepts sockets and writes its database.
    auto self = proc_status(srv.pid());
    EXPECT_EQ(self["Seccomp"], "0");
    EXPECT_NE(srv.log().find("worker sandbox on"), std::string::npos) << srv.log();
}

TEST(sandbox, each_forbidden_call_kills_only_its_worker_which_is_replaced)
{
    server_process srv({"--workers", "2"});
    ASSERT_TRUE(eventually([&] { return all_up(srv.port(), 2); }, 10s));
    double respawns = pool_field(srv.port(), "respawns");
    double crashes = pool_field(srv.port(), "crashes");

    for (char const* call : forbidden_calls) {
        SCOPED_TRACE(call);
        auto r = post(srv.port(), std::string("/test/jobs/forbidden?call=") + call);
        EXPECT_EQ(r.status(), 500u) << r;
        EXPECT_EQ(std::string(r.json().at("code").as_string()), "worker_crashed") << r;
        ASSERT_TRUE(eventually([&] { return all_up(srv.port(), 2) && pool_field(srv.port(), "respawns") >= respawns + 1; },
                               10s))
            << boost::json::serialize(loop_snapshot(srv.port()));
        EXPECT_EQ(pool_field(srv.port(), "respawns"), respawns + 1);
        EXPECT_EQ(pool_field(srv.port(), "crashes"), crashes + 1);
        respawns += 1;
        crashes += 1;
        // The replacement is sandboxed as well.
        for (pid_t pid : worker_pids(srv.port()))
            EXPECT_TRUE(eventually([&] { return proc_status(pid)["Seccomp"] == "2"; }, 10s)) << "worker " << pid;
    }
    // Reading a file is allowed: the filter looks at the open's flags.
    auto read = post(srv.port(), "/test/jobs/forbidden?call=open_read");
    ASSERT_EQ(read.status(), 200u) << read;
    EXPECT_GE(read.json().at("result").to_number<long>(), 0) << read;

    expect_real_jobs_work(srv.port());
    EXPECT_EQ(pool_field(srv.port(), "crashes"), crashes) << "a real job crashed a sandboxed worker";
    EXPECT_TRUE(srv.running());
}

TEST(sandbox, without_the_sandbox_the_same_calls_return)
{
    server_process srv({"--workers", "1", "--worker-sandbox", "off"});
    ASSERT_TRUE(eventually([&] { return all_up(srv.port(), 1); }, 10s));
    auto const pid = worker_pids(srv.port()).at(0);
    EXPECT_EQ(proc_status(pid)["Seccomp"], "0");
    EXPECT_NE(srv.log().find("worker sandbox off"), std::string::npos) << srv.log();

    for (char const* call : forbidden_calls) {
        SCOPED_TRACE(call);
        auto r = post(srv.port(), std::string("/test/jobs/forbidden?call=") + call);
        ASSERT_EQ(r.status(), 200u) << r;
        auto const j = r.json();
        EXPECT_EQ(std::string(j.at("call").as_string()), call);
        if (std::string_view(call) == "execve") {
            // The call ran and failed on its missing program: the worker was not replaced.
            EXPECT_EQ(j.at("result").to_number<long>(), -1);
            EXPECT_EQ(j.at("errno").to_number<int>(), ENOENT);
        } else {
            EXPECT_GE(j.at("result").to_number<long>(), 0) << r;
        }
        EXPECT_EQ(j.at("pid").to_number<pid_t>(), pid) << "the job ran in another worker";
    }
    EXPECT_EQ(pool_field(srv.port(), "crashes"), 0);
    EXPECT_EQ(pool_field(srv.port(), "respawns"), 0);
}

TEST(sandbox, the_option_is_checked)
{
    auto bad = run_binary({"--worker-sandbox", "maybe", "--port", "0"});
    EXPECT_EQ(bad.status, exit_status::exited(2)) << bad.output;
    EXPECT_NE(bad.output.find("--worker-sandbox"), std::string::npos) << bad.output;
}

TEST(sandbox, the_environment_turns_it_off)
{
    server_process srv({"--workers", "1"}, {{"STEADYLOOP_WORKER_SANDBOX", "off"}});
    ASSERT_TRUE(eventually([&] { return all_up(srv.port(), 1); }, 10s));
    EXPECT_EQ(proc_status(worker_pids(srv.port()).at(0))["Seccomp"], "0");
}

}  // namespace
