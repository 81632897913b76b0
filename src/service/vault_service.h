// VaultService: create, list, get and delete vaults. Owners and the admin see a vault; others
// are told it does not exist. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "model/secret.h"
#include "service/authorizer.h"
#include "service/principal.h"
#include "store/store.h"

namespace coffer {

struct CreateVaultRequest {
  std::string name;
  std::string description;
};

class VaultService {
 public:
  VaultService(Store& store, Authorizer& authorizer, const Clock& clock)
      : store_(store), authorizer_(authorizer), clock_(clock) {}

  // kInvalidArgument for a bad name or description; kAlreadyExists when the caller already has
  // a vault of that name.
  StatusOr<Vault> Create(const RequestContext& ctx, CreateVaultRequest request);
  StatusOr<std::vector<Vault>> List(const RequestContext& ctx);
  // kInvalidArgument for a malformed id; kNotFound when absent or not visible to the caller.
  StatusOr<Vault> Get(const RequestContext& ctx, std::string_view vault_id);
  Status Delete(const RequestContext& ctx, std::string_view vault_id);

 private:
  Store& store_;
  Authorizer& authorizer_;
  const Clock& clock_;
};

// kInvalidArgument unless `id` is a UUID. Shared by every service taking a vault id.
Status ValidateVaultId(std::string_view id);

}  // namespace coffer
