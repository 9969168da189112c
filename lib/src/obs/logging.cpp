#include "steadyloop/obs/logging.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <mutex>

namespace steadyloop::obs {
namespace {

// %* in a pattern: the message as a JSON string (quoted and escaped).
class json_message_flag final : public spdlog::custom_flag_formatter {
public:
    void format(spdlog::details::log_msg const& msg, std::tm const&, spdlog::memory_buf_t& dest) override
    {
        auto quoted = json_quote(std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(quoted.data(), quoted.data() + quoted.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override
    {
        return std::make_unique<json_message_flag>();
    }
};

std::mutex setup_mutex;
spdlog::sink_ptr the_sink;
spdlog::level::level_enum the_level = spdlog::level::info;

// Caller holds setup_mutex.
std::shared_ptr<spdlog::logger> make_logger(std::string const& name)
{
    if (!the_sink) {
        // Before init_logging (e.g. in unit tests): a synchronous logger on stdout.
        auto l = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stdout_sink_mt>());
        spdlog::register_logger(l);
        return l;
    }
    auto l = std::make_shared<spdlog::async_logger>(name, the_sink, spdlog::thread_pool(),
                                                    spdlog::async_overflow_policy::overrun_oldest);
    l->set_level(the_level);
    l->flush_on(spdlog::level::err);
    spdlog::register_logger(l);
    return l;
}

}  // namespace

std::string valid_utf8(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    auto const* p = reinterpret_cast<unsigned char const*>(s.data());
    std::size_t const n = s.size();
    for (std::size_t i = 0; i < n;) {
        unsigned char c = p[i];
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && len > 1) {
            // Reject overlong forms, surrogates and code points past U+10FFFF.
            std::uint32_t cp = c & (0xFF >> (len + 1));
            for (std::size_t k = 1; k < len; ++k)
                cp = (cp << 6) | (p[i + k] & 0x3F);
            static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= min_for_len[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        }
    }
    return out;
}

std::string json_quote(std::string_view s)
{
    return boost::json::serialize(boost::json::string(valid_utf8(s)));
}

void init_logging(std::string_view level, log_format format)
{
    std::lock_guard lock(setup_mutex);
    // One background thread writes; a full queue overwrites its oldest line instead of
    // blocking the caller.
    spdlog::init_thread_pool(16384, 1);
    the_sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    if (format == log_format::json) {
        auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc, "\n");
        f->add_flag<json_message_flag>('*').set_pattern(
            R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":%*})");
        the_sink->set_formatter(std::move(f));
    } else {
        the_sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %-5l %-4n %v");
    }
    the_level = spdlog::level::from_str(std::string(level));
    spdlog::drop_all();
    spdlog::set_default_logger(make_logger("main"));
}

std::shared_ptr<spdlog::logger> logger(std::string const& name)
{
    if (auto existing = spdlog::get(name))
        return existing;
    std::lock_guard lock(setup_mutex);
    if (auto existing = spdlog::get(name))
        return existing;
    return make_logger(name);
}

void shutdown_logging()
{
    spdlog::shutdown();
}

}  // namespace steadyloop::obs
