// `steadyloop probe [URL]`, the containers' health check: the real binary probing the real
// server (exit 0 on 2xx), and a closed port, a non-2xx answer, a silent server and a bad
// URL (exit 1, one line, in bounded time).
#include "checks.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace {

using namespace itest;
using namespace std::chrono_literals;

std::string url(unsigned short port, std::string const& path) { return "http://127.0.0.1:" + std::to_string(port) + path; }

// A TCP socket on 127.0.0.1, bound to a free port; listening (connections are queued by
// the kernel, never accepted, never answered) or closed again (nothing listens).
class loopback_socket {
public:
    explicit loopback_socket(bool listen)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || (listen && ::listen(fd_, 8) != 0))
            throw std::runtime_error("cannot make a loopback socket");
        port_ = ntohs(addr.sin_port);
        if (!listen) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~loopback_socket()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    loopback_socket(loopback_socket const&) = delete;
    loopback_socket& operator=(loopback_socket const&) = delete;
    unsigned short port() const noexcept { return port_; }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
};

// Exactly one line of output.
bool one_line(std::string const& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

TEST(probe, exits_0_for_a_healthy_server)
{
    server_process srv({"--workers", "1"});
    auto r = run_binary({"probe", url(srv.port(), "/healthz")});
    EXPECT_EQ(r.status, exit_status::exited(0)) << r.output;
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_NE(r.output.find("200"), std::string::npos) << r.output;
}

TEST(probe, healthcheck_flag_is_the_same_subcommand)
{
    server_process srv({"--workers", "1"});
    // A worker is ready once warmed up and sandboxed, a moment after the listener opens.
    ASSERT_TRUE(eventually([&] { return get(srv.port(), "/readyz").status() == 200; }, 10s));
    auto r = run_binary({"--healthcheck", url(srv.port(), "/readyz")});
    EXPECT_EQ(r.status, exit_status::exited(0)) << r.output;
}

TEST(probe, defaults_to_healthz_on_the_port_in_the_environment)
{
    server_process srv({"--workers", "1"});
    auto r = run_binary({"probe"}, {{"STEADYLOOP_PORT", std::to_string(srv.port())}});
    EXPECT_EQ(r.status, exit_status::exited(0)) << r.output;
    EXPECT_NE(r.output.find("/healthz"), std::string::npos) << r.output;
}

TEST(probe, exits_1_for_an_answer_that_is_not_2xx)
{
    server_process srv({"--workers", "1"});
    auto r = run_binary({"probe", url(srv.port(), "/no/such/path")});
    EXPECT_EQ(r.status, exit_status::exited(1)) << r.output;
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_NE(r.output.find("404"), std::string::npos) << r.output;
}

TEST(probe, exits_1_for_a_closed_port)
{
    loopback_socket closed(false);
    auto r = run_binary({"probe", url(closed.port(), "/healthz")});
    EXPECT_EQ(r.status, exit_status::exited(1)) << r.output;
    EXPECT_TRUE(one_line(r.output)) << r.output;
}

TEST(probe, gives_up_on_a_server_that_never_answers)
{
    loopback_socket silent(true);
    auto started = std::chrono::steady_clock::now();
    auto r = run_binary({"probe", url(silent.port(), "/healthz"), "--timeout-ms", "300"}, {}, 10s);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, exit_status::exited(1)) << r.output;
    EXPECT_TRUE(one_line(r.output)) << r.output;
    EXPECT_LT(took, 5s);
}

TEST(probe, exits_1_for_a_url_it_cannot_use)
{
    for (auto const& bad : {"not a url", "https://127.0.0.1/healthz", "http:///healthz", "http://127.0.0.1:99999/"}) {
        SCOPED_TRACE(bad);
        auto r = run_binary({"probe", bad});
        EXPECT_EQ(r.status, exit_status::exited(1)) << r.output;
        EXPECT_TRUE(one_line(r.output)) << r.output;
    }
}

}  // namespace
