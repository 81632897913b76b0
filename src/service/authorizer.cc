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
    case Permission::kUse:
      return "use";
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
    case Permission::kUse:
      return kPermUse;
  }
  return 0;
}

bool Authorizer::IsOwner(const Principal& principal, const Vault& vault) {
  return principal.is_admin ||
         (principal.kind == PrincipalKind::kUser && principal.id == vault.owner_id);
}

bool Authorizer::InForce(const Policy& policy, const RequestContext& ctx, UnixMicros now) {
  const Principal& principal = ctx.principal;
  if (policy.principal_kind != principal.kind || policy.principal_id != principal.id) return false;
  if (policy.expires_at.has_value() && *policy.expires_at <= now) return false;
  const PolicyConditions& c = policy.conditions;
  if (c.time_window.has_value()) {
    // A zone the database no longer knows (tzdata changed under a stored policy) keeps an allow
    // out of force and a deny in it, as an unknown client address does below.
    if (!KnownTimeZone(c.time_window->timezone)) {
      if (policy.effect != PolicyEffect::kDeny) return false;
    } else if (!TimeWindowContains(*c.time_window, now)) {
      return false;
    }
  }
  if (c.ip_allowlist.empty()) return true;
  // An address that matches no block, or is not known at all, keeps an allow out of force; a
  // deny stays in force unless the address is known to lie outside every block.
  if (!IsIpAddress(ctx.client_ip)) return policy.effect == PolicyEffect::kDeny;
  for (const IpNetwork& network : c.ip_allowlist) {
    if (IpNetworkContains(network, ctx.client_ip)) return true;
  }
  return false;
}

Status Authorizer::Authorize(const RequestContext& ctx, const Vault& vault, std::string_view path,
                             Permission permission, std::optional<Permission> alternative) {
  if (IsOwner(ctx.principal, vault)) return OkStatus();
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  const uint8_t bit =
      PermissionBit(permission) | (alternative.has_value() ? PermissionBit(*alternative) : 0);
  const std::string wanted =
      alternative.has_value()
          ? fmt::format("'{}' or '{}'", PermissionName(permission), PermissionName(*alternative))
          : fmt::format("'{}'", PermissionName(permission));
  bool allowed = false;
  for (const Policy& p : *policies) {
    if ((p.permissions & bit) == 0 || !InForce(p, ctx, now) ||
        !PathGlobMatches(p.path_glob, path)) {
      continue;
    }
    if (p.effect == PolicyEffect::kDeny) {
      return PermissionDeniedError(fmt::format("a deny policy refuses {} on this path", wanted));
    }
    allowed = true;
  }
  if (allowed) return OkStatus();
  return PermissionDeniedError(fmt::format("no {} permission on this path", wanted));
}

Status Authorizer::AuthorizeListing(const RequestContext& ctx, const Vault& vault,
                                    std::string_view prefix) {
  if (IsOwner(ctx.principal, vault)) return OkStatus();
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  for (const Policy& p : *policies) {
    if ((p.permissions & kPermList) != 0 && p.effect == PolicyEffect::kAllow &&
        InForce(p, ctx, now) && PathGlobMayMatchPrefix(p.path_glob, prefix)) {
      return OkStatus();
    }
  }
  return PermissionDeniedError("no 'list' permission under this prefix");
}

StatusOr<bool> Authorizer::CanSeeVault(const RequestContext& ctx, const Vault& vault) {
  if (IsOwner(ctx.principal, vault)) return true;
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  for (const Policy& p : *policies) {
    if (p.effect == PolicyEffect::kAllow && InForce(p, ctx, now)) return true;
  }
  return false;
}

bool Authorizer::ListFilter::Matches(std::string_view path) const {
  if (everything_) return true;
  for (const std::string& glob : denied_globs_) {
    if (PathGlobMatches(glob, path)) return false;
  }
  for (const std::string& glob : globs_) {
    if (PathGlobMatches(glob, path)) return true;
  }
  return false;
}

StatusOr<Authorizer::ListFilter> Authorizer::ListablePaths(const RequestContext& ctx,
                                                           const Vault& vault) {
  ListFilter filter;
  if (IsOwner(ctx.principal, vault)) {
    filter.everything_ = true;
    return filter;
  }
  ASSIGN_OR_RETURN(AccessCache::PolicyList policies, cache_.Policies(vault.id));
  const UnixMicros now = clock_.Now();
  for (const Policy& p : *policies) {
    if ((p.permissions & kPermList) != 0 && InForce(p, ctx, now)) {
      (p.effect == PolicyEffect::kDeny ? filter.denied_globs_ : filter.globs_)
          .push_back(p.path_glob);
    }
  }
  return filter;
}

}  // namespace coffer
