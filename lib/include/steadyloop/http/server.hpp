// The HTTP/1.1 server: a listener coroutine and one session coroutine per connection,
// all on the loop. Sessions read the header first, route, apply the route's body limit,
// answer Expect: 100-continue, read the body, call the handler, and write in order.
#pragma once

#include "steadyloop/http/router.hpp"
#include "steadyloop/loop/activity.hpp"
#include "steadyloop/pools/blocking_pool.hpp"
#include "steadyloop/pools/worker_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

namespace steadyloop::obs {
class metrics;
}

namespace steadyloop::http {

struct server_config {
    std::string address = "0.0.0.0";
    unsigned short port = 8080;
    std::size_t max_connections = 10000;
    std::chrono::milliseconds header_timeout{10'000};  // from a request's first byte to its last header byte
    std::chrono::milliseconds idle_timeout{30'000};    // keep-alive wait for the next request
    std::chrono::milliseconds body_timeout{60'000};    // whole body read, and whole response write
    std::size_t header_limit = 16 * 1024;
    std::size_t default_body_limit = 64 * 1024;  // for requests that match no route
    std::string server_header = "steadyloop";
    // A streaming answer's reader gets this long to take each piece before it is dropped.
    std::chrono::milliseconds stream_write_timeout{5'000};
    // Kernel send buffer of a streaming connection: with the timeout, bounds what a reader
    // that stopped reading can leave queued.
    int stream_send_buffer = 16 * 1024;
};

// Optional observers of the server's work.
struct server_hooks {
    obs::metrics* metrics = nullptr;          // every answer is counted and timed
    loop::activity_board* activity = nullptr;  // connections run tagged with their request
};

struct server_stats {
    std::size_t connections = 0;
    std::size_t in_flight = 0;  // requests being answered (open streams not included)
    std::size_t streams = 0;    // streaming answers open
    std::uint64_t requests = 0;
    std::uint64_t rejected_connections = 0;
};

class server {
public:
    server(boost::asio::io_context& ioc, server_config cfg, router const& routes, pools::blocking_pool& blocking,
           pools::worker_pool& workers, server_hooks hooks = {});
    ~server();
    server(server const&) = delete;
    server& operator=(server const&) = delete;

    // Binds and listens; returns the bound endpoint (port 0 → the port picked).
    boost::asio::ip::tcp::endpoint listen();
    // Starts accepting (spawns the listener coroutine on the loop).
    void start();
    // Serves one connected socket as an accepted one is served, the connection limit
    // included. The listener's path; the HTTP fuzzer's way in (one end of a socketpair).
    void serve(boost::asio::ip::tcp::socket socket);

    // Graceful shutdown, step one: stop accepting, close idle connections, and let
    // in-flight requests finish with "Connection: close".
    void drain();
    // Step two, after the grace period: close every connection that is left.
    void close_all();

    bool listening() const noexcept { return listening_; }
    bool draining() const noexcept { return draining_; }
    server_stats stats() const noexcept;

private:
    struct connection;

    boost::asio::awaitable<void> accept_loop();
    class stream_sink;

    boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, loop::tag_handle tag_handle);
    // Sends a streaming answer's header, runs its writer, and ends the stream.
    boost::asio::awaitable<void> run_stream(stream_sink& sink, response& head, stream_writer& writer);
    boost::asio::awaitable<void> reject_connection(boost::asio::ip::tcp::socket socket);

    // Sets the headers every answer carries (Server, Date, X-Request-Id, length).
    void finish(response& res, unsigned version, std::string const& request_id, bool keep_alive, bool head) const;
    std::string make_request_id();
    std::string const& http_date() const;

    boost::asio::io_context& ioc_;
    server_config cfg_;
    router const& routes_;
    pools::blocking_pool& blocking_;
    pools::worker_pool& workers_;
    server_hooks hooks_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<spdlog::logger> log_;
    std::unordered_set<connection*> connections_;
    std::size_t in_flight_ = 0;
    std::size_t streams_ = 0;
    std::size_t rejecting_ = 0;
    std::uint64_t requests_ = 0;
    std::uint64_t rejected_connections_ = 0;
    std::uint64_t request_counter_ = 0;
    std::uint32_t request_prefix_ = 0;
    bool listening_ = false;
    bool draining_ = false;
    mutable long cached_date_second_ = -1;
    mutable std::string cached_date_;
};

}  // namespace steadyloop::http
