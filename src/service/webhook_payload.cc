// Webhook bodies, written as compact JSON by hand (a handful of string and number fields).
#include "service/webhook_payload.h"

#include <fmt/format.h>

#include <array>

#include "common/time_format.h"

namespace coffer {

namespace {

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

StatusOr<std::string> NewWebhookMessageId(Random& random) {
  std::array<uint8_t, 16> bytes{};
  RETURN_IF_ERROR(random.Fill(bytes));
  std::string id = "msg_";
  for (uint8_t b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

std::string WebhookEventPayload(std::string_view type, const AuditEvent& event,
                                std::string_view agent_id) {
  std::string data;
  if (type == "agent.key_rotated") {
    data = fmt::format("\"agent_id\":{}", Quoted(agent_id));
  } else {
    data = fmt::format("\"vault_id\":{},\"path\":{},\"version\":{}", Quoted(event.vault_id),
                       Quoted(event.path), event.version);
  }
  return fmt::format(
      "{{\"type\":{},\"timestamp\":{},\"data\":{{{},\"actor\":{{\"kind\":{},\"id\":{}}},"
      "\"request_id\":{},\"audit_seq\":{}}}}}",
      Quoted(type), Quoted(FormatRfc3339(event.at)), data, Quoted(event.actor_kind),
      Quoted(event.actor_id), Quoted(event.request_id), event.seq);
}

std::string WebhookTestPayload(const WebhookEndpoint& endpoint, const Principal& by,
                               UnixMicros at) {
  return fmt::format(
      "{{\"type\":\"webhook.test\",\"timestamp\":{},\"data\":{{\"vault_id\":{},"
      "\"webhook_id\":{},\"actor\":{{\"kind\":{},\"id\":{}}}}}}}",
      Quoted(FormatRfc3339(at)), Quoted(endpoint.vault_id), Quoted(endpoint.id),
      Quoted(PrincipalKindName(by.kind)), Quoted(by.id));
}

}  // namespace coffer
