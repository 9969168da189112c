// A small blocking HTTP/1.1 client over real TCP sockets, for tests: raw bytes out,
// responses parsed one at a time with Beast's parser (so pipelined answers can be read
// in turn from one connection), and every wait bounded by a deadline.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace itest {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::chrono::milliseconds default_timeout = 5s;

// One response as the client read it.
struct reply {
    bhttp::response<bhttp::string_body> message;
    std::chrono::duration<double, std::milli> elapsed{};  // from sending to the response's last byte

    unsigned status() const { return message.result_int(); }
    std::string const& body() const { return message.body(); }
    bool has_header(std::string_view name) const;
    std::string header(std::string_view name) const;  // "" when absent
    double elapsed_ms() const { return elapsed.count(); }
    // The body parsed as a JSON object; throws when it is not one.
    boost::json::object json() const;
};
// For gtest messages: the status line, headers and (the start of) the body.
std::ostream& operator<<(std::ostream& os, reply const& r);

// The text of one request. Adds Host, and Content-Length when `body` is not empty.
std::string make_request(std::string_view method, std::string_view target, headers const& extra = {},
                         std::string_view body = {}, std::string_view version = "HTTP/1.1");

class connection {
public:
    // Connects to 127.0.0.1:port; throws std::system_error when that fails.
    explicit connection(unsigned short port);
    ~connection();
    connection(connection&& other) noexcept;
    connection& operator=(connection&&) = delete;
    connection(connection const&) = delete;

    // The error a fresh connection attempt gets (none when it was accepted).
    static std::error_code connect_error(unsigned short port);

    // Sends every byte; throws on error or when the peer does not take them in time.
    void send(std::string_view bytes, std::chrono::milliseconds timeout = default_timeout);
    // As send, but a peer that closed or reset is reported as false instead.
    bool try_send(std::string_view bytes, std::chrono::milliseconds timeout = default_timeout);

    // Reads one complete response. `head`: the answer to a HEAD request (no body follows).
    // Throws on timeout, on a malformed response, or when the connection ends first.
    reply read_response(bool head = false, std::chrono::milliseconds timeout = default_timeout);
    // As read_response, but a connection closed or reset before a complete response
    // gives nullopt.
    std::optional<reply> try_read_response(bool head = false, std::chrono::milliseconds timeout = default_timeout);

    // send + read_response, timed.
    reply request(std::string_view raw, bool head = false, std::chrono::milliseconds timeout = default_timeout);
    reply get(std::string_view target, headers const& extra = {}, std::chrono::milliseconds timeout = default_timeout);

    // True when the peer closes (EOF or reset) within `timeout`; bytes that arrive
    // meanwhile are kept for the next read.
    bool wait_closed(std::chrono::milliseconds timeout);
    // How many unread bytes have arrived after waiting up to `timeout` for any.
    std::size_t unread_bytes(std::chrono::milliseconds timeout);

    void shutdown_send();
    void close();
    bool is_open() const noexcept { return fd_ >= 0; }
    // The socket, for options and raw non-blocking I/O a test does itself.
    int native_handle() const noexcept { return fd_; }

private:
    // Receives into the buffer: >0 bytes, 0 at EOF; -1 on timeout; throws on other errors
    // unless `reset_is_eof`, when a reset counts as EOF.
    long receive(std::chrono::steady_clock::time_point deadline, bool reset_is_eof);
    std::optional<reply> read_one(bool head, std::chrono::steady_clock::time_point deadline, bool eof_ok);

    int fd_ = -1;
    boost::beast::flat_buffer buffer_;
    bool eof_ = false;
};

// One request on a fresh connection, closed afterwards.
reply get(unsigned short port, std::string_view target, headers const& extra = {},
          std::chrono::milliseconds timeout = default_timeout);
reply head(unsigned short port, std::string_view target, headers const& extra = {});

}  // namespace itest
