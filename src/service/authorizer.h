// Authorizer: whether a principal may do an action on a path of a vault. Deny by default; the
// vault's owner and the admin may do everything; anyone else needs an allow policy in force that
// names them, whose pattern matches the path and whose permissions include the action, and no
// deny policy in force that does the same (a deny wins over any allow, whatever the priorities).
// A policy is in force when it has not expired and its conditions hold for this request: the
// time of the decision (the injected clock, read at every decision) and the client address the
// server derived (RequestContext::client_ip). Nothing decided here is cached: the policies come
// from AccessCache, which forgets a vault's policies as soon as the change feed reports a change,
// and every decision re-evaluates expiry and conditions, so no decision outlives a time window's
// boundary or is reused for another address.
#pragma once

#include <optional>
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

// kUse: call through the caller's gateway bindings with the secret as the credential, without
// reading its value (routes that return a value keep requiring kRead).
enum class Permission : uint8_t { kRead, kWrite, kRotate, kDelete, kList, kUse };
std::string_view PermissionName(Permission p);
uint8_t PermissionBit(Permission p);

class Authorizer {
 public:
  Authorizer(AccessCache& cache, const Clock& clock) : cache_(cache), clock_(clock) {}

  // The owner (a user) or the admin.
  static bool IsOwner(const Principal& principal, const Vault& vault);

  // Whether `policy` names the caller and is in force now for this request. A deny whose
  // address condition cannot be checked (no client address known) is taken to be in force, an
  // allow is not: an unknown address never widens access.
  static bool InForce(const Policy& policy, const RequestContext& ctx, UnixMicros now);

  // OK, or kPermissionDenied naming the missing permission (or saying a deny policy refuses it);
  // kUnavailable if policies cannot be loaded. With an `alternative`, either permission is
  // enough, but a deny in force on either refuses. Thread-safe.
  Status Authorize(const RequestContext& ctx, const Vault& vault, std::string_view path,
                   Permission permission, std::optional<Permission> alternative = std::nullopt);

  // OK when the principal may list at least some path under `prefix` ("" = the whole vault): an
  // allow policy in force with 'list' may match below it. Paths a deny takes away are left out
  // by ListablePaths.
  Status AuthorizeListing(const RequestContext& ctx, const Vault& vault, std::string_view prefix);

  // Whether the principal has any standing in the vault: owner, admin, or an allow policy in
  // force.
  StatusOr<bool> CanSeeVault(const RequestContext& ctx, const Vault& vault);

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
    std::vector<std::string> denied_globs_;  // a path matching one is never listed
  };
  StatusOr<ListFilter> ListablePaths(const RequestContext& ctx, const Vault& vault);

 private:
  AccessCache& cache_;
  const Clock& clock_;
};

}  // namespace coffer
