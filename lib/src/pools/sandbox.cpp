#include "steadyloop/pools/sandbox.hpp"

#include <seccomp.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

namespace steadyloop::pools {
namespace {

using filter_ptr = std::unique_ptr<void, decltype(&seccomp_release)>;

// The allow-list, derived by tracing workers (strace -f) through every job kind of the
// dev (ASan+UBSan) and ci builds: each hash algorithm, Argon2id hash and verify, resizes
// of JPEG (one with a P3 profile, EXIF and XMP), PNG, WebP, GIF (animated too) into each
// output format and fit, refused inputs (TIFF, SVG, BMP, random and truncated bytes), the
// CPU demo and the test jobs; what a worker calls after its warm-up is listed here.
// Everything else kills the process: after start-up its whole life is reading a job from
// fd 3, computing, and writing the answer to fd 3.
constexpr char const* allowed[] = {
    // Its socket and stdio: frames in and out on fd 3, diagnostics on stderr. Writing
    // only reaches descriptors it already holds: none can be opened for writing.
    "read", "write", "writev", "close",
    // Memory: malloc and its arenas, libvips' pixel buffers, Argon2id's blocks; mremap
    // for glibc's realloc of large blocks (libvips' growing output buffer).
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
    // Read-only looks at files (the opens themselves are filtered below): glibc's malloc
    // reads /proc/sys/vm/overcommit_memory, EXIF dates read /etc/localtime, and bytes
    // in no accepted format make libvips ask every loader, ImageMagick's included, which
    // starts up on first use (where it runs, the time, its coder modules, read and
    // loaded) and lists its modules on each later ask. That start-up is not part of the
    // warm-up: loading some 250 coder modules in every worker costs memory that a tight
    // --worker-memory-mb does not have; only hostile input pays it. (prlimit64 below.)
    "newfstatat", "lseek", "getdents64", "access", "readlink", "getcwd", "times", "sysinfo",
    // Threads: libvips' thread set ends idle threads and starts new ones as work comes
    // (clone itself is filtered below), with glibc's per-thread set-up (a sanitizer's
    // thread start reads its affinity) and futexes.
    "futex", "set_robust_list", "rseq", "sched_getaffinity", "sched_yield", "gettid", "exit", "exit_group",
    // Signals: masks around thread start and exit, handlers' return, abort() and raise();
    // restart_syscall resumes a timed wait (libvips' idle threads) after SIGSTOP/SIGCONT.
    "rt_sigprocmask", "rt_sigreturn", "restart_syscall",
    // Time and sleep: clocks where the vDSO falls back to the kernel, the sleep test job.
    "clock_gettime", "gettimeofday", "clock_nanosleep",
    // Salts for Argon2id (libsodium's randombytes) and the worker's own pid.
    "getrandom", "getpid",
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Sanitizer builds: the runtime's report (an alternate signal stack per thread, a
    // pipe to probe whether memory is readable, close-on-exec on the debug files it reads
    // to symbolise, isatty on stderr; ioctl is filtered below).
    "sigaltstack", "pipe2", "fcntl",
#endif
};

void check(int rc, char const* what)
{
    if (rc < 0)
        throw std::system_error(-rc, std::generic_category(), std::string("seccomp: ") + what);
}

void allow(scmp_filter_ctx ctx, char const* name)
{
    int const nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        throw std::system_error(ENOSYS, std::generic_category(), std::string("seccomp: unknown system call ") + name);
    check(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0), name);
}

}  // namespace

bool sandbox_supported() noexcept
{
    // PR_GET_SECCOMP fails with EINVAL on a kernel without CONFIG_SECCOMP; libseccomp's
    // API level 0 means it found no usable seccomp(2) or filter support.
    if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
        return false;
    return seccomp_api_get() >= 1;
}

void apply_worker_sandbox()
{
    // First, so that nothing this process does afterwards (execve of a set-uid program
    // included, were it allowed) can gain privileges; seccomp requires it of unprivileged
    // callers.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_NO_NEW_PRIVS)");

    filter_ptr ctx(seccomp_init(SCMP_ACT_KILL_PROCESS), &seccomp_release);
    if (!ctx)
        throw std::system_error(ENOMEM, std::generic_category(), "seccomp_init");
    // Already set above. TSYNC: threads that exist now (libvips' thread set after the
    // warm-up, sanitizer threads) get the filter too, or the whole load fails.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "no_new_privs attribute");
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1), "tsync attribute");

    for (char const* name : allowed)
        allow(ctx.get(), name);

    // Opening files read-only only: no O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND or
    // O_TMPFILE. (openat's flags are its third argument, open's its second.)
    constexpr scmp_datum_t write_flags = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY);
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, write_flags, 0)),
          "openat");
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, write_flags, 0)),
          "open");

    // New threads, never new processes: clone only with CLONE_THREAD (fork, vfork and
    // posix_spawn's clone lack it). clone3 passes its flags in memory, out of a filter's
    // reach, so it fails with ENOSYS and glibc falls back to clone.
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)),
          "clone");
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");

    // Reading its limits (ImageMagick's start-up), never setting them: no new-limit pointer.
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0)), "prlimit64");

    // Signals to itself only (raise, abort, a sanitizer's report), never another process.
    auto const self = static_cast<scmp_datum_t>(::getpid());
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, self)), "kill");
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, self)), "tgkill");

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS)), "ioctl");
#endif

    // Naming its own threads (glib names libvips' workers "libvips worker").
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)), "prctl");

    check(seccomp_load(ctx.get()), "load");
}

}  // namespace steadyloop::pools
