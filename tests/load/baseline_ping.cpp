// The baseline for the benchmark's `ping` row: the least a single-threaded Beast server
// does to answer GET /ping over keep-alive. Not part of the service; built alongside it
// so the report can give steadyloop's /ping as a ratio to the best this stack does here.
//
//   baseline_ping [port]     (0, the default, picks a free port; prints {"port":N})
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

asio::awaitable<void> session(tcp::socket socket)
{
    boost::beast::tcp_stream stream(std::move(socket));
    boost::beast::flat_buffer buffer;
    for (;;) {
        http::request<http::empty_body> req;
        co_await http::async_read(stream, buffer, req, asio::use_awaitable);
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "text/plain");
        res.body() = "pong\n";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::use_awaitable);
        if (!res.keep_alive())
            co_return;
    }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor)
{
    for (;;) {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
}

int main(int argc, char** argv)
{
    auto const port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0);
    asio::io_context ioc(1);
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), port});
    std::printf("{\"port\":%u}\n", acceptor.local_endpoint().port());
    std::fflush(stdout);
    asio::co_spawn(ioc, listen(acceptor), asio::detached);
    ioc.run();
}
