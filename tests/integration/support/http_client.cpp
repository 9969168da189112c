#include "http_client.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace itest {
namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000));
}

// Waits until fd is ready for `events`; false on timeout.
bool wait_ready(int fd, short events, clock::time_point deadline)
{
    for (;;) {
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, remaining_ms(deadline));
        if (r > 0)
            return true;
        if (r == 0)
            return false;
        if (errno != EINTR)
            throw std::system_error(errno, std::system_category(), "poll");
    }
}

// A TCP socket connected to 127.0.0.1:port, or -1 with `ec` set.
int open_connection(unsigned short port, std::error_code& ec)
{
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ec = std::error_code(errno, std::system_category());
        return -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = 0;
    do {
        r = ::connect(fd, reinterpret_cast<sockaddr const*>(&addr), sizeof addr);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        ec = std::error_code(errno, std::system_category());
        ::close(fd);
        return -1;
    }
    // Small writes (one header byte at a time) leave at once.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ec.clear();
    return fd;
}

}  // namespace

bool reply::has_header(std::string_view name) const { return message.find(name) != message.end(); }

std::string reply::header(std::string_view name) const { return std::string(message[name]); }

boost::json::object reply::json() const
{
    auto v = boost::json::parse(body());
    if (!v.is_object())
        throw std::runtime_error("response body is JSON but not an object: " + body());
    return v.get_object();
}

std::ostream& operator<<(std::ostream& os, reply const& r)
{
    os << "HTTP/" << r.message.version() / 10 << '.' << r.message.version() % 10 << ' ' << r.status() << ' '
       << r.message.reason() << '\n';
    for (auto const& f : r.message)
        os << f.name_string() << ": " << f.value() << '\n';
    os << '\n' << r.body().substr(0, 600);
    if (r.body().size() > 600)
        os << "…(" << r.body().size() << " bytes)";
    return os << "\n(" << r.elapsed_ms() << " ms)";
}

std::string make_request(std::string_view method, std::string_view target, headers const& extra,
                         std::string_view body, std::string_view version)
{
    std::string out;
    out.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
    out.append("Host: 127.0.0.1\r\n");
    for (auto const& [name, value] : extra)
        out.append(name).append(": ").append(value).append("\r\n");
    if (!body.empty())
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("\r\n").append(body);
    return out;
}

connection::connection(unsigned short port)
{
    std::error_code ec;
    fd_ = open_connection(port, ec);
    if (fd_ < 0)
        throw std::system_error(ec, "connect to 127.0.0.1:" + std::to_string(port));
}

connection::~connection() { close(); }

connection::connection(connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), eof_(other.eof_)
{
}

std::error_code connection::connect_error(unsigned short port)
{
    std::error_code ec;
    int fd = open_connection(port, ec);
    if (fd >= 0)
        ::close(fd);
    return ec;
}

bool connection::try_send(std::string_view bytes, std::chrono::milliseconds timeout)
{
    auto deadline = clock::now() + timeout;
    while (!bytes.empty()) {
        if (!wait_ready(fd_, POLLOUT, deadline))
            throw std::runtime_error("send: the peer took no data for " + std::to_string(timeout.count()) + " ms");
        // MSG_DONTWAIT: take what fits now, so the deadline is checked again.
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return false;
        throw std::system_error(errno, std::system_category(), "send");
    }
    return true;
}

void connection::send(std::string_view bytes, std::chrono::milliseconds timeout)
{
    if (!try_send(bytes, timeout))
        throw std::runtime_error("send: the peer closed the connection");
}

long connection::receive(clock::time_point deadline, bool reset_is_eof)
{
    if (eof_)
        return 0;
    for (;;) {
        if (!wait_ready(fd_, POLLIN, deadline))
            return -1;
        auto space = buffer_.prepare(64 * 1024);
        ssize_t n = ::recv(fd_, space.data(), space.size(), 0);
        if (n > 0) {
            buffer_.commit(static_cast<std::size_t>(n));
            return n;
        }
        if (n == 0) {
            eof_ = true;
            return 0;
        }
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            continue;
        if (errno == ECONNRESET && reset_is_eof) {
            eof_ = true;
            return 0;
        }
        throw std::system_error(errno, std::system_category(), "recv");
    }
}

std::optional<reply> connection::read_one(bool head, clock::time_point deadline, bool eof_ok)
{
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(64 * 1024 * 1024);
    parser.eager(true);
    parser.skip(head);  // a response to HEAD has a Content-Length but no body
    for (;;) {
        if (buffer_.size() > 0) {
            boost::system::error_code ec;
            auto n = parser.put(buffer_.data(), ec);
            buffer_.consume(n);
            if (ec == bhttp::error::need_more)
                ec = {};
            if (ec)
                throw std::runtime_error("malformed response: " + ec.message());
            if (parser.is_done())
                return reply{parser.release(), {}};
            if (n > 0)
                continue;
        }
        if (eof_) {
            if (parser.got_some()) {
                // A body delimited by the end of the connection ends here.
                boost::system::error_code ec;
                parser.put_eof(ec);
                if (!ec && parser.is_done())
                    return reply{parser.release(), {}};
            }
            if (eof_ok)
                return std::nullopt;
            throw std::runtime_error(parser.got_some() ? "the connection ended inside a response"
                                                       : "the connection ended before a response");
        }
        if (receive(deadline, eof_ok) < 0)
            throw std::runtime_error("timed out waiting for a response");
    }
}

reply connection::read_response(bool head, std::chrono::milliseconds timeout)
{
    auto start = clock::now();
    auto r = read_one(head, start + timeout, false);
    r->elapsed = clock::now() - start;
    return std::move(*r);
}

std::optional<reply> connection::try_read_response(bool head, std::chrono::milliseconds timeout)
{
    auto start = clock::now();
    auto r = read_one(head, start + timeout, true);
    if (r)
        r->elapsed = clock::now() - start;
    return r;
}

reply connection::request(std::string_view raw, bool head, std::chrono::milliseconds timeout)
{
    auto start = clock::now();
    send(raw, timeout);
    auto r = read_one(head, start + timeout, false);
    r->elapsed = clock::now() - start;
    return std::move(*r);
}

reply connection::get(std::string_view target, headers const& extra, std::chrono::milliseconds timeout)
{
    return request(make_request("GET", target, extra), false, timeout);
}

bool connection::wait_closed(std::chrono::milliseconds timeout)
{
    auto deadline = clock::now() + timeout;
    for (;;) {
        if (eof_)
            return true;
        if (receive(deadline, true) < 0)
            return false;
    }
}

std::size_t connection::unread_bytes(std::chrono::milliseconds timeout)
{
    if (buffer_.size() == 0 && !eof_)
        receive(clock::now() + timeout, true);
    return buffer_.size();
}

void connection::shutdown_send() { ::shutdown(fd_, SHUT_WR); }

void connection::close()
{
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

reply get(unsigned short port, std::string_view target, headers const& extra, std::chrono::milliseconds timeout)
{
    connection c(port);
    return c.get(target, extra, timeout);
}

reply head(unsigned short port, std::string_view target, headers const& extra)
{
    connection c(port);
    return c.request(make_request("HEAD", target, extra), true);
}

}  // namespace itest
