// CopyStore: a copy pass in dependency order (keys, users, agents with their credentials and
// bindings, vaults, policies, secrets, audit), then a verification pass that reads the target
// back.
#include "store/store_copy.h"

#include <algorithm>
#include <string>
#include <vector>

namespace coffer {

namespace {

Status Say(const std::function<void(std::string_view)>& progress, std::string_view what) {
  if (progress) {
    progress(what);
  }
  return OkStatus();
}

// Every version of the secret at (vault, path), oldest first, with ciphertexts.
StatusOr<std::vector<SecretVersion>> AllVersions(Store& store, std::string_view vault_id,
                                                 std::string_view path) {
  ASSIGN_OR_RETURN(std::vector<SecretVersion> listed, store.ListSecretVersions(vault_id, path));
  std::reverse(listed.begin(), listed.end());
  std::vector<SecretVersion> out;
  out.reserve(listed.size());
  for (const SecretVersion& v : listed) {
    ASSIGN_OR_RETURN(SecretVersion full,
                     store.GetSecretVersion(vault_id, path, VersionSelector::Exact(v.version)));
    out.push_back(std::move(full));
  }
  return out;
}

// Everything of `store` that the check compares, read the same way for source and target.
StatusOr<StoreCounts> Count(Store& store) {
  StoreCounts n;
  ASSIGN_OR_RETURN(std::vector<WrappedKey> keys, store.LoadKeys());
  n.keys = static_cast<int64_t>(keys.size());
  ASSIGN_OR_RETURN(std::vector<User> users, store.ListUsers());
  n.users = static_cast<int64_t>(users.size());
  for (const User& u : users) {
    ASSIGN_OR_RETURN(auto creds, store.ListCredentials(PrincipalKind::kUser, u.id));
    n.credentials += static_cast<int64_t>(creds.size());
  }
  ASSIGN_OR_RETURN(std::vector<Agent> agents, store.ListAgents(std::nullopt));
  n.agents = static_cast<int64_t>(agents.size());
  for (const Agent& a : agents) {
    ASSIGN_OR_RETURN(auto creds, store.ListCredentials(PrincipalKind::kAgent, a.id));
    n.credentials += static_cast<int64_t>(creds.size());
    ASSIGN_OR_RETURN(std::vector<Binding> bindings, store.ListBindings(a.id));
    n.bindings += static_cast<int64_t>(bindings.size());
  }
  ASSIGN_OR_RETURN(std::vector<Vault> vaults, store.ListVaults(std::nullopt));
  n.vaults = static_cast<int64_t>(vaults.size());
  for (const Vault& v : vaults) {
    ASSIGN_OR_RETURN(auto policies, store.ListPolicies(v.id));
    n.policies += static_cast<int64_t>(policies.size());
    ASSIGN_OR_RETURN(SecretListPage page, store.ListSecrets(v.id, "", "", 0));
    n.secrets += static_cast<int64_t>(page.secrets.size());
    for (const SecretSummary& s : page.secrets) {
      n.versions += s.version;  // versions are dense from 1
      ASSIGN_OR_RETURN(std::optional<SecretSchedule> schedule,
                       store.GetSecretSchedule(v.id, s.path));
      n.schedules += schedule.has_value() ? 1 : 0;
    }
  }
  ASSIGN_OR_RETURN(std::vector<WebhookEndpoint> webhooks, store.ListWebhooks(std::nullopt));
  n.webhooks = static_cast<int64_t>(webhooks.size());
  return n;
}

Status CopyCredentials(Store& from, Store& to, PrincipalKind kind, std::string_view id,
                       StoreCopyReport& report) {
  ASSIGN_OR_RETURN(std::vector<Credential> creds, from.ListCredentials(kind, id));
  for (const Credential& c : creds) {
    RETURN_IF_ERROR(to.InsertCredential(c, nullptr));
    ++report.credentials;
  }
  return OkStatus();
}

// The target's chain recomputes link by link and ends where the source's does.
Status CheckChain(Store& to, const StoreCopyReport& report) {
  Sha256Digest prev{};
  int64_t seen = 0;
  Status broken = OkStatus();
  RETURN_IF_ERROR(to.ScanAudit([&](const AuditEvent& e) {
    if (e.seq != seen + 1 || e.prev_hash != prev || e.hash != AuditChainHash(e.prev_hash, e)) {
      broken = DataLossError("migrate: the copied audit chain breaks at seq " +
                             std::to_string(seen + 1));
      return false;
    }
    prev = e.hash;
    ++seen;
    return true;
  }));
  RETURN_IF_ERROR(broken);
  if (seen != report.audit_events || prev != report.audit_head) {
    return DataLossError("migrate: the copied audit chain does not end where the source's does");
  }
  return OkStatus();
}

}  // namespace

StatusOr<StoreCopyReport> CopyStore(Store& from, Store& to,
                                    const std::function<void(std::string_view)>& progress) {
  {
    ASSIGN_OR_RETURN(StoreCounts existing, Count(to));
    if (existing.keys != 0 || existing.users != 0 || existing.vaults != 0 || existing.agents != 0) {
      return Err(FailedPreconditionError(
          "migrate: the target store is not empty; migrate into a new, empty database"));
    }
    std::vector<AuditEvent> any;
    RETURN_IF_ERROR(to.ScanAudit([&](const AuditEvent& e) {
      any.push_back(e);
      return false;
    }));
    if (!any.empty()) {
      return Err(FailedPreconditionError("migrate: the target store already has audit events"));
    }
  }
  StoreCopyReport report;

  RETURN_IF_ERROR(Say(progress, "keyring"));
  ASSIGN_OR_RETURN(std::vector<WrappedKey> keys, from.LoadKeys());
  for (const WrappedKey& k : keys) {
    RETURN_IF_ERROR(to.InsertKey(k));
    ++report.keys;
  }

  RETURN_IF_ERROR(Say(progress, "users and their API keys"));
  ASSIGN_OR_RETURN(std::vector<User> users, from.ListUsers());
  for (const User& u : users) {
    RETURN_IF_ERROR(to.InsertUser(u, nullptr));
    ++report.users;
    RETURN_IF_ERROR(CopyCredentials(from, to, PrincipalKind::kUser, u.id, report));
  }

  RETURN_IF_ERROR(Say(progress, "agents and their credentials"));
  ASSIGN_OR_RETURN(std::vector<Agent> agents, from.ListAgents(std::nullopt));
  for (const Agent& a : agents) {
    RETURN_IF_ERROR(to.InsertAgent(a, {}, nullptr));
    ++report.agents;
    RETURN_IF_ERROR(CopyCredentials(from, to, PrincipalKind::kAgent, a.id, report));
    // Its gateway bindings (not the executions made through them, nor the use counters).
    ASSIGN_OR_RETURN(std::vector<Binding> bindings, from.ListBindings(a.id));
    for (const Binding& b : bindings) {
      RETURN_IF_ERROR(to.InsertBinding(b, nullptr));
      ++report.bindings;
    }
  }

  RETURN_IF_ERROR(Say(progress, "vaults, policies and secrets"));
  ASSIGN_OR_RETURN(std::vector<Vault> vaults, from.ListVaults(std::nullopt));
  for (const Vault& v : vaults) {
    RETURN_IF_ERROR(to.InsertVault(v, nullptr));
    ++report.vaults;
    ASSIGN_OR_RETURN(std::vector<Policy> policies, from.ListPolicies(v.id));
    for (const Policy& p : policies) {
      RETURN_IF_ERROR(to.InsertPolicy(p, nullptr));
      ++report.policies;
    }
    ASSIGN_OR_RETURN(SecretListPage page, from.ListSecrets(v.id, "", "", 0));
    for (const SecretSummary& s : page.secrets) {
      ASSIGN_OR_RETURN(std::vector<SecretVersion> versions, AllVersions(from, v.id, s.path));
      for (const SecretVersion& version : versions) {
        RETURN_IF_ERROR(to.ImportSecretVersion(version));
        ++report.versions;
      }
      // The secret's aliases, as they are (every read of one secret carries them).
      if (!versions.empty()) {
        for (const auto& [alias, number] : versions.back().aliases) {
          RETURN_IF_ERROR(to.ImportSecretAlias(versions.back().secret_id, alias, number));
        }
      }
      // Its rotation schedule: the policy and the next due time, as they are.
      ASSIGN_OR_RETURN(std::optional<SecretSchedule> schedule,
                       from.GetSecretSchedule(v.id, s.path));
      if (schedule.has_value()) {
        auto set = to.SetSecretSchedule(v.id, s.path, schedule->policy_json,
                                        schedule->next_rotation_at, nullptr);
        if (!set.has_value()) {
          return Err(set.error());
        }
        ++report.schedules;
      }
      ++report.secrets;
    }
  }

  RETURN_IF_ERROR(Say(progress, "audit chain"));
  // Appending the same events in order to an empty chain yields the same seqs and hashes (the
  // hash covers the event and its predecessor's hash only); each is checked as it is written.
  Status copied = OkStatus();
  RETURN_IF_ERROR(from.ScanAudit([&](const AuditEvent& e) {
    auto stored = to.AppendAudit(e);
    if (!stored.has_value()) {
      copied = stored.error();
      return false;
    }
    if (stored->seq != e.seq || stored->hash != e.hash) {
      copied = DataLossError("migrate: the audit chain differs at seq " + std::to_string(e.seq) +
                             " (is the source's chain intact? run GET /v1/audit/verify)");
      return false;
    }
    ++report.audit_events;
    report.audit_head = e.hash;
    return true;
  }));
  RETURN_IF_ERROR(copied);

  // Webhook endpoints after the chain, so each starts from its head (no event is delivered
  // again); the signing secret stays sealed as it is (bound to the same vault and endpoint id).
  RETURN_IF_ERROR(Say(progress, "webhook endpoints"));
  ASSIGN_OR_RETURN(std::vector<WebhookEndpoint> webhooks, from.ListWebhooks(std::nullopt));
  for (const WebhookEndpoint& w : webhooks) {
    RETURN_IF_ERROR(to.InsertWebhook(w, nullptr));
    ++report.webhooks;
  }

  RETURN_IF_ERROR(Say(progress, "verifying"));
  ASSIGN_OR_RETURN(StoreCounts source, Count(from));
  ASSIGN_OR_RETURN(StoreCounts target, Count(to));
  if (source != target || target.versions != report.versions ||
      target.credentials != report.credentials) {
    return Err(DataLossError("migrate: the target's record counts differ from the source's"));
  }
  for (const Vault& v : vaults) {
    ASSIGN_OR_RETURN(SecretListPage page, from.ListSecrets(v.id, "", "", 0));
    for (const SecretSummary& s : page.secrets) {
      ASSIGN_OR_RETURN(std::vector<SecretVersion> want, AllVersions(from, v.id, s.path));
      ASSIGN_OR_RETURN(std::vector<SecretVersion> got, AllVersions(to, v.id, s.path));
      if (want.size() != got.size()) {
        return Err(DataLossError("migrate: a secret's versions differ after the copy"));
      }
      for (size_t i = 0; i < want.size(); ++i) {
        if (want[i].ciphertext != got[i].ciphertext || want[i].secret_id != got[i].secret_id ||
            want[i].access_count != got[i].access_count ||
            want[i].disabled_at != got[i].disabled_at) {
          return Err(DataLossError("migrate: a secret version differs after the copy"));
        }
      }
    }
  }
  for (const WebhookEndpoint& w : webhooks) {
    ASSIGN_OR_RETURN(WebhookEndpoint got, to.GetWebhook(w.vault_id, w.id));
    if (got.sealed_secret != w.sealed_secret || got.url != w.url || got.events != w.events) {
      return Err(DataLossError("migrate: a webhook endpoint differs after the copy"));
    }
  }
  RETURN_IF_ERROR(CheckChain(to, report));
  return report;
}

}  // namespace coffer
