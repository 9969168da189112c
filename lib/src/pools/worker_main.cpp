#include "steadyloop/pools/worker_main.hpp"

#include "steadyloop/http/query.hpp"
#include "steadyloop/pools/frame.hpp"
#include "steadyloop/pools/sandbox.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <new>
#include <string_view>

namespace steadyloop::pools {
namespace {

// Address-sanitizer builds reserve terabytes of virtual memory for their shadow, which
// an RLIMIT_AS would break; those builds run without the limit.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool can_limit_address_space = false;
#else
constexpr bool can_limit_address_space = true;
#endif

bool read_exact(int fd, void* buf, std::size_t n)
{
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool discard(int fd, std::size_t n)
{
    std::array<char, 64 * 1024> sink{};
    while (n > 0) {
        auto chunk = std::min(n, sink.size());
        if (!read_exact(fd, sink.data(), chunk))
            return false;
        n -= chunk;
    }
    return true;
}

bool write_all(int fd, std::string_view a, std::string_view b = {}, std::string_view c = {})
{
    std::array<iovec, 3> iov{iovec{const_cast<char*>(a.data()), a.size()}, iovec{const_cast<char*>(b.data()), b.size()},
                             iovec{const_cast<char*>(c.data()), c.size()}};
    std::size_t first = 0;
    while (first < iov.size()) {
        ssize_t w = ::writev(fd, iov.data() + first, static_cast<int>(iov.size() - first));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        auto left = static_cast<std::size_t>(w);
        while (first < iov.size() && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            ++first;
        }
        if (first < iov.size()) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return true;
}

bool send_frame(int fd, wire::frame_kind kind, std::uint64_t id, boost::json::object const& meta,
                std::string_view data = {})
{
    auto meta_text = boost::json::serialize(meta);
    auto prefix = wire::encode_prefix(kind, id, meta_text.size(), data.size());
    return write_all(fd, {reinterpret_cast<char const*>(prefix.data()), prefix.size()}, meta_text, data);
}

bool send_error(int fd, std::uint64_t id, int status, std::string const& code, std::string const& message)
{
    return send_frame(fd, wire::frame_kind::error, id,
                      boost::json::object{{"status", status}, {"code", code}, {"message", message}});
}

void apply_hygiene(worker_options const& opts)
{
    // Die with the parent; and if it is already gone, do not start at all.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (opts.parent != 0 && ::getppid() != opts.parent)
        std::_Exit(1);
    // Lower priority than the loop, so the loop wins the CPU when both want it.
    errno = 0;
    if (::nice(opts.nice) == -1 && errno != 0)
        std::perror("steadyloop worker: nice");
    if (opts.memory_mb > 0 && can_limit_address_space) {
        rlimit lim{};
        lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(opts.memory_mb) * 1024 * 1024;
        ::setrlimit(RLIMIT_AS, &lim);
    }
}

}  // namespace

worker_options parse_worker_args(int argc, char const* const* argv)
{
    worker_options opts;
    for (int i = 0; i < argc; ++i) {
        std::string_view a = argv[i];
        if (i + 1 >= argc)
            throw std::invalid_argument("missing value for " + std::string(a));
        std::string_view v = argv[++i];
        if (a == "--parent-pid") {
            auto n = http::parse_integer(v, 1, 1 << 30);
            if (!n)
                throw std::invalid_argument("bad --parent-pid");
            opts.parent = static_cast<pid_t>(*n);
        } else if (a == "--memory-mb") {
            auto n = http::parse_integer(v, 0, 1 << 20);
            if (!n)
                throw std::invalid_argument("bad --memory-mb");
            opts.memory_mb = static_cast<std::size_t>(*n);
        } else if (a == "--sandbox") {
            if (v != "on" && v != "off")
                throw std::invalid_argument("bad --sandbox");
            opts.sandbox = v == "on";
        } else {
            throw std::invalid_argument("unknown worker option " + std::string(a));
        }
    }
    return opts;
}

int run_worker(worker_options const& opts, job_table const& jobs, warm_up_fn const& warm_up)
{
    apply_hygiene(opts);
    // A kernel without seccomp was reported once by the service; its workers go on bare.
    bool const sandboxed = opts.sandbox && sandbox_supported();
    if (warm_up)
        warm_up(opts, sandboxed);
    // After the warm-up, before the first job: from here on a job can only compute and
    // talk on its socket.
    if (sandboxed)
        apply_worker_sandbox();
    int const fd = opts.fd;
    if (!send_frame(fd, wire::frame_kind::ready, 0,
                    boost::json::object{{"pid", ::getpid()},
                                        {"memory_limited", can_limit_address_space},
                                        {"sandboxed", sandboxed}}))
        return 1;

    std::array<std::byte, wire::header_size> header{};
    for (;;) {
        if (!read_exact(fd, header.data(), header.size())) {
#if defined(__SANITIZE_ADDRESS__)
            // LeakSanitizer's check at exit stops the threads with ptrace from a tracer it
            // clone()s as a process, which the sandbox kills (SIGSYS instead of exit 0).
            // Sandboxed workers skip it; the jobs' own tests run them in-process under it,
            // and --worker-sandbox off checks a worker's leaks too.
            if (sandboxed)
                std::_Exit(0);
#endif
            return 0;  // EOF: the pool is done with us
        }
        wire::frame_error fe{};
        auto h = wire::decode_header(header, fe);
        if (!h || h->kind != wire::frame_kind::job) {
            std::fprintf(stderr, "steadyloop worker: bad frame from the loop (%s)\n",
                         h ? "not a job" : wire::to_string(fe));
            return 3;
        }
        std::unique_ptr<std::byte[]> payload;
        try {
            payload = std::make_unique_for_overwrite<std::byte[]>(h->length);
        } catch (std::bad_alloc const&) {
            // The input alone is over the memory limit: read past it (the stream stays in
            // step), fail this job, and go on serving.
            if (!discard(fd, h->length))
                return 0;
            if (!send_error(fd, h->job_id, 500, "job_out_of_memory",
                            "the job's input does not fit in the worker's memory limit"))
                return 0;
            continue;
        }
        if (!read_exact(fd, payload.get(), h->length))
            return 0;
        auto pv = wire::split_payload({payload.get(), h->length}, fe);
        if (!pv) {
            std::fprintf(stderr, "steadyloop worker: bad job payload (%s)\n", wire::to_string(fe));
            return 3;
        }

        bool sent = false;
        try {
            boost::system::error_code jec;
            auto params = boost::json::parse(pv->meta, jec);
            if (jec || !params.is_object() || !params.as_object().contains("job") ||
                !params.as_object().at("job").is_string())
                throw job_failure(500, "job_failed", "malformed job parameters");
            std::string name(params.as_object().at("job").as_string());
            auto it = jobs.find(name);
            if (it == jobs.end())
                throw job_failure(500, "job_failed", "unknown job: " + name);
            auto out = it->second(params.as_object(), pv->data);
            out.meta["pid"] = ::getpid();
            sent = send_frame(fd, wire::frame_kind::result, h->job_id, out.meta, out.data);
        } catch (job_failure const& e) {
            sent = send_error(fd, h->job_id, e.http_status(), e.code(), e.what());
        } catch (std::bad_alloc const&) {
            sent = send_error(fd, h->job_id, 500, "job_out_of_memory",
                              "the job needed more memory than the worker's limit allows");
        } catch (std::exception const& e) {
            sent = send_error(fd, h->job_id, 500, "job_failed", e.what());
        }
        if (!sent)
            return 0;
    }
}

}  // namespace steadyloop::pools
