// Authorizer: decides whether a principal may do an action on a path of a vault. Deny by
// default; the vault's owner and the admin may do everything.
#pragma once

#include <string_view>

#include "common/status.h"
#include "model/secret.h"
#include "service/principal.h"

namespace coffer {

enum class Permission : uint8_t { kRead, kWrite, kRotate, kDelete, kList };
std::string_view PermissionName(Permission p);

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // OK, or kPermissionDenied naming the permission that is missing. Thread-safe.
  virtual Status Authorize(const Principal& principal, const Vault& vault, std::string_view path,
                           Permission permission) = 0;
  // Whether the principal may see the vault at all (owner, admin, or any grant in it).
  virtual bool CanSeeVault(const Principal& principal, const Vault& vault) = 0;
};

// Owners and the admin only: the rule before per-path policies exist.
class OwnerAuthorizer final : public Authorizer {
 public:
  Status Authorize(const Principal& principal, const Vault& vault, std::string_view path,
                   Permission permission) override;
  bool CanSeeVault(const Principal& principal, const Vault& vault) override;
};

}  // namespace coffer
