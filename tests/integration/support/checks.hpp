// What the contract (API.md) says of every answer, as gtest assertions, and small helpers
// the integration tests share.
#pragma once

#include "http_client.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string_view>
#include <thread>

namespace itest {

// Server: steadyloop/<version>, an RFC 9110 Date, X-Request-Id of [A-Za-z0-9._-]{1,128},
// and a Content-Length equal to the body's size (for HEAD: present, body empty).
::testing::AssertionResult has_standard_headers(reply const& r, bool head = false);

// An RFC 9457 problem document: the status, application/problem+json, a body ending with
// a newline, {"type":"about:blank","title":…,"status":…,"code":…,"detail":…}.
::testing::AssertionResult is_problem(reply const& r, unsigned status, std::string_view code);

// True when `id` is 1–128 characters of [A-Za-z0-9._-].
bool valid_request_id(std::string_view id);

// True when a problem document's detail names `param` as a whole word.
bool names(reply const& r, std::string const& param);

// GET /loop on a fresh connection, as JSON.
boost::json::object loop_snapshot(unsigned short port);

// A JSON number (integer or double) at `path` ("blocking_pool/busy") of a /loop snapshot.
double number_at(boost::json::object const& o, std::string_view path);

// Polls `pred` every `interval` until it holds or `timeout` passes; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds interval = std::chrono::milliseconds(10))
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred())
            return true;
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(interval);
    }
}

}  // namespace itest
