// steadyloop probe: one HTTP GET under one deadline, for container health checks.
// A process of its own (the image has no curl); nothing of the server runs here.
#include "probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace steadyloop::service {
namespace {

constexpr std::chrono::milliseconds default_timeout{2000};
constexpr std::size_t max_body = 64 * 1024;

struct probe_target {
    std::string host;         // to resolve: a name, an IPv4 or an IPv6 address without brackets
    std::string port;         // "80" when the URL has none
    std::string host_header;  // as written in the URL: "[::1]:8080"
    std::string target;       // path and query: "/healthz"
};

// An http:// URL with a host; the reason in `why` otherwise.
std::optional<probe_target> parse_target(std::string_view text, std::string& why)
{
    auto url = boost::urls::parse_uri(text);
    if (!url) {
        why = "not a URL";
        return std::nullopt;
    }
    if (url->scheme_id() != boost::urls::scheme::http) {
        why = "only http:// URLs are supported";
        return std::nullopt;
    }
    if (url->encoded_host().empty()) {
        why = "the URL has no host";
        return std::nullopt;
    }
    probe_target t;
    t.host = url->host_address();
    t.port = url->port().empty() ? "80" : std::string(url->port());
    unsigned port = 0;
    auto [end, ec] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), port);
    if (ec != std::errc() || end != t.port.data() + t.port.size() || port < 1 || port > 65535) {
        why = "the port is not a number from 1 to 65535";
        return std::nullopt;
    }
    t.host_header = url->encoded_host_and_port();
    t.target = url->encoded_target();
    if (t.target.empty() || t.target.front() != '/')
        t.target.insert(0, "/");
    return t;
}

// The answer, or what went wrong, as one line of text.
struct outcome {
    bool done = false;
    unsigned status = 0;
    std::string reason;
    std::string body;
    std::string error;
};

asio::awaitable<void> get(probe_target t, std::chrono::milliseconds timeout, outcome& out)
{
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    auto [rec, endpoints] = co_await resolver.async_resolve(t.host, t.port, asio::as_tuple(asio::use_awaitable));
    if (rec) {
        out.error = fmt::format("cannot resolve {}: {}", t.host, rec.message());
        out.done = true;
        co_return;
    }
    beast::tcp_stream stream(ex);
    stream.expires_after(timeout);
    auto [cec, ep] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) {
        out.error = fmt::format("cannot connect to {}:{}: {}", t.host, t.port, cec.message());
        out.done = true;
        co_return;
    }
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, t.target, 11};
    req.set(bhttp::field::host, t.host_header);
    req.set(bhttp::field::user_agent, "steadyloop-probe/" STEADYLOOP_VERSION);
    req.set(bhttp::field::connection, "close");
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    if (wec) {
        out.error = fmt::format("cannot send the request: {}", wec.message());
        out.done = true;
        co_return;
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_body);
    auto [rdec, rn] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (rdec) {
        out.error = fmt::format("no answer: {}", rdec.message());
        out.done = true;
        co_return;
    }
    auto& res = parser.get();
    out.status = res.result_int();
    out.reason = std::string(res.reason());
    out.body = std::move(res.body());
    out.done = true;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// The body on one line, shortened: enough to show a problem document's code.
std::string one_line(std::string_view body)
{
    std::string s;
    for (char c : body.substr(0, 200))
        s.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    while (!s.empty() && s.back() == ' ')
        s.pop_back();
    if (body.size() > 200)
        s += "…";
    return s;
}

void print_usage()
{
    std::fputs("usage: steadyloop probe [URL] [--timeout-ms N]\n"
               "  One HTTP GET; exit code 0 for a 2xx answer, 1 otherwise.\n"
               "  URL defaults to http://127.0.0.1:${STEADYLOOP_PORT:-8080}/healthz; N (1-60000) to 2000.\n",
               stdout);
}

}  // namespace

std::string default_probe_url()
{
    std::string host = "127.0.0.1";
    if (char const* a = std::getenv("STEADYLOOP_ADDRESS"); a && *a) {
        std::string_view addr(a);
        if (addr == "::")
            host = "[::1]";
        else if (addr != "0.0.0.0")
            host = addr.find(':') != std::string_view::npos ? fmt::format("[{}]", addr) : std::string(addr);
    }
    std::string port = "8080";
    if (char const* p = std::getenv("STEADYLOOP_PORT"); p && *p)
        port = p;
    return fmt::format("http://{}:{}/healthz", host, port);
}

int probe_main(int argc, char const* const* argv)
{
    std::string url;
    auto timeout = default_timeout;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg(argv[i]);
        if (arg == "--help" || arg == "-h") {
            print_usage();
            return 0;
        }
        if (arg == "--timeout-ms" && i + 1 < argc) {
            std::string_view v(argv[++i]);
            int ms = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
            if (ec != std::errc() || end != v.data() + v.size() || ms < 1 || ms > 60000) {
                std::fprintf(stderr, "probe: --timeout-ms must be a number from 1 to 60000, not '%.*s'\n",
                             static_cast<int>(v.size()), v.data());
                return 1;
            }
            timeout = std::chrono::milliseconds(ms);
        } else if (!arg.starts_with("-") && url.empty()) {
            url = arg;
        } else {
            std::fprintf(stderr, "probe: unexpected argument '%.*s' (usage: steadyloop probe [URL] [--timeout-ms N])\n",
                         static_cast<int>(arg.size()), arg.data());
            return 1;
        }
    }
    if (url.empty())
        url = default_probe_url();

    std::string why;
    auto target = parse_target(url, why);
    if (!target) {
        std::fprintf(stderr, "probe: %s: %s\n", url.c_str(), why.c_str());
        return 1;
    }

    // `out` outlives the io_context, which destroys an unfinished coroutine with it.
    outcome out;
    auto started = std::chrono::steady_clock::now();
    {
        asio::io_context ioc{1};
        asio::co_spawn(ioc, get(*target, timeout, out), [&](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (std::exception const& x) {
                out.error = x.what();
            } catch (...) {
                out.error = "unexpected error";
            }
            out.done = true;
        });
        ioc.run_for(timeout);
    }
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();

    if (!out.done) {
        std::fprintf(stderr, "probe: %s: no answer within %lld ms\n", url.c_str(),
                     static_cast<long long>(timeout.count()));
        return 1;
    }
    if (!out.error.empty()) {
        std::fprintf(stderr, "probe: %s: %s\n", url.c_str(), out.error.c_str());
        return 1;
    }
    auto line = fmt::format("probe: {}: {} {} in {:.1f} ms {}", url, out.status, out.reason, ms, one_line(out.body));
    bool ok = out.status >= 200 && out.status < 300;
    std::fprintf(ok ? stdout : stderr, "%s\n", line.c_str());
    return ok ? 0 : 1;
}

}  // namespace steadyloop::service
