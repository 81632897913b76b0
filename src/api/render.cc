// Rendering of vaults and secret metadata.
#include "api/render.h"

#include <boost/json/parse.hpp>

#include "common/time_format.h"

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

}  // namespace

boost::json::object RenderVault(const Vault& vault) {
  boost::json::object o;
  o["id"] = vault.id;
  o["name"] = vault.name;
  o["description"] = vault.description;
  o["created_by"] = vault.owner_id;
  o["created_at"] = FormatRfc3339(vault.created_at);
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
  o["expires_at"] = TimeOrNull(v.expires_at);
  o["vault_id"] = v.vault_id;
  o["max_access_count"] = v.max_access_count;
  o["access_count"] = v.access_count;
  o["is_disabled"] = v.is_disabled();
  o["rotation_policy"] = ParseStored(v.rotation_policy_json, sp);
  return o;
}

boost::json::object RenderVersionEntry(const SecretVersion& v) {
  boost::json::object o;
  o["version"] = v.version;
  o["type"] = SecretTypeName(v.type);
  o["is_disabled"] = v.is_disabled();
  o["disabled_at"] = TimeOrNull(v.disabled_at);
  o["created_at"] = FormatRfc3339(v.created_at);
  o["expires_at"] = TimeOrNull(v.expires_at);
  o["max_access_count"] = v.max_access_count;
  o["access_count"] = v.access_count;
  o["metadata"] = ParseStored(v.metadata_json, {});
  return o;
}

}  // namespace coffer::api
