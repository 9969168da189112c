// The worker process: the job table that the worker pool's processes serve. Each job is a
// plain function from lib/jobs; this file only unpacks parameters and packs answers.
#include "app.hpp"

#include "steadyloop/jobs/cpu_sum.hpp"
#include "steadyloop/jobs/digest.hpp"
#include "steadyloop/jobs/image.hpp"
#include "steadyloop/jobs/password.hpp"
#include "steadyloop/pools/worker_main.hpp"

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
        // libvips starts here, in the worker, after its memory limit is set; never in
        // the main process (libvips and fork do not mix).
        static bool const ready = (jobs::init_images(), true);
        (void)ready;
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
#endif
    return t;
}

}  // namespace

int worker_main(int argc, char const* const* argv)
{
    try {
        auto opts = pools::parse_worker_args(argc, argv);
        jobs::init_crypto();
        return pools::run_worker(opts, job_table());
    } catch (std::exception const& e) {
        std::fprintf(stderr, "steadyloop worker: %s\n", e.what());
        return 2;
    }
}

}  // namespace steadyloop::service
