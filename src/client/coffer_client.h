// CofferClient: one typed call per route of the Coffer HTTP API, over one HttpTransport.
// Every failure is a Status: an error answer carries the problem's title, detail and HTTP status
// (client/problem.h); a transport failure is kUnavailable naming the server.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/api_types.h"
#include "client/http_transport.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::client {

struct ClientOptions {
  std::string addr;     // base URL, e.g. http://127.0.0.1:8200
  SecretBuffer token;   // API key or JWT used as Bearer; may be empty
  std::string ca_cert;  // PEM CA bundle; empty: the system's
  long timeout_ms = 60'000;
};

// The id of the one vault in `vaults` named `name`, names compared case-insensitively (ASCII,
// as the server compares them): a vault name means one vault. kNotFound "no vault named …";
// kFailedPrecondition naming every match when more than one vault matches (say "Prod" and "prod"
// from a server that allowed both): the client fails closed and never picks one.
StatusOr<std::string> FindVaultByName(const std::vector<Vault>& vaults, std::string_view name);

// Not thread-safe (one connection, one request at a time).
class CofferClient {
 public:
  // kInvalidArgument for a malformed address.
  static StatusOr<std::unique_ptr<CofferClient>> Create(ClientOptions options);

  const std::string& addr() const { return transport_->base_url(); }

  // --- Health, identity of the caller, tokens
  Status Health();
  StatusOr<Me> GetMe();
  StatusOr<AccessToken> IssueToken(const SecretBuffer& api_key);

  // --- Vaults
  // max_versions: versions each secret keeps at most (0: no limit).
  StatusOr<Vault> CreateVault(std::string_view name, std::string_view description,
                              int64_t max_versions = 0);
  StatusOr<std::vector<Vault>> ListVaults();
  StatusOr<Vault> GetVault(std::string_view vault_id);
  Status DeleteVault(std::string_view vault_id);
  // The id of the vault named or identified by `name_or_id`: an id is used as is; a name is
  // looked up in GET /v1/vaults (cached) with FindVaultByName.
  StatusOr<std::string> ResolveVault(std::string_view name_or_id);

  // --- Secrets
  StatusOr<SecretMeta> PutSecret(std::string_view vault_id, std::string_view path,
                                 PutSecretInput input);
  StatusOr<SecretValue> GetSecret(std::string_view vault_id, std::string_view path);
  StatusOr<SecretValue> GetSecretVersion(std::string_view vault_id, std::string_view path,
                                         int64_t version);
  StatusOr<SecretPage> ListSecrets(std::string_view vault_id, std::string_view prefix,
                                   std::string_view after, std::optional<int64_t> limit,
                                   std::string_view unused_since = {});
  // Every page of ListSecrets. `unused_since` (RFC 3339, empty: no filter): only secrets not
  // read since then, never-read ones included.
  StatusOr<std::vector<SecretMeta>> ListAllSecrets(std::string_view vault_id,
                                                   std::string_view prefix,
                                                   std::string_view unused_since = {});
  Status DeleteSecret(std::string_view vault_id, std::string_view path);
  StatusOr<SecretMeta> RotateSecret(std::string_view vault_id, std::string_view path,
                                    const RotateSecretInput& input);
  StatusOr<VersionList> ListVersions(std::string_view vault_id, std::string_view path);
  // Sets the secret's rotation schedule from a rotation_policy object's JSON text; returns the
  // schedule as the server answered it (path, rotation_policy, next_rotation_at).
  // (coffer_client_schedule.cc)
  StatusOr<boost::json::object> ScheduleSecret(std::string_view vault_id, std::string_view path,
                                               std::string_view policy_json);
  Status UnscheduleSecret(std::string_view vault_id, std::string_view path);
  // Long poll (coffer_client_watch.cc): GET …/secrets/{path}?wait=&after_version=. The value once
  // a version newer than `after_version` is readable (a read like GetSecret), or nullopt when
  // `wait_seconds` ran out (304). A server without long polls answers at once (a version not
  // newer) or refuses the parameters (kInvalidArgument). The client's timeout must exceed the
  // wait.
  StatusOr<std::optional<SecretValue>> WaitForSecret(std::string_view vault_id,
                                                     std::string_view path, int64_t after_version,
                                                     int wait_seconds);
  StatusOr<SecretMeta> DisableVersion(std::string_view vault_id, std::string_view path,
                                      int64_t version);

  // --- Version lifecycle (coffer_client_lifecycle.cc); alias answers are {path, aliases}
  StatusOr<SecretValue> GetSecretAlias(std::string_view vault_id, std::string_view path,
                                       std::string_view alias);
  StatusOr<boost::json::object> SetAlias(std::string_view vault_id, std::string_view path,
                                         std::string_view alias, int64_t version);
  StatusOr<boost::json::object> DeleteAlias(std::string_view vault_id, std::string_view path,
                                            std::string_view alias);
  StatusOr<boost::json::object> Promote(std::string_view vault_id, std::string_view path);
  StatusOr<boost::json::object> Rollback(std::string_view vault_id, std::string_view path);
  StatusOr<SecretMeta> DestroyVersion(std::string_view vault_id, std::string_view path,
                                      int64_t version);
  StatusOr<Vault> SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions);

  // --- Users and their API keys
  StatusOr<User> CreateUser(std::string_view name);
  StatusOr<std::vector<User>> ListUsers();
  StatusOr<User> GetUser(std::string_view user_id);
  StatusOr<IssuedApiKey> CreateApiKey(std::string_view user_id, std::string_view name);
  StatusOr<std::vector<ApiKeyInfo>> ListApiKeys(std::string_view user_id);
  Status RevokeApiKey(std::string_view user_id, std::string_view key_id);

  // --- Agents
  StatusOr<AgentCredentials> CreateAgent(std::string_view name, std::string_view description);
  StatusOr<std::vector<Agent>> ListAgents();
  StatusOr<Agent> GetAgent(std::string_view agent_id);
  Status RevokeAgent(std::string_view agent_id);
  // `grace_seconds` > 0: the old API key keeps working that long.
  StatusOr<AgentCredentials> RotateAgentKey(std::string_view agent_id, int64_t grace_seconds = 0);
  // POST /agents/self/rotate-key with this client's token as the agent's current key.
  StatusOr<SelfRotation> SelfRotateAgentKey(const SecretBuffer& rotation_secret);

  // --- Policies
  StatusOr<Policy> CreatePolicy(std::string_view vault_id, const PolicyInput& input);
  StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id);
  StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id);
  Status DeletePolicy(std::string_view vault_id, std::string_view policy_id);

  // --- Webhooks (coffer_client_webhooks.cc). Answers as the API's JSON; the creation's carries
  // the signing secret, so every answer is kept in wiped memory.
  StatusOr<WipedJson> CreateWebhook(std::string_view vault_id, std::string_view url,
                                    const std::vector<std::string>& events,
                                    std::string_view description);
  StatusOr<WipedJson> ListWebhooks(std::string_view vault_id);
  Status DeleteWebhook(std::string_view vault_id, std::string_view webhook_id);
  StatusOr<WipedJson> ListWebhookDeliveries(std::string_view vault_id, std::string_view webhook_id,
                                            int64_t limit);
  StatusOr<WipedJson> TestWebhook(std::string_view vault_id, std::string_view webhook_id);

  // --- Gateway (coffer_client_bindings.cc, docs/gateway.md). `agent_id` may be "self" for the
  // calling agent. Bodies are JSON object text; answers are the API's JSON in wiped memory.
  StatusOr<WipedJson> ListBindings(std::string_view agent_id);
  StatusOr<WipedJson> GetBinding(std::string_view agent_id, std::string_view binding_id);
  StatusOr<WipedJson> CreateBinding(std::string_view agent_id, std::string_view body_json);
  StatusOr<WipedJson> UpdateBinding(std::string_view agent_id, std::string_view binding_id,
                                    std::string_view body_json);
  Status DeleteBinding(std::string_view agent_id, std::string_view binding_id);
  // `timeout_ms` 0: the server's default.
  StatusOr<WipedJson> TestBinding(std::string_view agent_id, std::string_view binding_id,
                                  int64_t timeout_ms);
  // POST …/execute with `request` ({binding, intent_type, params}); the ExecuteResponse.
  StatusOr<WipedJson> Execute(std::string_view agent_id, const WipedJson& request);
  // `limit`/`offset` 0: the server's default.
  StatusOr<WipedJson> ListExecutions(std::string_view agent_id, int64_t limit, int64_t offset);
  // The id of the agent's binding whose name or id is `name_or_id`; kNotFound.
  StatusOr<std::string> ResolveBinding(std::string_view agent_id, std::string_view name_or_id);

  // --- Audit
  // Shares a secret by its id. The answer (id, share_url, …) is kept in wiped memory: a link
  // share's URL is a capability.
  StatusOr<WipedJson> ShareSecret(std::string_view secret_id, const ShareInput& input);

  StatusOr<AuditPage> ListAudit(const AuditQuery& query);
  StatusOr<AuditVerification> VerifyAudit();

  // --- Seal (a server whose root key is split into unseal shares; coffer_client_seal.cc)
  StatusOr<SealStatus> GetSealStatus();
  // Gives one unseal share (no credentials needed); the status after it.
  StatusOr<SealStatus> Unseal(const SecretBuffer& share);
  // Forgets the shares given so far.
  StatusOr<SealStatus> ResetUnseal();
  // Seals the server (an admin).
  StatusOr<SealStatus> Seal();

 private:
  CofferClient(std::unique_ptr<HttpTransport> transport, SecretBuffer token);

  // Sends and parses the answer: a 2xx JSON body, an empty WipedJson for 204, or the problem.
  StatusOr<WipedJson> Call(std::string_view method, const std::string& target,
                           std::string_view body = {});
  StatusOr<WipedJson> CallWithToken(std::string_view method, const std::string& target,
                                    const SecretBuffer* token, std::string_view body);
  StatusOr<SecretValue> ReadValue(const std::string& target);

  std::unique_ptr<HttpTransport> transport_;
  SecretBuffer token_;
  std::optional<std::vector<Vault>> vault_cache_;
};

// "/v1/vaults/{id}/<kind>/<path>" with the vault id and path segments percent-encoded.
std::string SecretTarget(std::string_view vault_id, std::string_view kind, std::string_view path);

}  // namespace coffer::client
