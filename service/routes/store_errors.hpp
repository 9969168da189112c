// The store's failures as the answers a client can act on. Without this a full disk or a
// locked database would reach the server as an unknown exception and answer 500 internal.
#pragma once

#include "steadyloop/http/error.hpp"
#include "steadyloop/obs/logging.hpp"
#include "steadyloop/store/errors.hpp"

#include <utility>

namespace steadyloop::service {

// Wraps a blocking-pool job that uses the store. Its store errors leave it as problem
// answers: a full disk is 507 storage_full (reads go on; writes fail until space
// returns), a file that cannot be read or written 503 storage_unavailable, a database
// locked past the busy timeout 503 database_busy with Retry-After. Anything else (a
// corrupt file, a bug) stays an error the server answers 500 and logs.
template <class F>
auto answering_store_errors(F fn)
{
    return [fn = std::move(fn)]() mutable -> decltype(fn()) {
        try {
            return fn();
        } catch (store::busy_error const& e) {
            throw http::http_error(http::status::service_unavailable, e.code(),
                                   "the database stayed locked by other writers; retry shortly")
                .with_header("Retry-After", "1");
        } catch (store::storage_error const& e) {
            obs::logger("store")->warn("{} ({})", e.full() ? "the database's disk is full" : "the database's file failed",
                                       e.what());
            if (e.full())
                throw http::http_error(http::status::insufficient_storage, e.code(),
                                       "the database's disk is full; writes fail until space is freed");
            throw http::http_error(http::status::service_unavailable, e.code(),
                                   "the database's file cannot be read or written");
        }
    };
}

}  // namespace steadyloop::service
