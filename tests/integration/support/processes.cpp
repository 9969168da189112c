#include "processes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <sstream>

namespace itest {
namespace {

// The numeric entries of a /proc directory.
template <class F>
void for_each_number(std::string const& dir, F f)
{
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d)
        return;
    while (dirent* e = ::readdir(d.get())) {
        std::string_view name = e->d_name;
        long n = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
        if (ec == std::errc{} && end == name.data() + name.size())
            f(n);
    }
}

// The whole of a small /proc file, or nullopt. Plain read(2): a process that ends while
// its file is read makes read fail with ESRCH, which std::ifstream reports by throwing.
std::optional<std::string> read_small_file(std::string const& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

}  // namespace

std::optional<proc_stat> read_proc_stat(pid_t pid)
{
    auto text_or = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text_or)
        return std::nullopt;
    std::string const& text = *text_or;
    // The command name, in parentheses, may hold spaces and parentheses: fields are
    // counted from the last ')'. Field 3 (state) is the first after it.
    auto close = text.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(text.substr(close + 1));
    std::vector<std::string> f;
    for (std::string s; fields >> s;)
        f.push_back(s);
    auto field = [&](int number) -> std::string const& { return f.at(static_cast<std::size_t>(number - 3)); };
    if (f.size() < 20)
        return std::nullopt;
    proc_stat st;
    st.state = field(3).at(0);
    st.ppid = static_cast<pid_t>(std::stol(field(4)));
    st.nice = std::stol(field(19));
    st.start_time = std::stoull(field(22));
    return st;
}

bool is_running(pid_t pid)
{
    auto st = read_proc_stat(pid);
    return st && st->state != 'Z' && st->state != 'X' && st->state != 'x';
}

std::set<pid_t> children_of(pid_t parent)
{
    std::set<pid_t> out;
    for_each_number("/proc", [&](long pid) {
        auto st = read_proc_stat(static_cast<pid_t>(pid));
        if (st && st->ppid == parent)
            out.insert(static_cast<pid_t>(pid));
    });
    return out;
}

::testing::AssertionResult no_zombie_children(pid_t parent)
{
    std::ostringstream zombies;
    for (pid_t pid : children_of(parent)) {
        auto st = read_proc_stat(pid);
        if (st && st->state == 'Z')
            zombies << ' ' << pid;
    }
    if (zombies.str().empty())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "zombie children of " << parent << ":" << zombies.str();
}

std::set<int> open_fds(pid_t pid)
{
    std::set<int> out;
    for_each_number("/proc/" + std::to_string(pid) + "/fd", [&](long fd) { out.insert(static_cast<int>(fd)); });
    return out;
}

std::string fd_target(pid_t pid, int fd)
{
    std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    char buf[512];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

long rss_kib(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/status");
    if (!text)
        return 0;
    auto at = text->find("VmRSS:");
    if (at == std::string::npos)
        return 0;
    std::istringstream in(text->substr(at + 6));
    long kib = 0;
    in >> kib;
    return kib;
}

std::optional<fd_limits> read_fd_limits(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/limits");
    if (!text)
        return std::nullopt;
    auto at = text->find("Max open files");
    if (at == std::string::npos)
        return std::nullopt;
    std::istringstream in(text->substr(at + 14));
    std::string soft, hard;
    in >> soft >> hard;
    auto value = [](std::string const& s) { return s == "unlimited" ? -1L : std::stol(s); };
    return fd_limits{value(soft), value(hard)};
}

subreaper_scope::subreaper_scope() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

subreaper_scope::~subreaper_scope()
{
    // Whatever was left to us: killed and collected, so no zombie outlives the test.
    for (pid_t pid : watched_) {
        if (::waitpid(pid, nullptr, WNOHANG) == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

bool subreaper_scope::reap_orphan(pid_t pid)
{
    int raw = 0;
    pid_t r;
    do {
        r = ::waitpid(pid, &raw, WNOHANG);
    } while (r < 0 && errno == EINTR);
    return r == pid;
}

}  // namespace itest
