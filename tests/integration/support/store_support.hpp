// Small helpers for the tests of the SQLite-backed endpoints (/kv, /users, /login) and the
// blocking pool: a temporary folder for database files, one request on a fresh connection,
// percent-encoding, and the `next`-chained walk over GET /kv pages.
#pragma once

#include "http_client.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <stdlib.h>

namespace itest {

// A fresh folder (mkdtemp) removed with everything in it at the end of the scope.
class temp_dir {
public:
    temp_dir()
    {
        char const* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/steadyloop-db-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
        path_ = tmpl;
    }
    ~temp_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(temp_dir const&) = delete;
    temp_dir& operator=(temp_dir const&) = delete;

    std::filesystem::path const& path() const noexcept { return path_; }
    // A path inside the folder, as a string for the command line.
    std::string file(std::string_view relative) const { return (path_ / relative).string(); }

private:
    std::filesystem::path path_;
};

// One request on a fresh connection, closed afterwards. A HEAD request reads no body.
inline reply send(unsigned short port, std::string_view method, std::string_view target, headers const& extra = {},
                  std::string_view body = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10))
{
    connection c(port);
    return c.request(make_request(method, target, extra, body), method == "HEAD", timeout);
}

// Every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX, '/' included.
inline std::string percent_encode(std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
    return out;
}

// The keys of a JSON array of strings.
inline std::vector<std::string> strings_of(boost::json::value const& v)
{
    std::vector<std::string> out;
    for (auto const& s : v.as_array())
        out.emplace_back(s.as_string());
    return out;
}

}  // namespace itest
