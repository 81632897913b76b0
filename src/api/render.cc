// Rendering of vaults and secret metadata.
#include "api/render.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/sha256.h"
#include "common/time_format.h"
#include "http/problem_json.h"
#include "service/policy_service.h"

namespace coffer::api {
namespace {

boost::json::value TimeOrNull(const std::optional<UnixMicros>& t) {
  if (!t.has_value()) return nullptr;
  return boost::json::string(FormatRfc3339(*t));
}

// Stored JSON was serialized by us from a parsed object; fall back to {} if it ever is not.
boost::json::value ParseStored(const std::string& json, boost::json::storage_ptr sp) {
  if (json.empty()) return nullptr;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec, sp);
  if (ec || !v.is_object()) return boost::json::object(sp);
  return v;
}

// Audit events keep the vault id and path as the request named them, which may be any bytes
// (percent-decoded from the URL). JSON text must be UTF-8, so each byte that does not start a
// well-formed UTF-8 sequence is shown as U+FFFD; the stored event (and its hash) is unchanged.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t min = 0;
    if (b < 0x80) {
      len = 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
      len = 2;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      min = 0x10000;
    }
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len == 1 ? b : b & (0xff >> (len + 1));
    for (size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xc0) == 0x80;
      cp = cp << 6 | (c & 0x3f);
    }
    ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

// Usage (docs/usage.md): this version's last read and reader, and with `with_secret` the
// secret's over all its versions. Counts of plain reads lag by the server's flush interval.
void AddUsage(boost::json::object& o, const SecretVersion& v, bool with_secret) {
  o["last_read_at"] = TimeOrNull(v.last_read_at);
  o["last_read_by"] = v.last_read_at.has_value() ? boost::json::value(v.last_read_by) : nullptr;
  if (!with_secret) return;
  boost::json::object usage(o.storage());
  usage["access_count"] = v.secret_read_count;
  usage["last_read_at"] = TimeOrNull(v.secret_last_read_at);
  usage["last_read_by"] = v.secret_last_read_at.has_value()
                              ? boost::json::value(v.secret_last_read_by)
                              : boost::json::value(nullptr);
  o["secret_usage"] = std::move(usage);
}

}  // namespace

boost::json::object RenderVault(const Vault& vault) {
  boost::json::object o;
  o["id"] = vault.id;
  o["name"] = vault.name;
  o["description"] = vault.description;
  o["created_by"] = vault.owner_id;
  o["created_by_type"] = "user";  // only users create vaults (VaultService::Create)
  o["created_at"] = FormatRfc3339(vault.created_at);
  o["max_versions"] = vault.max_versions;
  return o;
}

boost::json::object RenderSecretMeta(const SecretVersion& v, boost::json::storage_ptr sp) {
  boost::json::object o(sp);
  o["id"] = v.secret_id;
  o["path"] = v.path;
  o["type"] = SecretTypeName(v.type);
  o["version"] = v.version;
  o["metadata"] = ParseStored(v.metadata_json, sp);
  o["created_at"] = FormatRfc3339(v.created_at);
  o["created_by"] = v.created_by;
  // Absent rather than null when the version never expires: the seeds' OpenAPI description
  // types expires_at as a date-time string, which null is not.
  if (v.expires_at.has_value()) o["expires_at"] = FormatRfc3339(*v.expires_at);
  o["vault_id"] = v.vault_id;
  o["max_access_count"] = v.max_access_count;
  o["access_count"] = v.access_count;
  o["is_disabled"] = v.is_disabled();
  o["rotation_policy"] = ParseStored(v.rotation_policy_json, sp);
  // The secret's schedule (docs/rotation.md): absent when it has none.
  if (v.next_rotation_at.has_value()) o["next_rotation_at"] = FormatRfc3339(*v.next_rotation_at);
  // Version lifecycle (docs/secret-versions.md): shown only when there is something to say.
  if (!v.aliases.empty()) {
    boost::json::object aliases(sp);
    for (const auto& [name, version] : v.aliases) aliases[name] = version;
    o["aliases"] = std::move(aliases);
  }
  if (v.secret_max_versions > 0) o["max_versions"] = v.secret_max_versions;
  if (v.is_destroyed()) {
    o["is_destroyed"] = true;
    o["destroyed_at"] = FormatRfc3339(*v.destroyed_at);
  }
  AddUsage(o, v, /*with_secret=*/true);
  return o;
}

boost::json::object RenderSchedule(const SecretSchedule& s) {
  boost::json::object o;
  o["id"] = s.secret_id;
  o["vault_id"] = s.vault_id;
  o["path"] = s.path;
  o["rotation_policy"] = ParseStored(s.policy_json, {});
  o["next_rotation_at"] = FormatRfc3339(s.next_rotation_at);
  return o;
}

boost::json::object RenderVersionEntry(const SecretVersion& v) {
  boost::json::object o;
  o["id"] = v.secret_id;
  o["path"] = v.path;
  o["version"] = v.version;
  o["type"] = SecretTypeName(v.type);
  o["is_disabled"] = v.is_disabled();
  o["disabled_at"] = TimeOrNull(v.disabled_at);
  o["created_at"] = FormatRfc3339(v.created_at);
  o["created_by"] = v.created_by;
  if (v.expires_at.has_value()) o["expires_at"] = FormatRfc3339(*v.expires_at);
  o["max_access_count"] = v.max_access_count;
  o["access_count"] = v.access_count;
  o["metadata"] = ParseStored(v.metadata_json, {});
  boost::json::array aliases;
  for (const auto& [name, version] : v.aliases) {
    if (version == v.version) aliases.emplace_back(name);
  }
  o["aliases"] = std::move(aliases);
  o["is_destroyed"] = v.is_destroyed();
  o["destroyed_at"] = TimeOrNull(v.destroyed_at);
  AddUsage(o, v, /*with_secret=*/false);
  return o;
}

boost::json::object RenderUser(const User& user) {
  boost::json::object o;
  o["id"] = user.id;
  o["name"] = user.name;
  o["is_admin"] = user.is_admin;
  o["created_at"] = FormatRfc3339(user.created_at);
  return o;
}

boost::json::object RenderApiKey(const Credential& c) {
  boost::json::object o;
  o["id"] = c.public_id;
  o["name"] = c.name;
  o["created_at"] = FormatRfc3339(c.created_at);
  o["revoked_at"] = TimeOrNull(c.revoked_at);
  return o;
}

boost::json::object RenderAgent(const Agent& agent) {
  boost::json::object o;
  o["id"] = agent.id;
  o["name"] = agent.name;
  o["description"] = agent.description;
  o["created_by"] = agent.owner_id;
  o["created_at"] = FormatRfc3339(agent.created_at);
  o["is_revoked"] = agent.is_revoked();
  o["revoked_at"] = TimeOrNull(agent.revoked_at);
  // The seeds' AgentResponse: Coffer agents authenticate with an API key, carry no scopes
  // (access is by per-vault policies), and have neither the Intents API nor Shroud.
  o["auth_method"] = "api_key";
  o["scopes"] = boost::json::array();
  o["is_active"] = agent.is_active();
  o["deactivated_at"] = TimeOrNull(agent.deactivated_at);
  o["last_used_at"] = TimeOrNull(agent.last_used_at);  // batched (docs/usage.md)
  o["intents_api_enabled"] = false;
  o["shroud_enabled"] = false;
  return o;
}

boost::json::object RenderPolicy(const Policy& p) {
  boost::json::object o;
  o["id"] = p.id;
  o["vault_id"] = p.vault_id;
  o["principal_type"] = PrincipalKindName(p.principal_kind);
  o["principal_id"] = p.principal_id;
  o["secret_path_pattern"] = p.path_glob;
  boost::json::array permissions;
  for (std::string_view name : PermissionNames(p.permissions)) permissions.emplace_back(name);
  o["permissions"] = std::move(permissions);
  o["conditions"] = RenderPolicyConditions(p.conditions);
  // The seeds' PolicyResponse has expires_at as a date-time string: left out when there is none.
  if (p.expires_at.has_value()) o["expires_at"] = FormatRfc3339(*p.expires_at);
  o["effect"] = PolicyEffectName(p.effect);
  o["priority"] = p.priority;
  o["policy_schema_version"] = kPolicySchemaVersion;
  o["created_at"] = FormatRfc3339(p.created_at);
  o["created_by"] = p.created_by;
  o["created_by_type"] = "user";  // only people (the vault's owner, the admin) manage policies
  if (p.updated_at.has_value()) o["updated_at"] = FormatRfc3339(*p.updated_at);
  return o;
}

boost::json::object RenderPolicyConditions(const PolicyConditions& c) {
  boost::json::object o;
  if (c.time_window.has_value()) {
    const TimeWindow& w = *c.time_window;
    boost::json::object window;
    window["start_hour"] = w.start_hour;
    window["end_hour"] = w.end_hour;
    boost::json::array days;
    for (int d = 0; d < 7; ++d) {
      if ((w.days & (1u << d)) != 0) days.emplace_back(d);
    }
    window["days_of_week"] = std::move(days);
    window["timezone"] = w.timezone;
    o["time_window"] = std::move(window);
  }
  if (!c.ip_allowlist.empty()) {
    boost::json::array list;
    for (const IpNetwork& n : c.ip_allowlist) list.emplace_back(FormatIpNetwork(n));
    o["ip_allowlist"] = std::move(list);
  }
  return o;
}

boost::json::object RenderAuditEvent(const AuditEvent& e) {
  boost::json::object o;
  o["seq"] = e.seq;
  o["at"] = FormatRfc3339(e.at);
  o["request_id"] = e.request_id;
  o["actor_type"] = e.actor_kind;
  o["actor_id"] = e.actor_id.empty() ? boost::json::value(nullptr) : boost::json::value(e.actor_id);
  o["action"] = e.action;
  o["vault_id"] =
      e.vault_id.empty() ? boost::json::value(nullptr) : boost::json::value(ValidUtf8(e.vault_id));
  o["path"] = e.path.empty() ? boost::json::value(nullptr) : boost::json::value(ValidUtf8(e.path));
  o["version"] = e.version == 0 ? boost::json::value(nullptr) : boost::json::value(e.version);
  o["client_ip"] = e.client_ip;
  o["outcome"] = e.outcome;
  o["status"] = e.status;
  // A failure's HTTP status follows from its canonical code through the one table.
  const StatusCode code = StatusCodeFromName(e.status).value_or(StatusCode::kUnknown);
  o["http_status"] = e.http_status != 0        ? e.http_status
                     : code == StatusCode::kOk ? 200
                                               : http::HttpStatusFor(code);
  o["count"] = e.count > 0 ? e.count : 1;  // requests the event stands for
  if (!e.details.empty()) o["details"] = ParseStored(e.details, {});  // what else it records
  o["prev_hash"] = HexEncode(e.prev_hash);
  o["hash"] = HexEncode(e.hash);
  return o;
}

boost::json::object RenderSpecAuditEvent(const AuditEvent& e) {
  boost::json::object o;
  o["id"] = AuditEventId(e.hash);
  o["action"] = e.action;
  if (!e.actor_id.empty()) o["actor_id"] = e.actor_id;
  o["actor_type"] = e.actor_kind;
  const AuditResource resource = AuditEventResource(e);
  o["resource_type"] = resource.type;
  if (!resource.id.empty()) o["resource_id"] = ValidUtf8(resource.id);
  boost::json::object details;
  details["seq"] = e.seq;
  details["request_id"] = e.request_id;
  if (!e.vault_id.empty()) details["vault_id"] = ValidUtf8(e.vault_id);
  if (!e.path.empty()) details["path"] = ValidUtf8(e.path);
  if (e.version != 0) details["version"] = e.version;
  details["outcome"] = e.outcome;
  details["status"] = e.status;
  const StatusCode code = StatusCodeFromName(e.status).value_or(StatusCode::kUnknown);
  details["http_status"] = e.http_status != 0        ? e.http_status
                           : code == StatusCode::kOk ? 200
                                                     : http::HttpStatusFor(code);
  details["count"] = e.count > 0 ? e.count : 1;
  // What else the event records (a gateway call's binding, method, upstream status…), as more
  // members of `details`; the fields above keep their meaning if a name repeats.
  if (const boost::json::value extra = ParseStored(e.details, {}); extra.is_object()) {
    for (const auto& member : extra.get_object()) {
      if (!details.contains(member.key())) details[member.key()] = member.value();
    }
  }
  o["details"] = std::move(details);
  o["ip_address"] = e.client_ip;
  o["created_at"] = FormatRfc3339(e.at);
  // The chain, as in /v1/audit (the verification's scheme names these fields).
  o["hash"] = HexEncode(e.hash);
  o["prev_hash"] = HexEncode(e.prev_hash);
  const std::string prev = AuditEventId(e.prev_hash);
  o["prev_event_id"] = prev.empty() ? boost::json::value(nullptr) : boost::json::value(prev);
  return o;
}

boost::json::object RenderVerification(const AuditVerification& v) {
  boost::json::object o;
  // The seeds' OpenAPI description's AuditVerifyResponse…
  o["chain_valid"] = v.ok;
  // Events are checked in order and the check stops at the first broken one: every event
  // checked before it verified.
  o["events_verified"] = v.ok ? v.events_checked : v.events_checked - 1;
  o["broken_at_event_id"] = v.first_broken_hash.has_value()
                                ? boost::json::value(AuditEventId(*v.first_broken_hash))
                                : boost::json::value(nullptr);
  boost::json::object scheme;
  scheme["algorithm"] = "SHA-256";
  scheme["chain_structure"] =
      "linear: events in seq order (1, 2, 3, … without gaps); each event's hash is SHA-256 of "
      "the previous event's hash and the event's canonical encoding; the first links to 32 zero "
      "bytes; an event's id is its hash's first 16 bytes as a version 8 UUID";
  scheme["hash_field"] = "hash";
  scheme["link_field"] = "prev_hash";
  o["scheme"] = std::move(scheme);
  // …and Coffer's own fields.
  o["ok"] = v.ok;
  o["events_checked"] = v.events_checked;
  o["first_broken_seq"] = v.first_broken_seq.has_value() ? boost::json::value(*v.first_broken_seq)
                                                         : boost::json::value(nullptr);
  o["reason"] = v.reason.empty() ? boost::json::value(nullptr) : boost::json::value(v.reason);
  o["head_hash"] = HexEncode(v.head_hash);
  return o;
}

}  // namespace coffer::api

namespace coffer::api {

namespace {

boost::json::value ParsedOrEmpty(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return boost::json::object();
  return v;
}

bool IsUtf8(std::string_view s) { return ValidUtf8(s) == s; }

std::string Base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kAlphabet[n & 63] : '=');
  }
  return out;
}

}  // namespace

boost::json::object RenderBinding(const Binding& b) {
  boost::json::object o;
  o["id"] = b.id;
  o["agent_id"] = b.agent_id;
  o["binding_type"] = b.binding_type;
  o["name"] = b.name;
  o["config"] = ParsedOrEmpty(b.config_json);
  o["guardrails"] = ParsedOrEmpty(b.guardrails_json);
  o["is_active"] = b.is_active;
  o["credential_set"] = !b.vault_id.empty();
  o["credential_source_type"] = "vault_ref";
  o["credential_vault_id"] = b.vault_id;
  o["credential_path"] = b.path;
  o["created_by"] = b.created_by;
  o["created_at"] = FormatRfc3339(b.created_at);
  o["updated_at"] = FormatRfc3339(b.updated_at);
  return o;
}

boost::json::object RenderExecution(const ExecutionRecord& r) {
  boost::json::object o;
  o["id"] = r.id;
  o["agent_id"] = r.agent_id;
  o["binding_id"] = r.binding_id;
  o["binding_name"] = r.binding_name;
  o["intent_type"] = r.intent_type;
  o["execution_mode"] = r.mode;
  o["status"] = r.status;
  o["duration_ms"] = r.duration_ms;
  o["redactions_applied"] = r.redactions;
  o["created_at"] = FormatRfc3339(r.created_at);
  o["request_summary"] = boost::json::object{
      {"method", r.method}, {"path", ValidUtf8(r.path)}, {"request_bytes", r.request_bytes}};
  boost::json::object result{{"response_bytes", r.response_bytes}};
  result["status_code"] =
      r.upstream_status == 0 ? boost::json::value(nullptr) : boost::json::value(r.upstream_status);
  o["result_summary"] = std::move(result);
  o["secret_version"] = r.secret_version;
  o["error_message"] = r.error_message.empty() ? boost::json::value(nullptr)
                                               : boost::json::value(ValidUtf8(r.error_message));
  o["cost_cents"] = nullptr;
  return o;
}

boost::json::object RenderExecuteResult(const GatewayCallResult& r) {
  boost::json::object o;
  o["execution_id"] = r.execution_id;
  o["status"] = r.status;
  if (r.status_code != 0) {
    boost::json::object result;
    result["status_code"] = r.status_code;
    boost::json::object headers;
    for (const auto& [name, value] : r.headers) {
      if (!headers.contains(name)) headers[name] = ValidUtf8(value);
    }
    result["headers"] = std::move(headers);
    if (IsUtf8(r.body)) {
      result["body"] = r.body;
      boost::system::error_code ec;
      boost::json::value parsed = boost::json::parse(r.body, ec);
      if (!ec && !r.body.empty()) result["json"] = std::move(parsed);
    } else {
      result["body"] = nullptr;
      result["body_base64"] = Base64Encode(r.body);
    }
    o["result"] = std::move(result);
  } else {
    o["result"] = nullptr;
  }
  o["error"] = r.error.empty() ? boost::json::value(nullptr) : boost::json::value(r.error);
  o["duration_ms"] = r.duration_ms;
  o["redactions_applied"] = r.redactions;
  o["execution_surface"] = "vault";
  return o;
}

}  // namespace coffer::api
