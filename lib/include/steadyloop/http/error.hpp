// The typed error a handler throws; the router turns it into its problem document.
#pragma once

#include "steadyloop/http/message.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace steadyloop::http {

class http_error : public std::runtime_error {
public:
    http_error(status s, std::string code, std::string detail)
        : std::runtime_error(detail), status_(s), code_(std::move(code)), detail_(std::move(detail))
    {
    }

    // Extra headers for the answer, e.g. Retry-After or Allow.
    http_error& with_header(std::string name, std::string value)
    {
        headers_.emplace_back(std::move(name), std::move(value));
        return *this;
    }

    status status_code() const noexcept { return status_; }
    std::string const& code() const noexcept { return code_; }
    std::string const& detail() const noexcept { return detail_; }
    std::vector<std::pair<std::string, std::string>> const& headers() const noexcept { return headers_; }

    response to_response() const;

private:
    status status_;
    std::string code_;
    std::string detail_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

inline http_error bad_request(std::string detail)
{
    return http_error(status::bad_request, "bad_request", std::move(detail));
}

}  // namespace steadyloop::http
