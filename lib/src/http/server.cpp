#include "steadyloop/http/server.hpp"

#include "steadyloop/http/error.hpp"
#include "steadyloop/loop/loop_thread.hpp"
#include "steadyloop/obs/metrics.hpp"
#include "steadyloop/obs/logging.hpp"
#include "steadyloop/pools/errors.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/url/parse.hpp>

#include <fmt/compile.h>
#include <fmt/format.h>

#include <sys/socket.h>

#include <array>
#include <ctime>
#include <optional>
#include <random>
#include <tuple>

namespace steadyloop::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool valid_request_id(std::string_view id)
{
    if (id.empty() || id.size() > 128)
        return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Outcomes of a read that end a connection without an answer: the peer left, was too
// slow, or we are shutting down.
// Declared bodies at least this large skip the parser's copy (see run_session).
constexpr std::size_t direct_body_min = 64 * 1024;

bool quiet_close(boost::system::error_code const& ec)
{
    return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
           ec == beast::error::timeout || ec == asio::error::operation_aborted || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::bad_descriptor ||
           ec == asio::error::broken_pipe;
}

// After an answer sent without reading the request's body: stop sending, then read and
// discard for a moment so the kernel does not reset the connection (which could destroy
// the answer before the client reads it).
asio::awaitable<void> lingering_close(beast::tcp_stream& stream)
{
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(2s);
    std::array<char, 16 * 1024> sink{};
    std::size_t drained = 0;
    while (drained < 4 * 1024 * 1024) {
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
        if (rec)
            break;
        drained += n;
    }
    stream.close();
}

// Sends an answer. A small one is serialized into one contiguous buffer first and sent
// with a single plain write: Beast's gather write walks its header-and-body buffer
// sequence several times per write, which costs more than copying a few hundred bytes.
asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write_response(beast::tcp_stream& stream,
                                                                                   response& res,
                                                                                   std::string& out)
{
    constexpr std::size_t small_body = 16 * 1024;
    if (res.body().size() > small_body || res.chunked())
        co_return co_await bhttp::async_write(stream, res, use_tuple);
    out.clear();
    serialize(res, out);
    co_return co_await asio::async_write(stream, asio::buffer(out), use_tuple);
}

// While a handler runs, watch the socket: EOF means the client has gone, so any job it
// still has queued in a pool is not started. Pipelined data ends the watch (the client
// is alive). Peeking consumes nothing.
void watch_disconnect(tcp::socket& socket, pools::cancel_source cancel)
{
    // The descriptor is captured by value: a peek at a descriptor that was closed (or
    // even reused) by the time this runs is harmless.
    socket.async_wait(tcp::socket::wait_read, [fd = socket.native_handle(), cancel](boost::system::error_code ec) {
        if (ec)
            return;  // cancelled when the handler finished
        char byte = 0;
        ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            cancel.cancel();
    });
}

// A co_spawn completion that logs an exception that ended a coroutine: the one place an
// error escaping a session or the listener is seen.
auto log_failure(std::shared_ptr<spdlog::logger> log, char const* what)
{
    return [log = std::move(log), what](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (std::exception const& ex) {
            log->error("{}: {}", what, ex.what());
        } catch (...) {
            log->error("{}: unknown exception", what);
        }
    };
}

}  // namespace

namespace {

// The method as a metric label: the standard methods by name, anything else as one value.
std::string_view method_label(verb method, std::string_view text)
{
    return method == verb::unknown ? std::string_view("OTHER") : text;
}

constexpr std::string_view no_route = "";

}  // namespace

struct server::connection {
    beast::tcp_stream* stream;
    bool busy = false;       // from a complete header until its answer is written
    bool streaming = false;  // sending a streaming answer
    asio::steady_timer* stream_timer = nullptr;  // a stream's wait between pieces
};

// What a streaming handler writes through: chunked pieces (close-delimited for HTTP/1.0),
// each with the stream write timeout, ending early on shutdown or a departed client.
class server::stream_sink final : public event_sink {
public:
    stream_sink(server& srv, beast::tcp_stream& stream, bool chunked, pools::cancel_token cancel)
        : timer(stream.get_executor()), srv_(srv), stream_(stream), chunked_(chunked), cancel_(std::move(cancel))
    {
    }

    asio::awaitable<bool> send(std::string_view piece) override
    {
        if (!open())
            co_return false;
        stream_.expires_after(srv_.cfg_.stream_write_timeout);
        boost::system::error_code ec;
        std::size_t n = 0;
        if (chunked_)
            std::tie(ec, n) = co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(piece)), use_tuple);
        else
            std::tie(ec, n) = co_await asio::async_write(stream_, asio::buffer(piece), use_tuple);
        if (ec) {
            ended = ec == beast::error::timeout ? "reader too slow" : "client gone";
            co_return false;
        }
        bytes += piece.size();
        co_return true;
    }

    asio::awaitable<bool> wait(std::chrono::milliseconds d) override
    {
        if (!open())
            co_return false;
        timer.expires_after(d);
        co_await timer.async_wait(use_tuple);
        co_return open();
    }

    bool open()
    {
        if (ended)
            return false;
        if (srv_.draining_)
            ended = "shutdown";
        else if (cancel_.cancelled())
            ended = "client gone";
        return !ended;
    }

    beast::tcp_stream* stream() noexcept { return &stream_; }

    asio::steady_timer timer;
    std::size_t bytes = 0;
    char const* ended = nullptr;  // why the stream ended early

private:
    server& srv_;
    beast::tcp_stream& stream_;
    bool chunked_;
    pools::cancel_token cancel_;
};

server::server(asio::io_context& ioc, server_config cfg, router const& routes, pools::blocking_pool& blocking,
               pools::worker_pool& workers, server_hooks hooks)
    : ioc_(ioc), cfg_(std::move(cfg)), routes_(routes), blocking_(blocking), workers_(workers), hooks_(hooks),
      acceptor_(ioc),
      log_(obs::logger("http"))
{
    std::random_device rd;
    request_prefix_ = rd();
}

server::~server() = default;

tcp::endpoint server::listen()
{
    tcp::endpoint ep{asio::ip::make_address(cfg_.address), cfg_.port};
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    listening_ = true;
    return acceptor_.local_endpoint();
}

void server::start()
{
    asio::co_spawn(ioc_, accept_loop(), log_failure(log_, "listener failed"));
}

void server::drain()
{
    draining_ = true;
    listening_ = false;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto* c : connections_) {
        if (c->busy) {
            if (c->stream_timer)
                c->stream_timer->cancel();  // a stream ends at its next look
            continue;
        }
        // An idle connection ends, unless a request on it arrived before the signal and
        // the loop has not read it yet: that one is answered, with Connection: close.
        // Cancelled, not closed: a read that has already completed still delivers its
        // bytes, and the request they start is answered too.
        boost::system::error_code aec;
        if (c->stream->socket().available(aec) > 0 && !aec)
            continue;
        c->stream->cancel();
    }
}

void server::close_all()
{
    for (auto* c : connections_)
        c->stream->close();
}

server_stats server::stats() const noexcept
{
    return {connections_.size(), in_flight_, streams_, requests_, rejected_connections_};
}

std::string server::make_request_id()
{
    std::string id(16, '0');
    fmt::format_to(id.data(), FMT_COMPILE("{:08x}{:08x}"), request_prefix_, static_cast<std::uint32_t>(++request_counter_));
    return id;
}

std::string const& server::http_date() const
{
    std::time_t now = std::time(nullptr);
    if (now != cached_date_second_) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        char buf[64];
        auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_date_.assign(buf, n);
        cached_date_second_ = now;
    }
    return cached_date_;
}

void server::finish(response& res, unsigned version, std::string const& request_id, bool keep_alive,
                    bool head) const
{
    res.version(version == 10 ? 10 : 11);
    res.set(bhttp::field::server, cfg_.server_header);
    res.set(bhttp::field::date, http_date());
    res.set("X-Request-Id", request_id);
    res.keep_alive(keep_alive);
    if (res.result() == status::not_modified) {
        // No body, and the Content-Length the handler gave: that of the 200 (RFC 9110 8.6).
        res.body().clear();
    } else if (head) {
        // HEAD: the headers GET would send, Content-Length included, and no body.
        auto n = res.body().size();
        res.body().clear();
        res.content_length(n);
    } else {
        res.prepare_payload();
    }
}

asio::awaitable<void> server::accept_loop()
{
    asio::steady_timer backoff(ioc_);
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
        if (ec == asio::error::operation_aborted || !acceptor_.is_open())
            break;
        if (ec) {
            // Out of file descriptors and the like: wait a moment rather than spin.
            log_->warn("accept failed: {}", ec.message());
            backoff.expires_after(100ms);
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        serve(std::move(socket));
    }
}

void server::serve(tcp::socket socket)
{
    if (connections_.size() >= cfg_.max_connections) {
        ++rejected_connections_;
        if (rejecting_ < 64)
            asio::co_spawn(ioc_, reject_connection(std::move(socket)), asio::detached);
        return;  // beyond that, closing the socket is the answer
    }
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    // The session runs on an executor that names its current request on the activity
    // board whenever it runs.
    auto done = log_failure(log_, "session ended by an unexpected error");
    if (hooks_.activity) {
        auto tag = hooks_.activity->acquire();
        asio::co_spawn(loop::tagged_executor(ioc_.get_executor(), hooks_.activity, tag),
                       run_session(std::move(socket), tag), std::move(done));
    } else {
        asio::co_spawn(ioc_, run_session(std::move(socket), {}), std::move(done));
    }
}

asio::awaitable<void> server::reject_connection(tcp::socket socket)
{
    ++rejecting_;
    beast::tcp_stream stream(std::move(socket));
    auto res = problem(status::service_unavailable, "too_many_connections",
                       fmt::format("the server holds its maximum of {} connections; retry shortly",
                                   cfg_.max_connections));
    res.set(bhttp::field::retry_after, "1");
    finish(res, 11, make_request_id(), false, false);
    stream.expires_after(2s);
    co_await bhttp::async_write(stream, res, use_tuple);
    co_await lingering_close(stream);
    --rejecting_;
}

asio::awaitable<void> server::run_session(tcp::socket socket, loop::tag_handle tag_handle)
{
    STEADYLOOP_ASSERT_ON_LOOP();
    beast::tcp_stream stream(std::move(socket));
    connection conn{&stream};
    connections_.insert(&conn);
    struct unregister {
        server* s;
        connection* c;
        loop::tag_handle tag;
        ~unregister()
        {
            if (s->hooks_.activity)
                s->hooks_.activity->release(tag);
            s->connections_.erase(c);
            if (c->streaming)
                --s->streams_;
            else if (c->busy)
                --s->in_flight_;
        }
    } unregister_on_exit{this, &conn, tag_handle};
    loop::work_tag untracked;  // when no board watches
    loop::work_tag* const tag = hooks_.activity ? &hooks_.activity->tag(tag_handle) : &untracked;

    beast::flat_buffer buffer;
    std::string out_buffer;  // small answers are serialized here and sent in one write
    bool first = true;

    // Once draining, a request that has already arrived is still answered (with
    // Connection: close): its client sent it before the signal, perhaps on reading the
    // keep-alive answer to the previous one.
    auto arrived = [&] {
        boost::system::error_code aec;
        return buffer.size() > 0 || (stream.socket().available(aec) > 0 && !aec);
    };
    while (!draining_ || arrived()) {
        // Wait for the first byte of the next request. A new connection gets the header
        // timeout (an idle socket must not hold a slot), a kept-alive one the idle timeout.
        if (buffer.size() == 0) {
            stream.expires_after(first ? cfg_.header_timeout : cfg_.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            if (ec)
                co_return;
            buffer.commit(n);
        }
        first = false;

        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg_.header_limit));
        parser.body_limit(boost::none);  // decided per route, once the header is known
        stream.expires_after(cfg_.header_timeout);
        auto started = std::chrono::steady_clock::now();
        auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
        (void)hn;
        if (hec) {
            if (quiet_close(hec))
                co_return;
            // Malformed or oversized header: answer, then close (the stream is out of sync).
            auto res = hec == bhttp::error::header_limit
                           ? problem(status::request_header_fields_too_large, "header_too_large",
                                     fmt::format("request headers exceed {} bytes", cfg_.header_limit))
                           : problem(status::bad_request, "bad_request",
                                     fmt::format("malformed HTTP request: {}", hec.message()));
            auto id = make_request_id();
            finish(res, 11, id, false, false);
            stream.expires_after(cfg_.body_timeout);
            co_await bhttp::async_write(stream, res, use_tuple);
            log_->info("- - {} {}B 0.0ms req={} ({})", res.result_int(), res.body().size(), id, hec.message());
            if (hooks_.metrics)
                hooks_.metrics->request_done("OTHER", no_route, res.result_int(),
                                             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            co_await lingering_close(stream);
            co_return;
        }

        conn.busy = true;
        ++in_flight_;
        ++requests_;
        auto& hdr = parser.get();
        auto const method = hdr.method();
        bool const head = method == verb::head;
        unsigned const version = hdr.version();
        std::string const target(hdr.target());
        std::string const method_text(hdr.method_string());
        bool const client_keep_alive = hdr.keep_alive();

        auto client_id = hdr["X-Request-Id"];
        std::string request_id = valid_request_id(client_id) ? std::string(client_id) : make_request_id();

        // Route on the percent-decoded path.
        std::optional<response> early;  // an answer decided before the body is read
        route_match match;
        auto url = boost::urls::parse_origin_form(target);
        if (!url)
            url = boost::urls::parse_absolute_uri(target);  // absolute-form: "GET http://host/ping"
        query_params query;
        if (version >= 11 && hdr.find(bhttp::field::host) == hdr.end()) {
            early = problem(status::bad_request, "bad_request", "an HTTP/1.1 request needs a Host header");
        } else if (!url) {
            early = problem(status::bad_request, "bad_request", "malformed request target");
        } else {
            std::vector<std::string> segments;
            for (auto seg : url->encoded_segments())
                segments.push_back(seg.decode());
            match = routes_.find(method, segments);
            if (!match.matched && match.path_known) {
                early = problem(status::method_not_allowed, "method_not_allowed",
                                fmt::format("{} is not allowed here; allowed: {}", method_text, match.allow));
                early->set(bhttp::field::allow, match.allow);
            } else if (!match.matched) {
                early = problem(status::not_found, "not_found", "no such resource");
            } else {
                try {
                    query = query_params(*url);
                } catch (...) {
                    early = problem(status::bad_request, "bad_request", "malformed query string");
                }
            }
        }

        // The loop is now working for this request: say so on the activity board.
        std::string_view const route_label = match.matched ? std::string_view(match.matched->label) : no_route;
        tag->route.assign(method_text);
        tag->route += ' ';
        tag->route += route_label.empty() ? std::string_view("(no route)") : route_label;
        tag->request_id = request_id;
        if (hooks_.activity)
            hooks_.activity->update(tag_handle);

        std::size_t const limit = match.matched ? match.matched->options.body_limit : cfg_.default_body_limit;
        bool const chunked = parser.chunked();
        auto const content_length = parser.content_length();
        bool const has_body = chunked || (content_length && *content_length > 0);
        bool const expect_continue = version >= 11 && iequals(hdr[bhttp::field::expect], "100-continue");
        bool close_after = false;

        // A Transfer-Encoding whose last coding is not chunked leaves the body's length
        // unknown; reading on would take the body for the next request (RFC 9112 6.3: 400,
        // then close). Beast treats such a request as bodiless.
        if (!chunked && hdr.find(bhttp::field::transfer_encoding) != hdr.end()) {
            early = problem(status::bad_request, "bad_request",
                            "Transfer-Encoding must end with chunked: the body's length is unknown");
            close_after = true;
        }
        if (content_length && *content_length > limit) {
            early = problem(status::payload_too_large, "body_too_large",
                            fmt::format("request body of {} bytes exceeds this route's limit of {} bytes",
                                        *content_length, limit));
            close_after = true;
        }

        response res;
        std::string direct_body;
        stream_writer writer;
        pools::cancel_token stream_cancel;
        bool body_unread = has_body;
        if (early && has_body && (expect_continue || close_after)) {
            // Answer at once instead of "100 Continue"; the body is never read.
            res = std::move(*early);
            close_after = true;
        } else {
            if (has_body) {
                if (expect_continue) {
                    bhttp::response<bhttp::empty_body> cont{status::continue_, 11};
                    stream.expires_after(cfg_.body_timeout);
                    auto [cec, cn] = co_await bhttp::async_write(stream, cont, use_tuple);
                    (void)cn;
                    if (cec)
                        co_return;
                }
                parser.body_limit(limit);
                stream.expires_after(cfg_.body_timeout);
                boost::system::error_code bec;
                if (!early && !chunked && *content_length >= direct_body_min) {
                    // A large declared body is read straight into its string: what the
                    // header read already holds, then the rest in one read, without the
                    // parser's copy of every piece through the read buffer.
                    direct_body.resize(static_cast<std::size_t>(*content_length));
                    auto const have = asio::buffer_copy(asio::buffer(direct_body), buffer.data());
                    buffer.consume(have);
                    std::tie(bec, std::ignore) = co_await asio::async_read(
                        stream, asio::buffer(direct_body.data() + have, direct_body.size() - have), use_tuple);
                    if (bec == asio::error::eof)
                        bec = bhttp::error::partial_message;
                } else {
                    std::tie(bec, std::ignore) = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
                }
                if (bec == bhttp::error::body_limit) {
                    early = problem(status::payload_too_large, "body_too_large",
                                    fmt::format("request body exceeds this route's limit of {} bytes", limit));
                    close_after = true;
                } else if (bec && quiet_close(bec)) {
                    co_return;
                } else if (bec) {
                    early = problem(status::bad_request, "bad_request",
                                    fmt::format("malformed request body: {}", bec.message()));
                    close_after = true;
                } else {
                    body_unread = false;
                }
            }
            if (early) {
                res = std::move(*early);
            } else {
                request req = parser.release();
                if (!direct_body.empty())
                    req.body() = std::move(direct_body);
                pools::cancel_source cancel;
                // The disconnect watch starts when the handler first queues a pool job
                // (not at all with pipelined requests waiting: the socket is readable).
                struct lazy_watch {
                    tcp::socket* socket;
                    pools::cancel_source const* cancel;
                    bool allowed;
                    bool armed = false;
                    static void start(void* self)
                    {
                        auto* w = static_cast<lazy_watch*>(self);
                        if (w->allowed && !w->armed) {
                            w->armed = true;
                            watch_disconnect(*w->socket, *w->cancel);
                        }
                    }
                } watch{&stream.socket(), &cancel, buffer.size() == 0};
                client_watch const arm{&lazy_watch::start, &watch};
                context ctx{request_id, match.matched->label, std::move(match.params), std::move(query),
                            cancel.token(), blocking_door(blocking_, cancel.token(), arm),
                            worker_door(workers_, cancel.token(), arm)};
                try {
                    res = co_await match.matched->fn(req, ctx);
                } catch (http_error const& e) {
                    res = e.to_response();
                } catch (pools::pool_error const& e) {
                    res = problem(static_cast<status>(e.http_status()), e.code(), e.what());
                    if (e.retry_later())
                        res.set(bhttp::field::retry_after, "1");
                } catch (pools::job_cancelled const&) {
                    res = problem(status::service_unavailable, "client_gone", "the client closed the connection");
                    close_after = true;
                } catch (std::exception const& e) {
                    log_->error("unhandled error route=\"{} {}\" req={}: {}", method_text, ctx.route, request_id,
                                e.what());
                    res = problem(status::internal_server_error, "internal",
                                  "the server failed to answer this request; its log names this request id");
                }
                boost::system::error_code cancel_ec;
                if (watch.armed)
                    stream.socket().cancel(cancel_ec);  // ends the disconnect watch
                if (cancel.cancelled())
                    close_after = true;
                if (ctx.stream && res.result() == status::ok && !head && !cancel.cancelled()) {
                    writer = std::move(ctx.stream);
                    pools::cancel_source stream_watch;
                    stream_cancel = stream_watch.token();
                    if (buffer.size() == 0)
                        watch_disconnect(stream.socket(), stream_watch);
                }
            }
        }

        if (writer) {
            // A streaming answer: no longer "in flight", and the connection ends with it.
            --in_flight_;
            ++streams_;
            conn.streaming = true;
            finish(res, version, request_id, false, false);
            stream_sink sink(*this, stream, version >= 11, stream_cancel);
            conn.stream_timer = &sink.timer;
            co_await run_stream(sink, res, writer);
            conn.stream_timer = nullptr;
            double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
            log_->info("{} {} {} {}B {:.1f}ms req={} (stream ended: {})", method_text, obs::json_quote(target),
                       res.result_int(), sink.bytes, ms, request_id, sink.ended ? sink.ended : "done");
            if (hooks_.metrics)
                hooks_.metrics->request_done(method_label(method, method_text), route_label, res.result_int(), ms / 1000.0);
            co_return;
        }

        bool const keep_alive = !close_after && !draining_ && client_keep_alive;
        finish(res, version, request_id, keep_alive, head);
        stream.expires_after(cfg_.body_timeout);
        auto [wec, wn] = co_await write_response(stream, res, out_buffer);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        if (log_->should_log(spdlog::level::info))
            log_->info("{} {} {} {}B {:.1f}ms req={}{}", method_text, obs::json_quote(target), res.result_int(), wn,
                       ms, request_id, wec ? " (not sent: " + wec.message() + ")" : std::string());
        if (hooks_.metrics)
            hooks_.metrics->request_done(method_label(method, method_text), route_label, res.result_int(), ms / 1000.0);
        tag->route.clear();
        tag->request_id.clear();
        if (hooks_.activity)
            hooks_.activity->update(tag_handle);
        conn.busy = false;
        --in_flight_;
        if (wec)
            co_return;
        if (!keep_alive) {
            if (body_unread || buffer.size() > 0)
                co_await lingering_close(stream);
            else {
                boost::system::error_code ec;
                stream.socket().shutdown(tcp::socket::shutdown_send, ec);
                stream.close();
            }
            co_return;
        }
    }
}

asio::awaitable<void> server::run_stream(stream_sink& sink, response& head, stream_writer& writer)
{
    auto& stream = *sink.stream();
    boost::system::error_code ec;
    stream.socket().set_option(asio::socket_base::send_buffer_size(cfg_.stream_send_buffer), ec);

    // The header: the handler's fields, chunked for HTTP/1.1, no length, then the pieces.
    bhttp::response<bhttp::empty_body> header{head.result(), head.version()};
    for (auto const& field : head)
        header.set(field.name_string(), field.value());
    header.erase(bhttp::field::content_length);
    if (head.version() >= 11)
        header.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> sr(header);
    stream.expires_after(cfg_.stream_write_timeout);
    auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, use_tuple);
    (void)hn;
    if (hec) {
        sink.ended = "client gone";
    } else {
        try {
            co_await writer(sink);
        } catch (std::exception const& e) {
            log_->error("stream writer failed: {}", e.what());
            sink.ended = "writer failed";
        }
        if (!sink.ended || std::string_view(sink.ended) == "shutdown") {
            if (head.version() >= 11) {
                stream.expires_after(cfg_.stream_write_timeout);
                co_await asio::async_write(stream, bhttp::make_chunk_last(), use_tuple);
            }
        }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
}

}  // namespace steadyloop::http
