// A spdlog formatter that writes JSON lines, and the access-log line of each request.
#include "server/json_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace coffer::server {

namespace {

constexpr std::string_view kAccessLogger = "access";
constexpr std::string_view kAlertLogger = "alert";
constexpr size_t kMaxMethodLength = 16;

// Access lines carry their fields as a ready JSON fragment ("\"k\":v,…"); other lines carry a
// plain message that becomes "msg".
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    const auto level_name = spdlog::level::to_string_view(msg.level);
    const std::string_view level(level_name.data(), level_name.size());
    fmt::format_to(std::back_inserter(dest),
                   "{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:06d}Z\",\"level\":\"{}\",", utc,
                   micros % 1'000'000, level);
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    if (logger == kAccessLogger) {
      fmt::format_to(std::back_inserter(dest), "\"msg\":\"request\",{}}}\n", payload);
    } else if (logger == kAlertLogger) {
      fmt::format_to(std::back_inserter(dest), "\"msg\":\"ALERT\",{}}}\n", payload);
    } else {
      fmt::format_to(std::back_inserter(dest), "\"msg\":{}}}\n", JsonString(payload));
    }
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

std::shared_ptr<spdlog::logger>& AccessLogger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}

std::shared_ptr<spdlog::logger>& AlertLogger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x80) {
          // Non-ASCII is escaped byte by byte: a log line must be valid JSON whatever came in.
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

void InstallJsonLogging(std::string_view level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<JsonFormatter>());
  auto main_logger = std::make_shared<spdlog::logger>("coffer", sink);
  auto access = std::make_shared<spdlog::logger>(std::string(kAccessLogger), sink);
  const auto parsed = spdlog::level::from_str(std::string(level));
  main_logger->set_level(parsed);
  access->set_level(parsed);
  // Errors are flushed at once; info lines go out as the stream buffers them (stderr: unbuffered).
  main_logger->flush_on(spdlog::level::warn);
  auto alert = std::make_shared<spdlog::logger>(std::string(kAlertLogger), sink);
  alert->set_level(parsed);
  alert->flush_on(spdlog::level::critical);
  spdlog::set_default_logger(main_logger);
  AccessLogger() = access;
  AlertLogger() = alert;
}

void LogAlert(std::string_view event, std::string_view fields) {
  const auto& logger = AlertLogger();
  if (!logger) {
    return;
  }
  logger->critical("\"event\":{}{}{}", JsonString(event), fields.empty() ? "" : ",", fields);
}

void LogRequest(const http::RequestLogEntry& e) {
  const auto& logger = AccessLogger();
  // A 5xx is logged at error level with its cause, so it shows whatever the log level.
  const bool failed = e.status >= 500;
  const auto level = failed ? spdlog::level::err : spdlog::level::info;
  if (!logger || !logger->should_log(level)) {
    return;
  }
  const std::string method(e.request->method.substr(0, kMaxMethodLength));
  std::string fields = fmt::format(
      "\"request_id\":{},\"method\":{},\"route\":{},\"status\":{},\"duration_ms\":{:.3f},"
      "\"actor_id\":{},\"peer\":{}",
      JsonString(e.request->request_id), JsonString(method),
      e.route_template.empty() ? std::string("null") : JsonString(e.route_template), e.status,
      static_cast<double>(e.duration.count()) / 1000.0,
      e.actor_id.empty() ? std::string("null") : JsonString(e.actor_id),
      JsonString(e.request->peer_ip));
  if (failed) {
    fields += ",\"error\":";
    fields += JsonString(e.internal_cause.empty() ? std::string_view("(no cause recorded)")
                                                  : e.internal_cause);
  }
  // Logged as is: a method from the client may hold braces, which must not be formatted.
  logger->log(level, spdlog::string_view_t(fields.data(), fields.size()));
}

}  // namespace coffer::server
