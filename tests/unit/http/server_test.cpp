#include "steadyloop/http/server.hpp"

#include "steadyloop/http/error.hpp"
#include "steadyloop/loop/loop_thread.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <thread>

using namespace steadyloop;
using namespace steadyloop::http;
using boost::asio::awaitable;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

pools::worker_pool_config no_workers()
{
    pools::worker_pool_config cfg;
    cfg.workers = 0;
    return cfg;
}

// A server with test routes, in this process, its loop on its own thread.
class in_process_server {
public:
    explicit in_process_server(router& routes) : pool_(1, 1), workers_(ioc_, no_workers())
    {
        loop::bind_loop(ioc_);
        server_config cfg;
        cfg.address = "127.0.0.1";
        cfg.port = 0;
        cfg.server_header = "steadyloop/test";
        server_ = std::make_unique<server>(ioc_, cfg, routes, pool_, workers_);
        port_ = server_->listen().port();
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~in_process_server()
    {
        // Close everything on the loop; run() returns once every session has ended.
        asio::post(ioc_, [this] {
            server_->drain();
            server_->close_all();
        });
        thread_.join();
        loop::unbind_loop(ioc_);
    }

    unsigned short port() const { return port_; }

private:
    asio::io_context ioc_{1};
    pools::blocking_pool pool_;
    pools::worker_pool workers_;
    std::unique_ptr<server> server_;
    unsigned short port_ = 0;
    std::thread thread_;
};

// A blocking client connection.
class client {
public:
    explicit client(unsigned short port) : socket_(ioc_) { socket_.connect({asio::ip::make_address("127.0.0.1"), port}); }

    response send(verb method, std::string target, std::string body = {})
    {
        request req{method, target, 11};
        req.set(bhttp::field::host, "test");
        req.body() = std::move(body);
        req.prepare_payload();
        bhttp::write(socket_, req);
        response res;
        bhttp::read(socket_, buffer_, res);
        return res;
    }

private:
    asio::io_context ioc_;
    tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

router test_routes()
{
    router r;
    r.add(verb::get, "/boom", [](request&, context&) -> awaitable<response> {
        throw std::runtime_error("secret internal detail");
        co_return text(status::ok, "unreachable");
    });
    r.add(verb::get, "/teapot", [](request&, context&) -> awaitable<response> {
        throw http_error(status::conflict, "username_taken", "that name is taken").with_header("X-Extra", "1");
        co_return text(status::ok, "unreachable");
    });
    r.add(verb::get, "/full", [](request&, context&) -> awaitable<response> {
        throw pools::pool_full("blocking_pool_full", "the blocking pool is full");
        co_return text(status::ok, "unreachable");
    });
    r.add(verb::get, "/echo/{word}", [](request&, context& ctx) -> awaitable<response> {
        auto n = ctx.query.integer("n", 1, 1, 3);
        std::string out;
        for (int i = 0; i < n; ++i)
            out += ctx.path_param("word");
        co_return text(status::ok, out + " " + std::string(ctx.route));
    });
    r.add(verb::post, "/small", [](request& req, context&) -> awaitable<response> {
        co_return text(status::ok, std::to_string(req.body().size()));
    }, route_options{.body_limit = 10});
    r.add(verb::get, "/on-loop", [](request&, context& ctx) -> awaitable<response> {
        bool before = loop::on_loop();
        bool in_pool = co_await ctx.blocking.run([] { return loop::on_loop(); });
        co_return text(status::ok, fmt::format("{} {} {}", before, in_pool, loop::on_loop()));
    });
    return r;
}

}  // namespace

TEST(server, answers_an_unexpected_exception_with_500_and_no_detail)
{
    auto routes = test_routes();
    in_process_server srv(routes);
    client c(srv.port());
    auto res = c.send(verb::get, "/boom");
    EXPECT_EQ(res.result(), status::internal_server_error);
    EXPECT_EQ(boost::json::parse(res.body()).at("code").as_string(), "internal");
    EXPECT_EQ(res.body().find("secret"), std::string::npos);
    // The connection and the server carry on.
    EXPECT_EQ(c.send(verb::get, "/echo/ok").body(), "ok /echo/{word}");
}

TEST(server, turns_a_typed_error_into_its_problem_document)
{
    auto routes = test_routes();
    in_process_server srv(routes);
    client c(srv.port());
    auto res = c.send(verb::get, "/teapot");
    EXPECT_EQ(res.result(), status::conflict);
    EXPECT_EQ(res["X-Extra"], "1");
    EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
    auto doc = boost::json::parse(res.body());
    EXPECT_EQ(doc.at("code").as_string(), "username_taken");
    EXPECT_EQ(doc.at("detail").as_string(), "that name is taken");
}

TEST(server, answers_a_full_pool_with_503_and_retry_after)
{
    auto routes = test_routes();
    in_process_server srv(routes);
    client c(srv.port());
    auto res = c.send(verb::get, "/full");
    EXPECT_EQ(res.result(), status::service_unavailable);
    EXPECT_EQ(res[bhttp::field::retry_after], "1");
    EXPECT_EQ(boost::json::parse(res.body()).at("code").as_string(), "blocking_pool_full");
}

TEST(server, gives_handlers_decoded_path_and_query_parameters)
{
    auto routes = test_routes();
    in_process_server srv(routes);
    client c(srv.port());
    EXPECT_EQ(c.send(verb::get, "/echo/a%20b?n=2").body(), "a ba b /echo/{word}");
    auto bad = c.send(verb::get, "/echo/x?n=4");
    EXPECT_EQ(bad.result(), status::bad_request);
    EXPECT_NE(boost::json::parse(bad.body()).at("detail").as_string().find("'n'"), std::string::npos);
}

TEST(server, applies_each_route_body_limit)
{
    auto routes = test_routes();
    in_process_server srv(routes);
    {
        client c(srv.port());
        EXPECT_EQ(c.send(verb::post, "/small", "0123456789").body(), "10");
    }
    client c(srv.port());
    auto res = c.send(verb::post, "/small", "0123456789A");
    EXPECT_EQ(res.result(), status::payload_too_large);
    EXPECT_EQ(boost::json::parse(res.body()).at("code").as_string(), "body_too_large");
    EXPECT_FALSE(res.keep_alive());
}

TEST(server, runs_handlers_on_the_loop_and_blocking_jobs_off_it)
{
    auto routes = test_routes();
    in_process_server srv(routes);
    client c(srv.port());
    EXPECT_EQ(c.send(verb::get, "/on-loop").body(), "true false true");
}
