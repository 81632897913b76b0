// Owner/admin authorization.
#include "service/authorizer.h"

#include <fmt/format.h>

namespace coffer {

std::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kRead: return "read";
    case Permission::kWrite: return "write";
    case Permission::kRotate: return "rotate";
    case Permission::kDelete: return "delete";
    case Permission::kList: return "list";
  }
  return "read";
}

bool OwnerAuthorizer::CanSeeVault(const Principal& principal, const Vault& vault) {
  return principal.is_admin ||
         (principal.kind == PrincipalKind::kUser && principal.id == vault.owner_id);
}

Status OwnerAuthorizer::Authorize(const Principal& principal, const Vault& vault,
                                  std::string_view path, Permission permission) {
  if (CanSeeVault(principal, vault)) return OkStatus();
  return PermissionDeniedError(
      fmt::format("no '{}' permission on this path", PermissionName(permission)));
}

}  // namespace coffer
