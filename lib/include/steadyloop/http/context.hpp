// What a handler gets besides the request: its parameters, its request id, and doors to
// the pools that carry the request's cancellation (a client that left starts no job).
#pragma once

#include "steadyloop/http/event_stream.hpp"
#include "steadyloop/http/query.hpp"
#include "steadyloop/pools/blocking_pool.hpp"
#include "steadyloop/pools/cancel.hpp"
#include "steadyloop/pools/worker_pool.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steadyloop::http {

// Starts watching the client's socket for a disconnect, once. The doors call it before
// they queue a job, so a request that never uses a pool (a /ping) costs no watch.
struct client_watch {
    void (*start)(void*) = nullptr;
    void* arg = nullptr;
    void arm() const
    {
        if (start)
            start(arg);
    }
};

// The blocking pool as a handler sees it: every job is tied to this request.
class blocking_door {
public:
    blocking_door(pools::blocking_pool& pool, pools::cancel_token token, client_watch watch = {})
        : pool_(&pool), token_(std::move(token)), watch_(watch)
    {
    }

    template <class F>
    auto run(F fn)
    {
        watch_.arm();
        return pool_->run(std::move(fn), token_);
    }

private:
    pools::blocking_pool* pool_;
    pools::cancel_token token_;
    client_watch watch_;
};

// The worker pool as a handler sees it: every job is tied to this request.
class worker_door {
public:
    worker_door(pools::worker_pool& pool, pools::cancel_token token, client_watch watch = {})
        : pool_(&pool), token_(std::move(token)), watch_(watch)
    {
    }

    boost::asio::awaitable<pools::worker_result> run(pools::worker_job job)
    {
        watch_.arm();
        return pool_->run(std::move(job), token_);
    }

private:
    pools::worker_pool* pool_;
    pools::cancel_token token_;
    client_watch watch_;
};

struct context {
    std::string request_id;
    std::string_view route;  // the matched route's pattern, e.g. "/kv/{key}"
    std::vector<std::pair<std::string, std::string>> path_params;
    query_params query;
    pools::cancel_token cancel;
    blocking_door blocking;
    worker_door workers;
    // Set by a handler whose 200 answer is a stream (its response then carries only the
    // header fields); the server sends the header and runs it.
    stream_writer stream = {};

    // A decoded path parameter; the router guarantees every pattern parameter is set.
    std::string const& path_param(std::string_view name) const;
};

}  // namespace steadyloop::http
