// Policy evaluation.
#include "service/authorizer.h"

#include <fmt/format.h>

#include "model/path_glob.h"

namespace coffer {

std::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kRead:
      return "read";
    case Permission::kWrite:
      return "write";
    case Permission::kRotate:
      return "rotate";
    case Permission::kDelete:
      return "delete";
    case Permission::kList:
      return "list";
  }
  return "read";
}

uint8_t PermissionBit(Permission p) {
  switch (p) {
    case Permission::kRead:
      return kPermRead;
    case Permission::kWrite:
      return kPermWrite;
    case Permission::kRotate:
      return kPermRotate;
    case Permission::kDelete:
      return kPermDelete;
    case Permission::kList:
      return kPermList;
  }
  return 0;
}

bool Authorizer::IsOwner(const Principal& principal, const Vault& vault) {
  return principal.is_admin ||
         (principal.kind == PrincipalKind::kUser && principal.id == vault.owner_id);
}

bool Authorizer::Applies(const Policy& policy, const Principal& principal, UnixMicros now) const {
  return policy.principal_kind == principal.kind && policy.principal_id == principal.id &&
         (!policy.expires_at.has_value() || *policy.expires_at > now);
}

Status Authorizer::Authorize(const Principal& principal, const Vault& vault, std::string_view path,
                             Permission permission) {
  if (IsOwner(principal, vault)) return OkStatus();
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  const uint8_t bit = PermissionBit(permission);
  for (const Policy& p : *policies) {
    if ((p.permissions & bit) != 0 && Applies(p, principal, now) &&
        PathGlobMatches(p.path_glob, path)) {
      return OkStatus();
    }
  }
  return PermissionDeniedError(
      fmt::format("no '{}' permission on this path", PermissionName(permission)));
}

Status Authorizer::AuthorizeListing(const Principal& principal, const Vault& vault,
                                    std::string_view prefix) {
  if (IsOwner(principal, vault)) return OkStatus();
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  for (const Policy& p : *policies) {
    if ((p.permissions & kPermList) != 0 && Applies(p, principal, now) &&
        PathGlobMayMatchPrefix(p.path_glob, prefix)) {
      return OkStatus();
    }
  }
  return PermissionDeniedError("no 'list' permission under this prefix");
}

StatusOr<bool> Authorizer::CanSeeVault(const Principal& principal, const Vault& vault) {
  if (IsOwner(principal, vault)) return true;
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  for (const Policy& p : *policies) {
    if (Applies(p, principal, now)) return true;
  }
  return false;
}

bool Authorizer::ListFilter::Matches(std::string_view path) const {
  if (everything_) return true;
  for (const std::string& glob : globs_) {
    if (PathGlobMatches(glob, path)) return true;
  }
  return false;
}

StatusOr<Authorizer::ListFilter> Authorizer::ListablePaths(const Principal& principal,
                                                           const Vault& vault) {
  ListFilter filter;
  if (IsOwner(principal, vault)) {
    filter.everything_ = true;
    return filter;
  }
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  for (const Policy& p : *policies) {
    if ((p.permissions & kPermList) != 0 && Applies(p, principal, now)) {
      filter.globs_.push_back(p.path_glob);
    }
  }
  return filter;
}

}  // namespace coffer
