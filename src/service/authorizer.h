// Authorizer: whether a principal may do an action on a path of a vault. Deny by default; the
// vault's owner and the admin may do everything; anyone else needs an unexpired policy naming
// them whose pattern matches the path and whose permissions include the action.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "model/identity.h"
#include "model/secret.h"
#include "service/access_cache.h"
#include "service/principal.h"

namespace coffer {

enum class Permission : uint8_t { kRead, kWrite, kRotate, kDelete, kList };
std::string_view PermissionName(Permission p);
uint8_t PermissionBit(Permission p);

class Authorizer {
 public:
  Authorizer(AccessCache& cache, const Clock& clock) : cache_(cache), clock_(clock) {}

  // The owner (a user) or the admin.
  static bool IsOwner(const Principal& principal, const Vault& vault);

  // OK, or kPermissionDenied naming the missing permission; kUnavailable if policies cannot be
  // loaded. Thread-safe.
  Status Authorize(const Principal& principal, const Vault& vault, std::string_view path,
                   Permission permission);

  // OK when the principal may list at least some path under `prefix` ("" = the whole vault).
  Status AuthorizeListing(const Principal& principal, const Vault& vault, std::string_view prefix);

  // Whether the principal has any standing in the vault: owner, admin, or an unexpired policy.
  StatusOr<bool> CanSeeVault(const Principal& principal, const Vault& vault);

  // Which paths of the vault the principal may list, decided once for a whole listing (the
  // policies in force when this is called). kUnavailable if policies cannot be loaded.
  // Thread-safe; the returned filter is a value and may be used on any thread.
  class ListFilter {
   public:
    bool Matches(std::string_view path) const;

   private:
    friend class Authorizer;
    bool everything_ = false;
    std::vector<std::string> globs_;
  };
  StatusOr<ListFilter> ListablePaths(const Principal& principal, const Vault& vault);

 private:
  bool Applies(const Policy& policy, const Principal& principal, UnixMicros now) const;

  AccessCache& cache_;
  const Clock& clock_;
};

}  // namespace coffer
