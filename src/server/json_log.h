// Structured logs: every line the server writes through spdlog is one JSON object
// ({"time", "level", "msg", …}), and each finished request gets one access line with its request
// id, route template (never the raw path, which can name a secret), status, duration and actor.
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"

namespace coffer::server {

// Makes the default spdlog logger write JSON lines to stderr at `level` (trace … off).
// Call once at start-up, before other threads log.
void InstallJsonLogging(std::string_view level);

// Logs `entry` as one JSON line at info. Thread-safe. Only fields that cannot hold a secret are
// written: no path, query, header or body.
void LogRequest(const http::RequestLogEntry& entry);

// Logs an alert as one JSON line at critical: {"level":"critical","msg":"ALERT","event":EVENT,
// FIELDS}, where `fields` is a ready JSON fragment ("\"k\":v,…", built with JsonString) that
// must not hold a secret. Thread-safe; flushed at once.
void LogAlert(std::string_view event, std::string_view fields);

// `s` as a JSON string literal, quotes included; bytes that are not valid UTF-8 are escaped as
// \u00XX so the line stays valid JSON.
std::string JsonString(std::string_view s);

}  // namespace coffer::server
