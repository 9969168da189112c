// Raw request bytes through the real HTTP server (lib/src/http/server.cpp: Beast's parser,
// the limits, routing on the decoded path, the query, the handler, the answer) and the
// service's own routes (service/routes: health, hash and passwords, images, kv, users,
// legacy). Each input is written into one end of a socketpair whose other end the server
// serves as an accepted connection; the answers are read back to the end.
//
// The pools are real but hold nothing (0 threads and workers, 0 queue places): a request
// that passes its handler's checks gets 503 *_pool_full at once, so the fuzzer covers
// everything up to the pool's door without spending CPU behind it.
//
// Invariants: every answer is a well-formed HTTP/1.1 response with Server, Date and a
// valid X-Request-Id; no 500 (an exception that escaped a handler) and no other 5xx than
// the pools' 503s; an error answer is a problem document (valid JSON, its status and a
// code); 405 carries Allow; 413 and 431 end the connection; the server ends every session
// once the client has sent its bytes and holds no connection or in-flight request after.
#include "fuzz_check.hpp"

#include "app.hpp"

#include "steadyloop/http/server.hpp"
#include "steadyloop/loop/activity.hpp"
#include "steadyloop/loop/lag_monitor.hpp"
#include "steadyloop/loop/loop_thread.hpp"
#include "steadyloop/obs/logging.hpp"
#include "steadyloop/obs/metrics.hpp"
#include "steadyloop/store/database.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>

#include <sys/socket.h>

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace steadyloop;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Everything a running service has in front of its pools, built once.
struct harness {
    asio::io_context ioc{1};
    service::config cfg;
    pools::blocking_pool blocking{0, 0};
    pools::worker_pool workers{ioc, pools::worker_pool_config{.workers = 0, .queue = 0}};
    loop::lag_monitor lag{ioc};
    std::unique_ptr<store::database> db;
    obs::metrics metrics;
    loop::activity_board activity;
    http::router routes;
    std::unique_ptr<service::app> app;
    std::unique_ptr<http::server> server;

    harness()
    {
        std::signal(SIGPIPE, SIG_IGN);
        obs::init_logging("off", obs::log_format::json);
        db = store::database::blocking_open(":memory:");
        loop::bind_loop(ioc);
        app = std::make_unique<service::app>(service::app{cfg, blocking, workers, lag, *db, metrics});
        service::add_health_routes(routes, *app);
        service::add_hash_routes(routes, *app);
        service::add_image_routes(routes, *app);
        service::add_kv_routes(routes, *app);
        service::add_user_routes(routes, *app);
        service::add_legacy_routes(routes, *app);
        // The service's settings, as main() passes them.
        http::server_config scfg;
        scfg.max_connections = cfg.max_connections;
        scfg.header_timeout = std::chrono::milliseconds(cfg.header_timeout_ms);
        scfg.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
        scfg.body_timeout = std::chrono::milliseconds(cfg.body_timeout_ms);
        scfg.server_header = "steadyloop/fuzz";
        server = std::make_unique<http::server>(ioc, scfg, routes, blocking, workers,
                                                http::server_hooks{&metrics, &activity});
        app->server = server.get();
    }
};

harness* the_harness = nullptr;

asio::awaitable<void> send_all(asio::local::stream_protocol::socket& client, std::string_view bytes)
{
    co_await asio::async_write(client, asio::buffer(bytes), use_tuple);
    boost::system::error_code ec;
    client.shutdown(asio::socket_base::shutdown_send, ec);  // the server sees the end
}

asio::awaitable<void> receive_all(asio::local::stream_protocol::socket& client, std::string& out)
{
    char buf[16 * 1024];
    for (;;) {
        auto [ec, n] = co_await client.async_read_some(asio::buffer(buf), use_tuple);
        out.append(buf, n);
        if (ec)
            break;
    }
}

bool valid_request_id(std::string_view id)
{
    if (id.empty() || id.size() > 128)
        return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

bool is_status_line(std::string_view s)
{
    return s.starts_with("HTTP/1.1 ") || s.starts_with("HTTP/1.0 ");
}

// Splits the server's output into responses and checks each.
void check_answers(std::string_view out)
{
    std::size_t count = 0;
    bool closing = false;  // the previous answer ends the connection
    while (!out.empty()) {
        FUZZ_CHECK(!closing, "an answer after one that ends the connection");
        // HTTP/1.0 requests are answered as HTTP/1.0.
        FUZZ_CHECK(is_status_line(out), "not a response: %.40s", std::string(out.substr(0, 40)).c_str());
        auto const end = out.find("\r\n\r\n");
        FUZZ_CHECK(end != std::string_view::npos, "a response header without its end");
        // Beast reads the header; its body (if any) is measured below, since an answer to
        // HEAD (or a 304) announces a length it does not send.
        bhttp::response_parser<bhttp::empty_body> p;
        p.skip(true);
        p.eager(true);
        boost::system::error_code ec;
        auto const header = out.substr(0, end + 4);
        p.put(asio::buffer(header.data(), header.size()), ec);
        FUZZ_CHECK(!ec && p.is_header_done(), "an unreadable response header: %s", ec.message().c_str());
        auto const& res = p.get();
        out.remove_prefix(header.size());
        unsigned const status = res.result_int();
        if (status == 100) {
            continue;  // 100 Continue, then the final answer
        }
        ++count;
        FUZZ_CHECK(!res.chunked(), "a chunked answer from a route that does not stream");
        FUZZ_CHECK(res.count(bhttp::field::server) == 1 && res.count(bhttp::field::date) == 1);
        FUZZ_CHECK(res.count("X-Request-Id") == 1 && valid_request_id(res["X-Request-Id"]),
                   "bad X-Request-Id: '%s'", std::string(res["X-Request-Id"]).c_str());

        std::size_t length = 0;
        if (status != 204) {
            auto cl = res[bhttp::field::content_length];
            FUZZ_CHECK(!cl.empty(), "status %u without a Content-Length", status);
            length = std::stoull(std::string(cl));
        }
        // The body is there when the next answer (or the end) follows it; else the answer
        // was to HEAD (or a 304) and carries none.
        bool has_body = length > 0 && out.size() >= length &&
                        (out.size() == length || is_status_line(out.substr(length)));
        FUZZ_CHECK(has_body || length == 0 || out.empty() || is_status_line(out),
                   "status %u: a body that is not %zu bytes long", status, length);
        std::string_view body = has_body ? out.substr(0, length) : std::string_view();
        out.remove_prefix(body.size());

        FUZZ_CHECK(status != 500, "500: an exception escaped a handler: %.*s", static_cast<int>(body.size()),
                   body.data());
        if (status >= 400) {
            FUZZ_CHECK(res[bhttp::field::content_type] == "application/problem+json");
            if (has_body) {
                boost::system::error_code jec;
                auto doc = boost::json::parse(body, jec);
                FUZZ_CHECK(!jec && doc.is_object(), "status %u: the problem document is not JSON (%s): %.*s", status,
                           jec.message().c_str(), static_cast<int>(body.size()), body.data());
                auto const* code = doc.as_object().if_contains("code");
                FUZZ_CHECK(code && code->is_string());
                FUZZ_CHECK(doc.as_object().at("status").to_number<unsigned>() == status);
                if (status >= 500) {
                    std::string_view c = code->as_string();
                    FUZZ_CHECK(status == 503 && (c == "worker_pool_full" || c == "blocking_pool_full" ||
                                                 c == "starting" || c == "draining"),
                               "status %u %.*s", status, static_cast<int>(c.size()), c.data());
                }
            }
            FUZZ_CHECK(status < 500 || status == 503, "status %u", status);
        }
        if (status == 405)
            FUZZ_CHECK(!res[bhttp::field::allow].empty(), "405 without Allow");
        if (status == 413 || status == 431)
            FUZZ_CHECK(!res.keep_alive(), "%u keeps the connection", status);
        closing = !res.keep_alive();
    }
    (void)count;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    the_harness = new harness();  // lives for the whole run
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto& h = *the_harness;
    int fds[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    asio::ip::tcp::socket server_end(h.ioc);
    server_end.assign(asio::ip::tcp::v4(), fds[0]);
    asio::local::stream_protocol::socket client(h.ioc);
    client.assign(asio::local::stream_protocol(), fds[1]);

    std::string out;
    h.server->serve(std::move(server_end));
    asio::co_spawn(h.ioc, send_all(client, {reinterpret_cast<char const*>(data), size}), asio::detached);
    asio::co_spawn(h.ioc, receive_all(client, out), asio::detached);
    h.ioc.restart();
    h.ioc.run();

    auto stats = h.server->stats();
    FUZZ_CHECK(stats.connections == 0 && stats.in_flight == 0 && stats.streams == 0,
               "after the session: %zu connections, %zu in flight, %zu streams", stats.connections, stats.in_flight,
               stats.streams);
    check_answers(out);
    return 0;
}
