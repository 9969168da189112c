// Logging: asynchronous spdlog loggers per area (http, pool, main) on stdout, with an
// overflow policy that drops the oldest line rather than ever making the loop wait.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

namespace steadyloop::obs {

enum class log_format { text, json };

// Sets up the shared sink and the named loggers. `level` is an spdlog level name.
void init_logging(std::string_view level, log_format format);

// A named logger ("http", "pool", "main", …), created on first use with the same sink.
std::shared_ptr<spdlog::logger> logger(std::string const& name);

// Flushes and stops the logging thread (at exit).
void shutdown_logging();

// JSON-escapes `s` into a quoted string (for fields a client controls); bytes that are
// not valid UTF-8 become U+FFFD, so every log line stays valid JSON.
std::string json_quote(std::string_view s);

// `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace steadyloop::obs
