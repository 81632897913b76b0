// The audit chain's canonical encoding, and how an event is shown in the seeds' terms.
#include "model/identity.h"

#include <algorithm>
#include <array>

namespace coffer {
namespace {

void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (i * 8)));
}

void PutString(std::vector<uint8_t>& out, std::string_view s) {
  PutU64(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

Sha256Digest AuditChainHash(const Sha256Digest& prev_hash, const AuditEvent& e) {
  std::vector<uint8_t> buf;
  buf.reserve(256);
  PutString(buf, "coffer/audit/v1");
  PutU64(buf, static_cast<uint64_t>(e.seq));
  PutU64(buf, static_cast<uint64_t>(e.at));
  PutString(buf, e.request_id);
  PutString(buf, e.actor_kind);
  PutString(buf, e.actor_id);
  PutString(buf, e.action);
  PutString(buf, e.vault_id);
  PutString(buf, e.path);
  PutU64(buf, static_cast<uint64_t>(e.version));
  PutString(buf, e.client_ip);
  PutString(buf, e.outcome);
  PutString(buf, e.status);
  PutU64(buf, static_cast<uint64_t>(static_cast<uint32_t>(e.http_status)));
  if (e.count != 0) PutU64(buf, static_cast<uint64_t>(e.count));
  if (!e.details.empty()) {
    // Tagged, so an event with details never encodes like one with a count and none.
    PutString(buf, "details");
    PutString(buf, e.details);
  }
  return Sha256({prev_hash, buf});
}

std::string AuditEventId(const Sha256Digest& hash) {
  if (hash == Sha256Digest{}) return "";
  std::array<uint8_t, 16> b{};
  std::copy_n(hash.begin(), b.size(), b.begin());
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x80);  // version 8
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10
  const std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

AuditResource AuditEventResource(const AuditEvent& event) {
  const std::string_view action = event.action;
  if (action == "secret.list" || action.starts_with("vault.")) {
    return {"vault", event.vault_id};
  }
  if (action.starts_with("secret.")) {
    return {"secret", event.path};
  }
  return {action.substr(0, action.find('.')), {}};
}

std::string_view PolicyEffectName(PolicyEffect effect) {
  return effect == PolicyEffect::kDeny ? "deny" : "allow";
}

}  // namespace coffer
