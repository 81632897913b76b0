// The readers of api_json.h: typed reads of the Coffer API's JSON answers that never throw, plain
// copies that skip the fields holding secrets, and each resource's struct from its JSON object.
#include "client/api_json.h"

#include <algorithm>
#include <boost/json/serialize.hpp>

namespace coffer::client {
namespace {

namespace json = boost::json;

// Keys whose values are secrets: never copied out of wiped memory into a struct's `json`.
bool IsSecretKey(std::string_view key) {
  return key == "value" || key == "api_key" || key == "rotation_secret" || key == "apiKey" ||
         key == "rotationSecret" || key == "access_token";
}

}  // namespace

json::object PlainCopy(const json::object& o) {
  json::object out;
  for (const auto& kv : o) {
    if (!IsSecretKey(kv.key())) {
      out[kv.key()] = json::value(kv.value(), json::storage_ptr());
    }
  }
  return out;
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::string> OptStr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return std::nullopt;
  }
  return std::string(v->as_string());
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  if (v->is_uint64()) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return 0;
}

std::optional<int64_t> OptInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !(v->is_int64() || v->is_uint64())) {
    return std::nullopt;
  }
  return Int(o, key);
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

SecretBuffer SecretField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return SecretBuffer();
  }
  return SecretBuffer(std::string_view(v->as_string()));
}

Status Unexpected(std::string_view what) {
  return InternalError(fmt::format("unexpected answer from the server: {}", what));
}

StatusOr<const json::object*> ObjectOf(const WipedJson& doc) {
  if (!doc.value().is_object()) {
    return Err(Unexpected("expected a JSON object"));
  }
  return &doc.value().as_object();
}

StatusOr<const json::array*> ArrayField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) {
    return Err(Unexpected(fmt::format("no '{}' list", key)));
  }
  return &v->as_array();
}

Vault ToVault(const json::object& o) {
  return Vault{.id = Str(o, "id"),
               .name = Str(o, "name"),
               .description = Str(o, "description"),
               .created_by = Str(o, "created_by"),
               .created_at = Str(o, "created_at"),
               .json = PlainCopy(o)};
}

SecretMeta ToSecretMeta(const json::object& o) {
  return SecretMeta{.id = Str(o, "id"),
                    .vault_id = Str(o, "vault_id"),
                    .path = Str(o, "path"),
                    .type = Str(o, "type"),
                    .version = Int(o, "version"),
                    .created_at = Str(o, "created_at"),
                    .expires_at = OptStr(o, "expires_at"),
                    .max_access_count = Int(o, "max_access_count"),
                    .access_count = Int(o, "access_count"),
                    .is_disabled = Bool(o, "is_disabled"),
                    .json = PlainCopy(o)};
}

VersionInfo ToVersion(const json::object& o) {
  return VersionInfo{.version = Int(o, "version"),
                     .type = Str(o, "type"),
                     .is_disabled = Bool(o, "is_disabled"),
                     .disabled_at = OptStr(o, "disabled_at"),
                     .created_at = Str(o, "created_at"),
                     .expires_at = OptStr(o, "expires_at"),
                     .max_access_count = Int(o, "max_access_count"),
                     .access_count = Int(o, "access_count"),
                     .json = PlainCopy(o)};
}

User ToUser(const json::object& o) {
  return User{.id = Str(o, "id"),
              .name = Str(o, "name"),
              .is_admin = Bool(o, "is_admin"),
              .created_at = Str(o, "created_at"),
              .json = PlainCopy(o)};
}

ApiKeyInfo ToApiKey(const json::object& o) {
  return ApiKeyInfo{.id = Str(o, "id"),
                    .name = Str(o, "name"),
                    .created_at = Str(o, "created_at"),
                    .revoked_at = OptStr(o, "revoked_at"),
                    .json = PlainCopy(o)};
}

Agent ToAgent(const json::object& o) {
  return Agent{.id = Str(o, "id"),
               .name = Str(o, "name"),
               .description = Str(o, "description"),
               .created_by = Str(o, "created_by"),
               .created_at = Str(o, "created_at"),
               .is_revoked = Bool(o, "is_revoked"),
               .revoked_at = OptStr(o, "revoked_at"),
               .json = PlainCopy(o)};
}

Policy ToPolicy(const json::object& o) {
  Policy p{.id = Str(o, "id"),
           .vault_id = Str(o, "vault_id"),
           .principal_type = Str(o, "principal_type"),
           .principal_id = Str(o, "principal_id"),
           .secret_path_pattern = Str(o, "secret_path_pattern"),
           .permissions = {},
           .expires_at = OptStr(o, "expires_at"),
           .created_at = Str(o, "created_at"),
           .created_by = Str(o, "created_by"),
           .json = PlainCopy(o)};
  if (const json::value* v = o.if_contains("permissions"); v != nullptr && v->is_array()) {
    for (const json::value& item : v->as_array()) {
      if (item.is_string()) {
        p.permissions.emplace_back(item.as_string());
      }
    }
  }
  return p;
}

AuditEvent ToAuditEvent(const json::object& o) {
  return AuditEvent{.seq = Int(o, "seq"),
                    .at = Str(o, "at"),
                    .request_id = Str(o, "request_id"),
                    .actor_type = Str(o, "actor_type"),
                    .actor_id = Str(o, "actor_id"),
                    .action = Str(o, "action"),
                    .vault_id = Str(o, "vault_id"),
                    .path = Str(o, "path"),
                    .version = Int(o, "version"),
                    .client_ip = Str(o, "client_ip"),
                    .outcome = Str(o, "outcome"),
                    .status = Str(o, "status"),
                    .http_status = Int(o, "http_status"),
                    .count = std::max<int64_t>(1, Int(o, "count")),
                    .json = PlainCopy(o)};
}

std::string Serialize(const json::object& o) { return json::serialize(o); }

}  // namespace coffer::client
