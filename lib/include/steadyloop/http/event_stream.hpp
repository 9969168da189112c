// Answers that go on: a handler that streams (Server-Sent Events) returns its header as
// the response and hands the server a writer; the server sends the header, then lets the
// writer send piece after piece until it returns, the client leaves, or shutdown begins.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string_view>

namespace steadyloop::http {

class event_sink {
public:
    virtual ~event_sink() = default;

    // Sends one piece. False when the stream must end: the client left, did not take the
    // piece within the server's stream write timeout (a reader that stopped reading is
    // dropped, never buffered for), or the server is shutting down.
    virtual boost::asio::awaitable<bool> send(std::string_view piece) = 0;

    // Waits `d` between pieces. False when the stream must end (shutdown, client gone).
    virtual boost::asio::awaitable<bool> wait(std::chrono::milliseconds d) = 0;
};

using stream_writer = std::function<boost::asio::awaitable<void>(event_sink&)>;

}  // namespace steadyloop::http
