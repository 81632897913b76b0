// The row readers and shared helpers of postgres_rows.h: each reads the columns of its row in
// the order the SELECTs list them, and refuses (kDataLoss) what this binary cannot understand.
#include "store/postgres/postgres_rows.h"

#include <algorithm>

namespace coffer::postgres_internal {

Status RewordDuplicate(Status s, const PgConnection& conn,
                       std::initializer_list<std::string_view> name_constraints,
                       std::string name_taken, std::string id_taken) {
  if (s.code() != StatusCode::kAlreadyExists) {
    return s;
  }
  const std::string& constraint = conn.last_error().constraint;
  const bool name = std::find(name_constraints.begin(), name_constraints.end(), constraint) !=
                    name_constraints.end();
  return AlreadyExistsError(name ? std::move(name_taken) : std::move(id_taken));
}

StatusOr<SecretVersion> ReadVersion(const PgResult& r, int row, bool with_ciphertext) {
  SecretVersion v;
  v.secret_id = r.Text(row, 0);
  v.vault_id = r.Text(row, 1);
  v.path = r.Text(row, 2);
  v.version = r.Int(row, 3);
  const std::optional<SecretType> type = ParseSecretType(r.Text(row, 4));
  if (!type.has_value()) {
    return Err(DataLossError("store: a secret version has an unknown type"));
  }
  v.type = *type;
  v.metadata_json = r.Text(row, 5);
  v.rotation_policy_json = r.Text(row, 6);
  v.expires_at = r.OptionalInt(row, 7);
  v.max_access_count = r.Int(row, 8);
  v.access_count = r.Int(row, 9);
  v.disabled_at = r.OptionalInt(row, 10);
  v.created_at = r.Int(row, 11);
  v.created_by = r.Text(row, 12);
  v.destroyed_at = r.OptionalInt(row, 13);
  v.secret_max_versions = r.Int(row, 14);
  v.last_read_at = r.OptionalInt(row, 15);
  v.last_read_by = r.Text(row, 16);
  v.secret_read_count = r.Int(row, 17);
  v.secret_last_read_at = r.OptionalInt(row, 18);
  v.secret_last_read_by = r.Text(row, 19);
  if (with_ciphertext) {
    v.ciphertext = r.Bytes(row, kCiphertextColumn);
  }
  return v;
}

Vault ReadVault(const PgResult& r, int row) {
  return Vault{r.Text(row, 0), r.Text(row, 1), r.Text(row, 2),
               r.Text(row, 3), r.Int(row, 4),  r.Int(row, 5)};
}

User ReadUser(const PgResult& r, int row) {
  return User{r.Text(row, 0), r.Text(row, 1), r.Bool(row, 2), r.Int(row, 3)};
}

StatusOr<Credential> ReadCredential(const PgResult& r, int row) {
  Credential c;
  c.public_id = r.Text(row, 0);
  c.kind = r.Text(row, 1);
  ASSIGN_OR_RETURN(c.principal_kind, ParsePrincipalKind(r.Text(row, 2), "credential"));
  c.principal_id = r.Text(row, 3);
  c.name = r.Text(row, 4);
  c.secret_hmac = r.Bytes(row, 5);
  c.created_at = r.Int(row, 6);
  c.revoked_at = r.OptionalInt(row, 7);
  c.pepper_ids = ParsePepperIds(r.Text(row, 8));
  return c;
}

Agent ReadAgent(const PgResult& r, int row) {
  Agent a;
  a.id = r.Text(row, 0);
  a.name = r.Text(row, 1);
  a.description = r.Text(row, 2);
  a.owner_id = r.Text(row, 3);
  a.created_at = r.Int(row, 4);
  a.revoked_at = r.OptionalInt(row, 5);
  a.deactivated_at = r.OptionalInt(row, 6);
  a.last_used_at = r.OptionalInt(row, 7);
  return a;
}

StatusOr<Policy> ReadPolicy(const PgResult& r, int row) {
  Policy p;
  p.id = r.Text(row, 0);
  p.vault_id = r.Text(row, 1);
  ASSIGN_OR_RETURN(p.principal_kind, ParsePrincipalKind(r.Text(row, 2), "policy"));
  p.principal_id = r.Text(row, 3);
  p.path_glob = r.Text(row, 4);
  p.permissions = static_cast<uint8_t>(r.Int(row, 5));
  p.expires_at = r.OptionalInt(row, 6);
  p.created_at = r.Int(row, 7);
  p.created_by = r.Text(row, 8);
  p.priority = r.Int(row, 10);
  p.updated_at = r.OptionalInt(row, 16);
  RETURN_IF_ERROR(SetPolicyColumns(p, PolicyColumns{.effect = r.Text(row, 9),
                                                    .window_start_hour = r.OptionalInt(row, 11),
                                                    .window_end_hour = r.OptionalInt(row, 12),
                                                    .window_days = r.OptionalInt(row, 13),
                                                    .window_timezone = r.Text(row, 14),
                                                    .ip_allowlist = r.Text(row, 15)}));
  return p;
}

StatusOr<Sha256Digest> ReadDigest(const PgResult& r, int row, int column) {
  const std::vector<uint8_t> bytes = r.Bytes(row, column);
  Sha256Digest digest{};
  if (bytes.size() != digest.size()) {
    return Err(DataLossError("store: an audit event has a malformed hash"));
  }
  std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

StatusOr<AuditEvent> ReadEvent(const PgResult& r, int row) {
  AuditEvent e;
  e.seq = r.Int(row, 0);
  e.at = r.Int(row, 1);
  e.request_id = r.Text(row, 2);
  e.actor_kind = r.Text(row, 3);
  e.actor_id = r.Text(row, 4);
  e.action = r.Text(row, 5);
  e.vault_id = r.Text(row, 6);
  e.path = r.Text(row, 7);
  e.version = r.Int(row, 8);
  e.client_ip = r.Text(row, 9);
  e.outcome = r.Text(row, 10);
  e.status = r.Text(row, 11);
  ASSIGN_OR_RETURN(e.prev_hash, ReadDigest(r, row, 12));
  ASSIGN_OR_RETURN(e.hash, ReadDigest(r, row, 13));
  e.http_status = static_cast<int32_t>(r.Int(row, 14));
  e.count = r.Int(row, 15);
  e.details = r.Text(row, 16);
  return e;
}

}  // namespace coffer::postgres_internal
