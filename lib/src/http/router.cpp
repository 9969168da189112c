#include "steadyloop/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace steadyloop::http {

std::string const& context::path_param(std::string_view name) const
{
    for (auto const& [k, v] : path_params)
        if (k == name)
            return v;
    throw std::logic_error("no path parameter named " + std::string(name));
}

namespace {

std::vector<route::segment> parse_pattern(std::string const& pattern)
{
    if (pattern.empty() || pattern.front() != '/')
        throw std::invalid_argument("route pattern must start with '/': " + pattern);
    std::vector<route::segment> out;
    if (pattern == "/")
        return out;
    std::size_t pos = 1;
    while (pos <= pattern.size()) {
        auto end = pattern.find('/', pos);
        if (end == std::string::npos)
            end = pattern.size();
        std::string part = pattern.substr(pos, end - pos);
        route::segment seg;
        if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
            seg.param = true;
            seg.text = part.substr(1, part.size() - 2);
            if (seg.text.size() > 3 && seg.text.ends_with("...")) {
                seg.rest = true;
                seg.text.resize(seg.text.size() - 3);
            }
            if (seg.text.empty())
                throw std::invalid_argument("empty parameter name in route pattern: " + pattern);
        } else {
            seg.text = std::move(part);
        }
        if (!out.empty() && out.back().rest)
            throw std::invalid_argument("'{name...}' must be the last segment: " + pattern);
        out.push_back(std::move(seg));
        pos = end + 1;
    }
    return out;
}

std::string label_of(std::string const& pattern)
{
    std::string label = pattern;
    for (auto pos = label.find("...}"); pos != std::string::npos; pos = label.find("...}"))
        label.erase(pos, 3);
    return label;
}

}  // namespace

void router::add(verb method, std::string pattern, handler fn, route_options options)
{
    for (auto const& r : routes_)
        if (r.method == method && r.pattern == pattern)
            throw std::invalid_argument("duplicate route: " + pattern);
    route r{method, pattern, label_of(pattern), std::move(fn), options, parse_pattern(pattern)};
    routes_.push_back(std::move(r));
}

bool router::match_path(route const& r, std::vector<std::string> const& segs,
                        std::vector<std::pair<std::string, std::string>>* params)
{
    std::size_t i = 0;
    for (auto const& seg : r.segments) {
        if (seg.rest) {
            // The rest of the path, one or more segments, joined back with '/'.
            if (i >= segs.size())
                return false;
            std::string rest = segs[i];
            for (std::size_t j = i + 1; j < segs.size(); ++j)
                rest.append("/").append(segs[j]);
            if (rest.empty())
                return false;
            if (params)
                params->emplace_back(seg.text, std::move(rest));
            return true;
        }
        if (i >= segs.size())
            return false;
        if (seg.param) {
            if (segs[i].empty())
                return false;
            if (params)
                params->emplace_back(seg.text, segs[i]);
        } else if (seg.text != segs[i]) {
            return false;
        }
        ++i;
    }
    return i == segs.size();
}

route_match router::find(verb method, std::vector<std::string> const& decoded_segments) const
{
    route_match m;
    verb wanted = method == verb::head ? verb::get : method;
    for (auto const& r : routes_) {
        if (r.method != wanted || !match_path(r, decoded_segments, nullptr))
            continue;
        m.path_known = true;
        m.matched = &r;
        match_path(r, decoded_segments, &m.params);
        return m;
    }
    // No route for this method: is the path known under others (405 with Allow) or not (404)?
    std::vector<verb> allowed;
    for (auto const& r : routes_)
        if (match_path(r, decoded_segments, nullptr))
            allowed.push_back(r.method);
    m.path_known = !allowed.empty();
    if (m.path_known) {
        if (std::find(allowed.begin(), allowed.end(), verb::get) != allowed.end())
            allowed.push_back(verb::head);
        for (auto v : allowed) {
            if (!m.allow.empty())
                m.allow += ", ";
            m.allow += std::string(bhttp::to_string(v));
        }
    }
    return m;
}

}  // namespace steadyloop::http
