// The worker process: the job table that the worker pool's processes serve. Each job is a
// plain function from lib/jobs; this file only unpacks parameters and packs answers.
#include "app.hpp"

#include "steadyloop/jobs/cpu_sum.hpp"
#include "steadyloop/jobs/digest.hpp"
#include "steadyloop/jobs/image.hpp"
#include "steadyloop/jobs/password.hpp"
#include "steadyloop/pools/worker_main.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace steadyloop::service {

using pools::job_failure;
using pools::job_output;

namespace {

std::uint64_t u64(boost::json::object const& p, char const* name)
{
    auto const* v = p.if_contains(name);
    if (v == nullptr)
        throw job_failure(500, "job_failed", std::string("missing job parameter ") + name);
    if (v->is_uint64())
        return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0)
        return static_cast<std::uint64_t>(v->get_int64());
    throw job_failure(500, "job_failed", std::string("bad job parameter ") + name);
}

std::string str(boost::json::object const& p, char const* name)
{
    auto const* v = p.if_contains(name);
    if (v == nullptr || !v->is_string())
        throw job_failure(500, "job_failed", std::string("missing job parameter ") + name);
    return std::string(v->get_string());
}

jobs::argon2_params argon2(boost::json::object const& p)
{
    return {static_cast<std::uint32_t>(u64(p, "m")), static_cast<std::uint32_t>(u64(p, "t"))};
}

// A 1×1 GIF with a transparent pixel: the seed of the warm-up's images.
constexpr std::array<unsigned char, 43> tiny_gif{
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

std::span<std::byte const> bytes_of(std::string_view s)
{
    return {reinterpret_cast<std::byte const*>(s.data()), s.size()};
}

void warm_up_hashing()
{
    jobs::init_crypto();
    (void)jobs::cpu_sum(1000, 1);
    for (auto alg : {jobs::digest_alg::sha256, jobs::digest_alg::sha512, jobs::digest_alg::sha3_256,
                     jobs::digest_alg::blake2b_512})
        (void)jobs::digest_hex(alg, bytes_of("steadyloop"));
    jobs::argon2_params const small{8, 1};
    auto const hash = jobs::hash_password("steadyloop", small);
    (void)jobs::verify_password("steadyloop", hash, small);
}

void warm_up_images(bool sandboxed)
{
    // liborc compiles libvips' vector paths at run time into a file it creates (for a
    // writable and an executable mapping of the same code), whenever an operation needs a
    // new program: the sandbox forbids that file, and W+X code is what it is there to
    // prevent. Sandboxed workers run libvips' plain C paths instead (resizes measured
    // about 10-15% slower); the environment is read once, by libvips' start-up.
    if (sandboxed)
        ::setenv("VIPS_NOVECTOR", "1", 1);
    jobs::init_images();

    // GIF in, each output format out, then each of those in again: every loader and
    // saver the service accepts, the transparent pixel taking JPEG's flatten path.
    jobs::resize_request req;
    req.width = 16;
    auto const gif = std::span{reinterpret_cast<std::byte const*>(tiny_gif.data()), tiny_gif.size()};
    for (auto format : {jobs::image_format::png, jobs::image_format::jpeg, jobs::image_format::webp}) {
        req.format = format;
        auto const first = jobs::resize_image(gif, req);
        req.format.reset();
        (void)jobs::resize_image(bytes_of(first.bytes), req);
    }
}

// Runs every kind of job once on tiny input before the sandbox closes, so that whatever
// a library does on first use (libvips' start-up and thread set, each decoder and
// encoder, OpenSSL's digest fetches, libsodium's start-up) happens under no filter.
// A part that fails is reported and skipped: its jobs will fail with their own errors
// (or, needing what the sandbox refuses, crash their worker), the others still work.
// Under a small address-space limit the warm-up itself runs out of memory (libvips'
// start-up then aborts the process, in glib; at 256 MiB it leaves too little for a
// 32 MiB job), and such a worker could hardly resize anyway: it only starts libsodium, as workers always did, and a job needing
// more starts its library under the sandbox, which may refuse it (500 worker_crashed).
constexpr std::size_t warm_up_needs_mb = 512;

void warm_up(pools::worker_options const& opts, bool sandboxed)
{
    auto attempt = [](char const* what, auto&& part) {
        try {
            part();
        } catch (std::exception const& e) {
            std::fprintf(stderr, "steadyloop worker: warm-up of %s failed: %s\n", what, e.what());
        }
    };
    if (opts.memory_mb != 0 && opts.memory_mb < warm_up_needs_mb) {
        attempt("libsodium", jobs::init_crypto);
        return;
    }
    attempt("hashing", warm_up_hashing);
    attempt("images", [sandboxed] { warm_up_images(sandboxed); });
}

pools::job_table job_table()
{
    pools::job_table t;
    t["cpu_sum"] = [](boost::json::object const& p, std::span<std::byte const>) {
        return job_output{{{"result", jobs::cpu_sum(u64(p, "n"), u64(p, "x"))}}, {}};
    };
    t["digest"] = [](boost::json::object const& p, std::span<std::byte const> data) {
        auto alg = jobs::parse_digest_alg(str(p, "alg"));
        if (!alg)
            throw job_failure(400, "bad_request", "unknown digest algorithm");
        return job_output{{{"digest", jobs::digest_hex(*alg, data)}}, {}};
    };
    t["password_hash"] = [](boost::json::object const& p, std::span<std::byte const>) {
        return job_output{{{"hash", jobs::hash_password(str(p, "password"), argon2(p))}}, {}};
    };
    t["password_verify"] = [](boost::json::object const& p, std::span<std::byte const>) {
        auto r = jobs::verify_password(str(p, "password"), str(p, "hash"), argon2(p));
        if (r == jobs::verify_result::malformed)
            throw job_failure(400, "bad_request", "field 'hash' is not an Argon2id hash this service accepts");
        return job_output{{{"valid", r == jobs::verify_result::match}}, {}};
    };
    t["resize"] = [](boost::json::object const& p, std::span<std::byte const> data) {
        // libvips started in warm_up, in the worker after its memory limit was set; never
        // in the main process (libvips and fork do not mix).
        jobs::resize_request req;
        if (p.contains("width"))
            req.width = static_cast<int>(u64(p, "width"));
        if (p.contains("height"))
            req.height = static_cast<int>(u64(p, "height"));
        req.fit = jobs::parse_fit(str(p, "fit")).value_or(jobs::fit_mode::inside);
        if (p.contains("format"))
            req.format = jobs::parse_image_format(str(p, "format"));
        req.quality = static_cast<int>(u64(p, "quality"));
        req.max_pixels = u64(p, "max_pixels");
        try {
            auto out = jobs::resize_image(data, req);
            return job_output{{{"format", jobs::name(out.format)},
                               {"content_type", jobs::content_type(out.format)},
                               {"width", out.width},
                               {"height", out.height}},
                              std::move(out.bytes)};
        } catch (jobs::image_error const& e) {
            using kind = jobs::image_error::kind;
            switch (e.which()) {
            case kind::unsupported: throw job_failure(415, "unsupported_image", e.what());
            case kind::corrupt: throw job_failure(422, "corrupt_image", e.what());
            case kind::too_large: throw job_failure(422, "image_too_large", e.what());
            case kind::bad_request: throw job_failure(400, "bad_request", e.what());
            }
            throw;
        }
    };
#ifdef STEADYLOOP_TEST_JOBS
    // Fault injection for the test suite; not compiled into release builds.
    t["echo"] = [](boost::json::object const& p, std::span<std::byte const> data) {
        return job_output{p, std::string(reinterpret_cast<char const*>(data.data()), data.size())};
    };
    t["crash"] = [](boost::json::object const&, std::span<std::byte const>) -> job_output {
        std::raise(SIGSEGV);
        std::abort();
    };
    t["hang"] = [](boost::json::object const&, std::span<std::byte const>) -> job_output {
        for (;;)
            std::this_thread::sleep_for(std::chrono::hours(1));
    };
    t["sleep"] = [](boost::json::object const& p, std::span<std::byte const>) {
        std::this_thread::sleep_for(std::chrono::milliseconds(u64(p, "ms")));
        return job_output{{{"slept_ms", u64(p, "ms")}}, {}};
    };
    t["allocate"] = [](boost::json::object const& p, std::span<std::byte const>) {
        std::size_t bytes = u64(p, "mib") * 1024 * 1024;
        std::vector<char> block(bytes);  // throws bad_alloc past the memory limit
        std::memset(block.data(), 1, block.size());
        return job_output{{{"allocated_mib", u64(p, "mib")}}, {}};
    };
    // Attempts one system call the worker sandbox forbids; without the sandbox it answers
    // the call's result, with it the worker dies (SIGSYS) and the request gets 500.
    t["forbidden"] = [parent = ::getppid()](boost::json::object const& p, std::span<std::byte const>) {
        auto const call = str(p, "call");
        errno = 0;
        long result = -1;
        if (call == "execve") {
            char const* const argv[] = {"steadyloop-forbidden", nullptr};
            char const* const envp[] = {nullptr};
            result = ::execve("/nonexistent/steadyloop-forbidden", const_cast<char* const*>(argv),
                              const_cast<char* const*>(envp));
        } else if (call == "socket") {
            result = ::socket(AF_INET, SOCK_STREAM, 0);
        } else if (call == "open_write") {
            result = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        } else if (call == "open_read") {  // allowed: the filter looks at the flags
            result = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        } else if (call == "fork") {
            pid_t const pid = ::fork();
            if (pid == 0)
                ::_exit(0);
            if (pid > 0)
                ::waitpid(pid, nullptr, 0);
            result = pid > 0 ? 0 : -1;
        } else if (call == "kill") {  // signal 0 to the service: only asks whether it exists
            result = ::kill(parent, 0);
        } else {
            throw job_failure(400, "bad_request", "call must be execve, socket, open_write, open_read, fork or kill");
        }
        int const error = errno;
        if (result >= 0 && call != "fork" && call != "kill")
            ::close(static_cast<int>(result));
        return job_output{{{"call", call}, {"result", result}, {"errno", error}}, {}};
    };
#endif
    return t;
}

}  // namespace

int worker_main(int argc, char const* const* argv)
{
    try {
        auto opts = pools::parse_worker_args(argc, argv);
        return pools::run_worker(opts, job_table(), warm_up);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "steadyloop worker: %s\n", e.what());
        return 2;
    }
}

}  // namespace steadyloop::service
