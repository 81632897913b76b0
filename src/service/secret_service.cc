// The secrets API's rules: validation, versioning, counted/expiring reads, rotation, each
// authorized by policy and audited as one event.
#include "service/secret_service.h"

#include <fmt/format.h>

#include <charconv>

#include "crypto/aead.h"
#include "crypto/value_generator.h"
#include "model/secret_path.h"
#include "service/list_cursor.h"
#include "service/vault_service.h"

namespace coffer {
StatusOr<int64_t> ParseVersionNumber(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 1 ||
      text.front() == '+' || text.front() == '0') {
    return Err(InvalidArgumentError("version must be a positive integer"));
  }
  return v;
}

StatusOr<Vault> SecretService::Authorize(const RequestContext& ctx, std::string_view vault_id,
                                         std::string_view path, Permission permission,
                                         std::optional<Permission> alternative) {
  RETURN_IF_ERROR(ValidateVaultId(vault_id));
  auto vault = deps_.cache.GetVault(vault_id);
  if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
  if (permission == Permission::kList) {
    RETURN_IF_ERROR(ValidateSecretPrefix(path));
    RETURN_IF_ERROR(deps_.authorizer.AuthorizeListing(ctx, *vault, path));
    return vault;
  }
  RETURN_IF_ERROR(ValidateSecretPath(path));
  RETURN_IF_ERROR(deps_.authorizer.Authorize(ctx, *vault, path, permission, alternative));
  return vault;
}

StatusOr<SecretVersion> SecretService::Write(const RequestContext& ctx, const Vault& vault,
                                             std::string_view path, NewSecretVersion version,
                                             const SecretBuffer& value, AuditEvent& event) {
  version.vault_id = vault.id;
  version.path = std::string(path);
  version.created_at = clock_.Now();
  version.created_by = ctx.principal.id;
  auto seal = [&](const SecretVersion& header) -> StatusOr<std::vector<uint8_t>> {
    const std::vector<uint8_t> aad = SecretAad(header.vault_id, header.secret_id, header.version);
    return keyring_.Encrypt(value.span(), aad);
  };
  auto stored = store_.PutSecretVersion(version, seal, AuditLog::Success(event));
  if (!stored.has_value()) return Err(NotFoundAs(stored.error(), "vault not found"));
  AuditLog::MarkWritten(ctx);
  return stored;
}

StatusOr<SecretVersion> SecretService::Put(const RequestContext& ctx, std::string_view vault_id,
                                           std::string_view path, PutSecretRequest request) {
  return deps_.audit.Audited<SecretVersion>(
      ctx, "secret.write", [&](AuditEvent& event) -> StatusOr<SecretVersion> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kWrite));
        const auto type = ParseSecretType(request.type);
        if (!type.has_value()) {
          return Err(
              InvalidArgumentError(fmt::format("type must be one of: {}", SecretTypeList())));
        }
        if (request.value.empty()) return Err(InvalidArgumentError("value must not be empty"));
        if (request.value.size() > kMaxSecretValueBytes) {
          return Err(InvalidArgumentError(
              fmt::format("value is larger than {} bytes", kMaxSecretValueBytes)));
        }
        if (request.metadata_json.size() > kMaxMetadataBytes) {
          return Err(InvalidArgumentError(
              fmt::format("metadata is larger than {} bytes", kMaxMetadataBytes)));
        }
        if (request.rotation_policy_json.size() > kMaxMetadataBytes) {
          return Err(InvalidArgumentError(
              fmt::format("rotation_policy is larger than {} bytes", kMaxMetadataBytes)));
        }
        ASSIGN_OR_RETURN(const std::optional<RotationPolicy> policy,
                         WrittenPolicy(request.rotation_policy_json));
        if (request.expires_at.has_value() && *request.expires_at <= clock_.Now()) {
          return Err(InvalidArgumentError("expires_at must be in the future"));
        }
        if (request.max_access_count < 0 || request.max_access_count > kMaxAccessCountLimit) {
          return Err(InvalidArgumentError(
              fmt::format("max_access_count must be between 0 and {}", kMaxAccessCountLimit)));
        }
        NewSecretVersion version;
        version.type = *type;
        version.metadata_json = std::move(request.metadata_json);
        version.rotation_policy_json = std::move(request.rotation_policy_json);
        version.expires_at = request.expires_at;
        version.max_access_count = request.max_access_count;
        if (request.expected_latest.has_value() && *request.expected_latest < 0) {
          return Err(InvalidArgumentError("cas must not be negative"));
        }
        version.expected_latest = request.expected_latest;
        ASSIGN_OR_RETURN(version.stage_pending, ParseStage(request.stage));
        if (request.max_versions.has_value()) {
          RETURN_IF_ERROR(ValidateMaxVersions(*request.max_versions));
          version.max_versions = request.max_versions;
        }
        ASSIGN_OR_RETURN(SecretVersion stored,
                         Write(ctx, vault, path, std::move(version), request.value, event));
        RETURN_IF_ERROR(NoteSchedule(stored, policy));
        return stored;
      });
}

StatusOr<SecretBuffer> SecretService::Open(const RequestContext& ctx,
                                           const SecretVersion& version) {
  const std::vector<uint8_t> aad = SecretAad(version.vault_id, version.secret_id, version.version);
  auto value = keyring_.Decrypt(version.ciphertext, aad);
  if (value.has_value()) {
    return value;
  }
  const auto key_id = AeadBlobKeyId(version.ciphertext);
  if (key_id.has_value() && !keyring_.HoldsDataKey(*key_id) && hooks_.reload_keyring &&
      hooks_.reload_keyring()) {
    value = keyring_.Decrypt(version.ciphertext, aad);
    if (value.has_value()) {
      return value;
    }
  }
  if (key_id.has_value() && !keyring_.HoldsDataKey(*key_id) && hooks_.key_provider_failure) {
    if (Status provider = hooks_.key_provider_failure(); !provider.ok()) return Err(provider);
  }
  if (hooks_.on_integrity_failure) {
    IntegrityFailure failure;
    failure.vault_id = version.vault_id;
    failure.secret_id = version.secret_id;
    failure.path = version.path;
    failure.version = version.version;
    if (key_id.has_value()) {
      failure.key_id = *key_id;
      failure.key_held = keyring_.HoldsDataKey(*key_id);
    }
    failure.request_id = ctx.request_id;
    hooks_.on_integrity_failure(failure);
  }
  // One message whatever failed (tampering, truncation, a copied blob, an unknown key): the
  // client learns nothing about the blob; the alert tells the operator which row.
  return Err(DataLossError("the stored value failed its integrity check"));
}

StatusOr<SecretValue> SecretService::Reveal(const RequestContext& ctx, SecretVersion version,
                                            AuditEvent& event, bool count_read) {
  event.version = version.version;
  if (version.is_destroyed()) {
    return Err(GoneError(fmt::format("version {} is destroyed", version.version)));
  }
  if (version.is_disabled()) {
    return Err(GoneError(fmt::format("version {} is disabled", version.version)));
  }
  if (version.expires_at.has_value() && *version.expires_at <= clock_.Now()) {
    return Err(GoneError("secret has expired"));
  }
  if (version.max_access_count > 0 && version.access_count >= version.max_access_count) {
    return Err(GoneError("secret has reached its max_access_count"));
  }
  // Decrypt before spending a counted read, so a damaged row never burns one.
  ASSIGN_OR_RETURN(SecretBuffer value, Open(ctx, version));
  version.ciphertext.clear();
  if (version.max_access_count > 0) {
    // The count and this read's audit event commit together, before the value is sent.
    auto count =
        store_.ConsumeSecretAccess(version.secret_id, version.version, AuditLog::Success(event));
    if (!count.has_value()) {
      if (count.error().code() == StatusCode::kGone) {
        return Err(GoneError("secret has reached its max_access_count"));
      }
      return Err(NotFoundAs(count.error(), "secret not found"));
    }
    AuditLog::MarkWritten(ctx);
    version.access_count = *count;
  }
  if (count_read && deps_.usage != nullptr) {
    // Counted in memory, flushed in batches: no durable write per plain read (docs/usage.md).
    deps_.usage->RecordRead(version.secret_id, version.version, ctx.principal.id, clock_.Now());
  }
  return SecretValue{std::move(version), std::move(value)};
}

void SecretService::NoteBindingUse(const RequestContext& ctx, const SecretVersion& used) {
  if (deps_.usage != nullptr) {
    deps_.usage->RecordRead(used.secret_id, used.version, ctx.principal.id, clock_.Now());
  }
}

StatusOr<SecretValue> SecretService::Get(const RequestContext& ctx, std::string_view vault_id,
                                         std::string_view path) {
  return deps_.audit.Audited<SecretValue>(
      ctx, "secret.read", [&](AuditEvent& event) -> StatusOr<SecretValue> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kRead));
        // The version `current` names when it is set, else the latest readable one.
        auto version = store_.GetSecretVersion(vault.id, path, VersionSelector::Current());
        if (!version.has_value()) {
          if (version.error().code() == StatusCode::kGone) {
            return Err(GoneError("every version of this secret is disabled"));
          }
          return Err(NotFoundAs(version.error(), "secret not found"));
        }
        ASSIGN_OR_RETURN(SecretValue revealed, Reveal(ctx, std::move(*version), event));
        RETURN_IF_ERROR(NoteSchedule(revealed.meta, std::nullopt));
        return revealed;
      });
}

StatusOr<SecretValue> SecretService::UseForBinding(const RequestContext& ctx,
                                                   std::string_view vault_id,
                                                   std::string_view path) {
  ASSIGN_OR_RETURN(Vault vault,
                   Authorize(ctx, vault_id, path, Permission::kUse, Permission::kRead));
  auto version = store_.GetSecretVersion(vault.id, path, VersionSelector::Current());
  if (!version.has_value()) {
    if (version.error().code() == StatusCode::kGone) {
      return Err(GoneError("every version of the binding's secret is disabled"));
    }
    return Err(NotFoundAs(version.error(), "the binding's secret does not exist"));
  }
  // A counted read's event is written with the count; the caller's context stays unaudited so
  // that the call's own binding.use event follows.
  RequestContext use = ctx;
  AuditEvent event = deps_.audit.NewEvent(use, "secret.use");
  AuditLog::SetTarget(event, vault.id, path);
  return Reveal(use, std::move(*version), event, /*count_read=*/false);
}

StatusOr<SecretValue> SecretService::GetVersion(const RequestContext& ctx,
                                                std::string_view vault_id, std::string_view path,
                                                std::string_view version_text) {
  return deps_.audit.Audited<SecretValue>(
      ctx, "secret.read", [&](AuditEvent& event) -> StatusOr<SecretValue> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kRead));
        ASSIGN_OR_RETURN(int64_t number, ParseVersionNumber(version_text));
        event.version = number;
        auto version = store_.GetSecretVersion(vault.id, path, VersionSelector::Exact(number));
        if (!version.has_value()) {
          return Err(NotFoundAs(version.error(), fmt::format("version {} not found", number)));
        }
        return Reveal(ctx, std::move(*version), event);
      });
}

StatusOr<SecretListPage> SecretService::List(const RequestContext& ctx, std::string_view vault_id,
                                             std::string_view prefix, std::string_view after,
                                             std::optional<int64_t> limit,
                                             std::optional<UnixMicros> unused_since) {
  return deps_.audit.Audited<SecretListPage>(
      ctx, "secret.list", [&](AuditEvent& event) -> StatusOr<SecretListPage> {
        AuditLog::SetTarget(event, vault_id, prefix);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, prefix, Permission::kList));
        std::string start;
        if (IsListCursor(after)) {
          ASSIGN_OR_RETURN(start, OpenListCursor(keyring_, vault.id, ctx.principal, after));
        } else if (!after.empty()) {
          RETURN_IF_ERROR(ValidateSecretPath(after));
          start = std::string(after);
        }
        const int64_t n = limit.value_or(static_cast<int64_t>(kMaxListLimit));
        if (n < 1 || n > static_cast<int64_t>(kMaxListLimit)) {
          return Err(
              InvalidArgumentError(fmt::format("limit must be between 1 and {}", kMaxListLimit)));
        }
        const auto unused = [&](const SecretSummary& s) {
          return !unused_since.has_value() || !s.secret_last_read_at.has_value() ||
                 *s.secret_last_read_at < *unused_since;
        };
        if (Authorizer::IsOwner(ctx.principal, vault)) {
          if (!unused_since.has_value()) {
            return store_.ListSecrets(vault.id, prefix, start, static_cast<size_t>(n));
          }
          return ListVisible(ctx, vault, prefix, start, static_cast<size_t>(n), unused);
        }
        ASSIGN_OR_RETURN(Authorizer::ListFilter visible,
                         deps_.authorizer.ListablePaths(ctx, vault));
        return ListVisible(
            ctx, vault, prefix, start, static_cast<size_t>(n),
            [&](const SecretSummary& s) { return visible.Matches(s.path) && unused(s); });
      });
}

StatusOr<SecretListPage> SecretService::ListVisible(
    const RequestContext& ctx, const Vault& vault, std::string_view prefix, std::string position,
    size_t limit, const std::function<bool(const SecretSummary&)>& keep) {
  // Every field of the answer, the cursor included, names only paths the caller may list: the
  // store is read in batches until `limit` visible paths are found, one more shows that more
  // remain, or the store has no more. The cursor is then the last path returned. When the scan
  // budget runs out first, the position reached (possibly a path the caller may not see) goes
  // back sealed, so paging still makes progress and still returns every visible path, in order.
  SecretListPage out;
  size_t scanned = 0;
  size_t batch = std::max<size_t>(limit + 1, kListFirstBatch);
  bool more_visible = false;
  while (!more_visible) {
    if (scanned >= max_list_scan_) {
      if (out.secrets.size() < limit) {
        ASSIGN_OR_RETURN(out.next_after,
                         SealListCursor(keyring_, vault.id, ctx.principal, position));
      } else {
        out.next_after = out.secrets.back().path;  // more may remain: the caller asks again
      }
      return out;
    }
    batch = std::min({batch, kMaxListLimit, max_list_scan_ - scanned});
    ASSIGN_OR_RETURN(SecretListPage page, store_.ListSecrets(vault.id, prefix, position, batch));
    for (SecretSummary& s : page.secrets) {
      ++scanned;
      position = s.path;
      if (!keep(s)) continue;
      if (out.secrets.size() == limit) {
        more_visible = true;
        break;
      }
      out.secrets.push_back(std::move(s));
    }
    if (page.next_after.empty()) break;  // the store has nothing after this batch
    batch *= 2;
  }
  if (more_visible) out.next_after = out.secrets.back().path;
  return out;
}

Status SecretService::Delete(const RequestContext& ctx, std::string_view vault_id,
                             std::string_view path) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "secret.delete", [&](AuditEvent& event) -> StatusOr<bool> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kDelete));
        RETURN_IF_ERROR(NotFoundAs(store_.DeleteSecret(vault.id, path, AuditLog::Success(event)),
                                   "secret not found"));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

StatusOr<SecretVersion> SecretService::Rotate(const RequestContext& ctx, std::string_view vault_id,
                                              std::string_view path, RotateSecretRequest request) {
  return deps_.audit.Audited<SecretVersion>(
      ctx, "secret.rotate", [&](AuditEvent& event) -> StatusOr<SecretVersion> {
        AuditLog::SetTarget(event, vault_id, path);
        // Rotation needs `rotate` or `write`.
        ASSIGN_OR_RETURN(Vault vault,
                         Authorize(ctx, vault_id, path, Permission::kRotate, Permission::kWrite));
        const int64_t length = request.length.value_or(32);
        if (length < static_cast<int64_t>(kMinGeneratedLength) ||
            length > static_cast<int64_t>(kMaxGeneratedLength)) {
          return Err(InvalidArgumentError(fmt::format("length must be between {} and {}",
                                                      kMinGeneratedLength, kMaxGeneratedLength)));
        }
        const auto charset = ParseCharset(request.charset.value_or("hex"));
        if (!charset.has_value()) {
          return Err(
              InvalidArgumentError("charset must be one of: hex, base64, alphanumeric, ascii"));
        }
        std::optional<SecretType> type;
        if (request.type.has_value()) {
          type = ParseSecretType(*request.type);
          if (!type.has_value()) {
            return Err(
                InvalidArgumentError(fmt::format("type must be one of: {}", SecretTypeList())));
          }
        }
        NewSecretVersion version;
        ASSIGN_OR_RETURN(version.stage_pending, ParseStage(request.stage));
        auto previous = store_.GetSecretVersion(vault.id, path, VersionSelector::LatestAny());
        if (previous.has_value()) {
          version.type = type.value_or(previous->type);
          version.metadata_json = previous->metadata_json;
          version.rotation_policy_json = previous->rotation_policy_json;
          // The read limit carries over (with a fresh count); an absolute expiry does not.
          version.max_access_count = previous->max_access_count;
        } else if (previous.error().code() == StatusCode::kNotFound) {
          // Rotating a path that holds nothing yet creates it: a generated value is a password
          // unless the caller says otherwise.
          version.type = type.value_or(SecretType::kPassword);
        } else {
          return Err(previous.error());
        }
        ASSIGN_OR_RETURN(SecretBuffer value,
                         GenerateValue(*charset, static_cast<size_t>(length), keyring_.random()));
        ASSIGN_OR_RETURN(SecretVersion stored,
                         Write(ctx, vault, path, std::move(version), value, event));
        RETURN_IF_ERROR(NoteSchedule(stored, std::nullopt));
        return stored;
      });
}

StatusOr<std::vector<SecretVersion>> SecretService::ListVersions(const RequestContext& ctx,
                                                                 std::string_view vault_id,
                                                                 std::string_view path) {
  return deps_.audit.Audited<std::vector<SecretVersion>>(
      ctx, "secret.versions", [&](AuditEvent& event) -> StatusOr<std::vector<SecretVersion>> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kRead));
        auto versions = store_.ListSecretVersions(vault.id, path);
        if (!versions.has_value()) return Err(NotFoundAs(versions.error(), "secret not found"));
        return versions;
      });
}

StatusOr<SecretVersion> SecretService::DisableVersion(const RequestContext& ctx,
                                                      std::string_view vault_id,
                                                      std::string_view path,
                                                      std::string_view version_text) {
  return deps_.audit.Audited<SecretVersion>(
      ctx, "secret.disable", [&](AuditEvent& event) -> StatusOr<SecretVersion> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kWrite));
        ASSIGN_OR_RETURN(int64_t number, ParseVersionNumber(version_text));
        event.version = number;
        auto disabled = store_.DisableSecretVersion(vault.id, path, number, clock_.Now(),
                                                    AuditLog::Success(event));
        if (!disabled.has_value()) {
          return Err(NotFoundAs(disabled.error(), fmt::format("version {} not found", number)));
        }
        AuditLog::MarkWritten(ctx);
        return disabled;
      });
}

}  // namespace coffer
