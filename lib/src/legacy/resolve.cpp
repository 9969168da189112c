#include "steadyloop/legacy/resolve.hpp"

#include "steadyloop/loop/loop_thread.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

namespace steadyloop::legacy {

bool valid_host_name(std::string_view host) noexcept
{
    if (host.empty() || host.size() > 253)
        return false;
    std::size_t label = 0;
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
        if (c == '.') {
            if (label == 0)
                return false;  // ".." or a leading dot
            label = 0;
        } else if (++label > 63 && host.find(':') == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

resolve_result blocking_resolve(std::string const& host)
{
    STEADYLOOP_ASSERT_OFF_LOOP();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
    addrinfo* raw = nullptr;
    resolve_result out;
    out.error = ::getaddrinfo(host.c_str(), nullptr, &hints, &raw);
    if (out.error != 0)
        return out;
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(raw, &::freeaddrinfo);
    std::vector<std::string> v4, v6;
    for (auto* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {};
        if (ai->ai_family == AF_INET) {
            auto* sa = reinterpret_cast<sockaddr_in const*>(ai->ai_addr);
            ::inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof buf);
            v4.emplace_back(buf);
        } else if (ai->ai_family == AF_INET6) {
            auto* sa = reinterpret_cast<sockaddr_in6 const*>(ai->ai_addr);
            ::inet_ntop(AF_INET6, &sa->sin6_addr, buf, sizeof buf);
            v6.emplace_back(buf);
        }
    }
    for (auto* list_of : {&v4, &v6})
        for (auto& a : *list_of)
            if (std::find(out.addresses.begin(), out.addresses.end(), a) == out.addresses.end())
                out.addresses.push_back(std::move(a));
    return out;
}

}  // namespace steadyloop::legacy
