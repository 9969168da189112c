// What /proc says about the server's process tree: a process's state, parent and nice
// value, its children (zombies included), its open descriptors — for the worker-pool
// tests, which check real child processes rather than what /loop claims.
#pragma once

#include <gtest/gtest.h>

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace itest {

// The fields of /proc/<pid>/stat that the tests read.
struct proc_stat {
    char state = '?';  // R, S, D, Z, X, …
    pid_t ppid = 0;
    long nice = 0;
    unsigned long long start_time = 0;  // clock ticks after boot; tells a reused pid apart
};

// nullopt when the process does not exist (any more).
std::optional<proc_stat> read_proc_stat(pid_t pid);

// True while the process exists and is neither a zombie nor dead.
bool is_running(pid_t pid);

// Every process whose parent is `parent`, zombies included.
std::set<pid_t> children_of(pid_t parent);

// Success when no child of `parent` is a zombie; else names them.
::testing::AssertionResult no_zombie_children(pid_t parent);

// The descriptor numbers in /proc/<pid>/fd, and what one of them points to.
std::set<int> open_fds(pid_t pid);
std::string fd_target(pid_t pid, int fd);

// A process's resident memory (VmRSS), in KiB; 0 when it does not exist.
long rss_kib(pid_t pid);

// A process's limit on open descriptors (RLIMIT_NOFILE, from /proc/<pid>/limits);
// nullopt when unreadable, -1 for unlimited.
struct fd_limits {
    long soft = 0;
    long hard = 0;
};
std::optional<fd_limits> read_fd_limits(pid_t pid);

// For the length of a test, makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER), so workers whose server is gone are reparented here rather
// than to PID 1: the test can then see whether the server reaped them itself. Undone,
// and `pids` still unreaped here collected, when it ends.
class subreaper_scope {
public:
    subreaper_scope();
    ~subreaper_scope();
    subreaper_scope(subreaper_scope const&) = delete;
    subreaper_scope& operator=(subreaper_scope const&) = delete;

    // True when `pid` had become our child (orphaned by its parent) and has ended and
    // was reaped here now; false when it is not (or no longer) ours to reap.
    bool reap_orphan(pid_t pid);
    // Remembers `pid` to be killed and reaped at the end, should it still be ours.
    void watch(pid_t pid) { watched_.push_back(pid); }

private:
    std::vector<pid_t> watched_;
};

}  // namespace itest
