#include "server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace itest {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A fresh, empty temporary file for a child's output; its descriptor is close-on-exec.
std::pair<std::string, int> make_log_file()
{
    char const* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/steadyloop-itest-XXXXXX";
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error("mkostemp: " + std::string(std::strerror(errno)));
    return {path, fd};
}

std::string read_file(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Spawns the binary with stdin from /dev/null and stdout + stderr into `log_fd`.
pid_t spawn(std::vector<std::string> const& args, env_vars const& extra_env, int log_fd)
{
    std::vector<std::string> argv_s;
    argv_s.emplace_back(STEADYLOOP_BINARY);
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    // The test's own STEADYLOOP_* variables must not change what a test means.
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "STEADYLOOP_", 11) != 0)
            env_s.emplace_back(*e);
    for (auto const& [name, value] : extra_env)
        env_s.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& e : env_s)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 2);

    // The child starts with default signal handling and nothing blocked, whatever the
    // test runner did to its own.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        throw std::runtime_error(std::string("posix_spawn " STEADYLOOP_BINARY ": ") + std::strerror(rc));
    return pid;
}

exit_status decode(int raw)
{
    if (WIFEXITED(raw))
        return exit_status::exited(WEXITSTATUS(raw));
    return {-1, WIFSIGNALED(raw) ? WTERMSIG(raw) : 0};
}

// Polls waitpid until the child ends or the deadline passes.
std::optional<exit_status> wait_for(pid_t pid, clock::time_point deadline)
{
    for (;;) {
        int raw = 0;
        pid_t r = ::waitpid(pid, &raw, WNOHANG);
        if (r == pid)
            return decode(raw);
        if (r < 0 && errno != EINTR)
            throw std::runtime_error("waitpid: " + std::string(std::strerror(errno)));
        if (clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(2ms);
    }
}

std::optional<unsigned short> find_listening_port(std::string const& text, pid_t pid)
{
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("\"event\":\"listening\"") == std::string::npos)
            continue;
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        if (ec || !v.is_object())
            throw std::runtime_error("listening line is not a JSON object: " + line);
        auto const& o = v.get_object();
        if (o.at("pid").to_number<pid_t>() != pid)
            throw std::runtime_error("listening line names another pid: " + line);
        return o.at("port").to_number<unsigned short>();
    }
    return std::nullopt;
}

// True when the arguments ("--db x" or "--db=x") or the added environment (STEADYLOOP_DB)
// choose the database.
bool names_database(std::vector<std::string> const& args, env_vars const& env)
{
    for (auto const& a : args)
        if (a == "--db" || a.starts_with("--db="))
            return true;
    for (auto const& [name, value] : env)
        if (name == "STEADYLOOP_DB")
            return true;
    return false;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, exit_status const& s)
{
    if (s.signal != 0)
        return os << "killed by signal " << s.signal;
    return os << "exit code " << s.code;
}

server_process::server_process(std::vector<std::string> args, env_vars env, std::chrono::milliseconds ready_timeout)
{
    auto [path, fd] = make_log_file();
    log_path_ = path;
    std::vector<std::string> full{"--port", "0", "--address", "127.0.0.1"};
    // Tests never share the default ./data/steadyloop.db: each server gets a database of
    // its own in memory unless the test chose one (by flag or by STEADYLOOP_DB).
    if (!names_database(args, env))
        full.insert(full.end(), {"--db", ":memory:"});
    full.insert(full.end(), args.begin(), args.end());
    try {
        pid_ = spawn(full, env, fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    reaped_ = false;

    // A constructor that throws runs no destructor: clean up here, the output kept in
    // the message.
    auto fail = [this](std::string const& why) {
        if (!reaped_) {
            kill();
            wait_exit(5s);
        }
        auto text = log();
        ::unlink(log_path_.c_str());
        throw std::runtime_error(why + "; its output:\n" + text);
    };
    auto deadline = clock::now() + ready_timeout;
    for (;;) {
        std::optional<unsigned short> port;
        try {
            port = find_listening_port(log(), pid_);
        } catch (std::exception const& e) {
            fail(e.what());
        }
        if (port) {
            port_ = *port;
            return;
        }
        if (auto st = wait_for(pid_, clock::now())) {
            reaped_ = true;
            std::ostringstream msg;
            msg << "steadyloop ended (" << *st << ") before listening";
            fail(msg.str());
        }
        if (clock::now() >= deadline)
            fail("steadyloop printed no listening line within " + std::to_string(ready_timeout.count()) + " ms");
        std::this_thread::sleep_for(5ms);
    }
}

server_process::~server_process()
{
    if (!reaped_) {
        ::kill(pid_, SIGKILL);
        int raw = 0;
        while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
        }
    }
    if (!log_path_.empty())
        ::unlink(log_path_.c_str());
}

std::string server_process::log() const { return read_file(log_path_); }

std::vector<std::string> server_process::log_lines_after_listening() const
{
    std::istringstream lines(log());
    std::vector<std::string> out;
    std::string line;
    bool after = false;
    while (std::getline(lines, line)) {
        if (after)
            out.push_back(line);
        else if (line.find("\"event\":\"listening\"") != std::string::npos)
            after = true;
    }
    return out;
}

void server_process::terminate()
{
    if (!reaped_)
        ::kill(pid_, SIGTERM);
}

void server_process::kill()
{
    if (!reaped_)
        ::kill(pid_, SIGKILL);
}

std::optional<exit_status> server_process::wait_exit(std::chrono::milliseconds timeout)
{
    if (reaped_)
        throw std::logic_error("wait_exit: the process was already reaped");
    auto st = wait_for(pid_, clock::now() + timeout);
    if (st)
        reaped_ = true;
    return st;
}

run_result run_binary(std::vector<std::string> const& args, env_vars const& env, std::chrono::milliseconds timeout)
{
    auto [path, fd] = make_log_file();
    run_result result;
    pid_t pid = -1;
    try {
        pid = spawn(args, env, fd);
    } catch (...) {
        ::close(fd);
        ::unlink(path.c_str());
        throw;
    }
    ::close(fd);
    auto st = wait_for(pid, clock::now() + timeout);
    if (!st) {
        result.timed_out = true;
        ::kill(pid, SIGKILL);
        st = wait_for(pid, clock::now() + 5s);
    }
    result.status = st.value_or(exit_status{});
    result.output = read_file(path);
    ::unlink(path.c_str());
    return result;
}

}  // namespace itest
