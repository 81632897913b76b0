// VaultService: create, list, get and delete vaults. A vault name means one vault in the whole
// deployment (unique without regard to case). Users own the vaults they create; the admin sees
// all; others see a vault only while a policy grants them something in it. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/secret.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

struct CreateVaultRequest {
  std::string name;
  std::string description;
  int64_t max_versions = 0;  // versions each secret keeps at most; 0: no limit
};

// The most versions a kept-version limit may name (vault or secret).
inline constexpr int64_t kMaxKeptVersionsLimit = 1'000'000;

class VaultService {
 public:
  explicit VaultService(const ServiceDeps& deps) : deps_(deps) {}

  // kInvalidArgument for a bad name or description; kAlreadyExists when any vault of the
  // deployment has that name, compared without regard to case (the message names no other
  // vault, its id or its owner); kPermissionDenied for agents.
  StatusOr<Vault> Create(const RequestContext& ctx, CreateVaultRequest request);
  StatusOr<std::vector<Vault>> List(const RequestContext& ctx);
  // kInvalidArgument for a malformed id; kNotFound when absent; kPermissionDenied when the
  // caller has no standing in it.
  StatusOr<Vault> Get(const RequestContext& ctx, std::string_view vault_id);
  // Owner or admin only.
  Status Delete(const RequestContext& ctx, std::string_view vault_id);
  // Sets the vault's kept-version limit (0: none), audited as vault.update. Owner or admin
  // only (kPermissionDenied); kInvalidArgument naming max_versions when out of range;
  // kNotFound. (vault_retention.cc)
  StatusOr<Vault> SetMaxVersions(const RequestContext& ctx, std::string_view vault_id,
                                 int64_t max_versions);

 private:
  ServiceDeps deps_;
};

// kInvalidArgument unless `id` is a UUID. Shared by every service taking a vault id.
Status ValidateVaultId(std::string_view id);

// Names of vaults, users and agents: 1–64 of [A-Za-z0-9._-]. kInvalidArgument naming `field`.
Status ValidateName(std::string_view name, std::string_view field);

// A kept-version limit: 0 (none) to kMaxKeptVersionsLimit. kInvalidArgument naming
// max_versions otherwise. (vault_retention.cc)
Status ValidateMaxVersions(int64_t max_versions);
// Descriptions of vaults and agents: free text of at most 1024 bytes, without a NUL character
// (a PostgreSQL text column cannot hold one, so no store takes it). kInvalidArgument otherwise.
Status ValidateDescription(std::string_view description);

}  // namespace coffer
