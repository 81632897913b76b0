// The typed calls of CofferClient for identities and what is recorded of them: users and their
// API keys, agents (with key rotation), per-vault policies, and the audit trail.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "client/api_json.h"
#include "client/api_target.h"
#include "client/coffer_client.h"

namespace coffer::client {

namespace json = boost::json;

// --- Users ----------------------------------------------------------------------------------

StatusOr<User> CofferClient::CreateUser(std::string_view name) {
  json::object body;
  body["name"] = name;
  return AnswerAs(Call("POST", "/v1/users", Serialize(body)), ToUser);
}

StatusOr<std::vector<User>> CofferClient::ListUsers() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/users"));
  return ListOf<User>(doc, "users", ToUser);
}

StatusOr<User> CofferClient::GetUser(std::string_view user_id) {
  return AnswerAs(Call("GET", "/v1/users/" + Id(user_id)), ToUser);
}

StatusOr<IssuedApiKey> CofferClient::CreateApiKey(std::string_view user_id, std::string_view name) {
  json::object body;
  body["name"] = name;
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("POST", "/v1/users/" + Id(user_id) + "/api-keys", Serialize(body)));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return IssuedApiKey{.info = ToApiKey(*o), .api_key = SecretField(*o, "api_key")};
}

StatusOr<std::vector<ApiKeyInfo>> CofferClient::ListApiKeys(std::string_view user_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/users/" + Id(user_id) + "/api-keys"));
  return ListOf<ApiKeyInfo>(doc, "api_keys", ToApiKey);
}

Status CofferClient::RevokeApiKey(std::string_view user_id, std::string_view key_id) {
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("DELETE", "/v1/users/" + Id(user_id) + "/api-keys/" + Id(key_id)));
  return OkStatus();
}

// --- Agents ---------------------------------------------------------------------------------

StatusOr<AgentCredentials> CofferClient::CreateAgent(std::string_view name,
                                                     std::string_view description) {
  json::object body;
  body["name"] = name;
  if (!description.empty()) {
    body["description"] = description;
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", "/v1/agents", Serialize(body)));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AgentCredentials{.agent = ToAgent(*o),
                          .api_key = SecretField(*o, "api_key"),
                          .rotation_secret = SecretField(*o, "rotation_secret")};
}

StatusOr<std::vector<Agent>> CofferClient::ListAgents() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/agents"));
  return ListOf<Agent>(doc, "agents", ToAgent);
}

StatusOr<Agent> CofferClient::GetAgent(std::string_view agent_id) {
  return AnswerAs(Call("GET", "/v1/agents/" + Id(agent_id)), ToAgent);
}

Status CofferClient::RevokeAgent(std::string_view agent_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", "/v1/agents/" + Id(agent_id)));
  return OkStatus();
}

StatusOr<AgentCredentials> CofferClient::RotateAgentKey(std::string_view agent_id,
                                                        int64_t grace_seconds) {
  const std::string target = "/v1/agents/" + Id(agent_id) + "/rotate-key";
  const std::string body =
      grace_seconds > 0 ? fmt::format("{{\"grace_seconds\":{}}}", grace_seconds) : "";
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", target, body));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AgentCredentials{.agent = ToAgent(*o),
                          .api_key = SecretField(*o, "api_key"),
                          .rotation_secret = SecretField(*o, "rotation_secret")};
}

StatusOr<SelfRotation> CofferClient::SelfRotateAgentKey(const SecretBuffer& rotation_secret) {
  WipedJson body;
  body.value() = json::object(body.storage());
  body.value().as_object()["rotationSecret"] = json::string(rotation_secret.view(), body.storage());
  SecretBuffer text = body.Serialize();
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", "/v1/agents/self/rotate-key", text.view()));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  SelfRotation out{.agent_id = Str(*o, "agentId"),
                   .agent_name = Str(*o, "agentName"),
                   .api_key = SecretField(*o, "apiKey"),
                   .rotation_secret = SecretField(*o, "rotationSecret")};
  token_ = out.api_key.Clone();  // the old key stopped working the moment the call returned
  return out;
}

// --- Policies -------------------------------------------------------------------------------

StatusOr<Policy> CofferClient::CreatePolicy(std::string_view vault_id, const PolicyInput& input) {
  json::object body;
  body["principal_type"] = input.principal_type;
  body["principal_id"] = input.principal_id;
  body["secret_path_pattern"] = input.secret_path_pattern;
  json::array permissions;
  for (const std::string& p : input.permissions) {
    permissions.emplace_back(p);
  }
  body["permissions"] = std::move(permissions);
  if (input.expires_at.has_value()) {
    body["expires_at"] = *input.expires_at;
  }
  return AnswerAs(Call("POST", "/v1/vaults/" + Id(vault_id) + "/policies", Serialize(body)),
                  ToPolicy);
}

StatusOr<std::vector<Policy>> CofferClient::ListPolicies(std::string_view vault_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/vaults/" + Id(vault_id) + "/policies"));
  return ListOf<Policy>(doc, "policies", ToPolicy);
}

StatusOr<Policy> CofferClient::GetPolicy(std::string_view vault_id, std::string_view policy_id) {
  return AnswerAs(Call("GET", "/v1/vaults/" + Id(vault_id) + "/policies/" + Id(policy_id)),
                  ToPolicy);
}

Status CofferClient::DeletePolicy(std::string_view vault_id, std::string_view policy_id) {
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("DELETE", "/v1/vaults/" + Id(vault_id) + "/policies/" + Id(policy_id)));
  return OkStatus();
}

// --- Sharing --------------------------------------------------------------------------------

StatusOr<WipedJson> CofferClient::ShareSecret(std::string_view secret_id, const ShareInput& input) {
  json::object body;
  body["recipient_type"] = input.recipient_type;
  if (input.recipient_id.has_value()) {
    body["recipient_id"] = *input.recipient_id;
  }
  body["expires_at"] = input.expires_at;
  if (input.max_access_count.has_value()) {
    body["max_access_count"] = *input.max_access_count;
  }
  return Call("POST", "/v1/secrets/" + Id(secret_id) + "/share", Serialize(body));
}

// --- Audit ----------------------------------------------------------------------------------

StatusOr<AuditPage> CofferClient::ListAudit(const AuditQuery& query) {
  std::string target = "/v1/audit";
  AddQuery(target, "vault_id", query.vault_id);
  AddQuery(target, "actor_id", query.actor_id);
  AddQuery(target, "action", query.action);
  AddQuery(target, "since", query.since);
  AddQuery(target, "until", query.until);
  if (query.after.has_value()) {
    AddQuery(target, "after", std::to_string(*query.after));
  }
  if (query.limit.has_value()) {
    AddQuery(target, "limit", std::to_string(*query.limit));
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", target));
  ASSIGN_OR_RETURN(auto events, ListOf<AuditEvent>(doc, "events", ToAuditEvent));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AuditPage{.events = std::move(events), .next_after = OptInt(*o, "next_after")};
}

StatusOr<AuditVerification> CofferClient::VerifyAudit() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/audit/verify"));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AuditVerification{.ok = Bool(*o, "ok"),
                           .events_checked = Int(*o, "events_checked"),
                           .first_broken_seq = OptInt(*o, "first_broken_seq"),
                           .reason = OptStr(*o, "reason"),
                           .head_hash = Str(*o, "head_hash"),
                           .json = PlainCopy(*o)};
}

}  // namespace coffer::client
