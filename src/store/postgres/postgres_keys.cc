// PostgresStoreImpl's keyring (the wrapped keys) and data key rotation: listing and swapping
// ciphertexts by the data key they name, counting them, and deleting a key no version uses;
// sealing a key again under another root key (`coffer keys migrate-root`).
// SQL compares the 4 bytes that name the key (substring from 2 for 4); nothing is decrypted.
#include <algorithm>
#include <map>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

// --- keyring -----------------------------------------------------------------------------------

StatusOr<std::vector<WrappedKey>> PostgresStoreImpl::LoadKeys() {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<WrappedKey>> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id, purpose, wrapped, created_at, active"
                                           " FROM keys ORDER BY id"));
    return ReadAll<WrappedKey>(r, [](const PgResult& rr, int row) {
      WrappedKey k;
      k.id = static_cast<uint32_t>(rr.Int(row, 0));
      k.purpose = rr.Text(row, 1);
      k.wrapped = rr.Bytes(row, 2);
      k.created_at = rr.Int(row, 3);
      k.active = rr.Bool(row, 4);
      return k;
    });
  });
}

Status PostgresStoreImpl::InsertKey(const WrappedKey& key) {
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    if (key.active) {
      RETURN_IF_ERROR(conn.Run("UPDATE keys SET active = false WHERE purpose = $1 AND active",
                               PgParams().Text(key.purpose)));
    }
    Status s = conn.Run(
        "INSERT INTO keys (id, purpose, wrapped, created_at, active)"
        " VALUES ($1, $2, $3, $4, $5)",
        PgParams()
            .Int(key.id)
            .Text(key.purpose)
            .Bytes(key.wrapped)
            .Int(key.created_at)
            .Bool(key.active));
    if (s.code() == StatusCode::kAlreadyExists && conn.last_error().constraint == "keys_pkey") {
      return AlreadyExistsError("key " + std::to_string(key.id) + " already exists");
    }
    return s;
  });
}

// --- data key rotation -------------------------------------------------------------------------

StatusOr<std::vector<StoredCiphertext>> PostgresStoreImpl::ListCiphertextsNotUnderKey(
    uint32_t key_id, std::string_view after_secret_id, int64_t after_version, size_t limit) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<StoredCiphertext>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("SELECT s.vault_id, v.secret_id, s.path, v.version, v.ciphertext"
                               " FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id"
                               " WHERE (v.secret_id, v.version) > ($1, $2)"
                               " AND v.destroyed_at IS NULL AND substring(v.ciphertext from 2 for "
                               "4) IS DISTINCT FROM $3"
                               " ORDER BY v.secret_id, v.version LIMIT $4",
                               PgParams()
                                   .Text(after_secret_id)
                                   .Int(after_version)
                                   .Bytes(KeyIdBytes(key_id))
                                   .Int(static_cast<int64_t>(std::max<size_t>(limit, 1)))));
    return ReadAll<StoredCiphertext>(r, [](const PgResult& rr, int row) {
      StoredCiphertext c;
      c.vault_id = rr.Text(row, 0);
      c.secret_id = rr.Text(row, 1);
      c.path = rr.Text(row, 2);
      c.version = rr.Int(row, 3);
      c.ciphertext = rr.Bytes(row, 4);
      return c;
    });
  });
}

StatusOr<int64_t> PostgresStoreImpl::SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) {
  int64_t swapped = 0;
  RETURN_IF_ERROR(Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    swapped = 0;
    for (const CiphertextSwap& swap : swaps) {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec("UPDATE secret_versions SET ciphertext = $4"
                                 " WHERE secret_id = $1 AND version = $2 AND ciphertext = $3",
                                 PgParams()
                                     .Text(swap.secret_id)
                                     .Int(swap.version)
                                     .Bytes(swap.expected)
                                     .Bytes(swap.replacement)));
      swapped += r.affected();
    }
    return OkStatus();
  }));
  return swapped;
}

StatusOr<std::vector<StoredWebhookSecret>> PostgresStoreImpl::ListWebhookSecretsNotUnderKey(
    uint32_t key_id, std::string_view after_webhook_id, size_t limit) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<StoredWebhookSecret>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("SELECT vault_id, id, sealed_secret FROM webhooks WHERE id > $1"
                               " AND substring(sealed_secret from 2 for 4) IS DISTINCT FROM $2"
                               " ORDER BY id LIMIT $3",
                               PgParams()
                                   .Text(after_webhook_id)
                                   .Bytes(KeyIdBytes(key_id))
                                   .Int(static_cast<int64_t>(std::max<size_t>(limit, 1)))));
    return ReadAll<StoredWebhookSecret>(r, [](const PgResult& rr, int row) {
      StoredWebhookSecret w;
      w.vault_id = rr.Text(row, 0);
      w.webhook_id = rr.Text(row, 1);
      w.sealed_secret = rr.Bytes(row, 2);
      return w;
    });
  });
}

StatusOr<int64_t> PostgresStoreImpl::SwapWebhookSecrets(
    const std::vector<WebhookSecretSwap>& swaps) {
  int64_t swapped = 0;
  RETURN_IF_ERROR(Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    swapped = 0;
    for (const WebhookSecretSwap& swap : swaps) {
      ASSIGN_OR_RETURN(
          PgResult r,
          conn.Exec("UPDATE webhooks SET sealed_secret = $3"
                    " WHERE id = $1 AND sealed_secret = $2",
                    PgParams().Text(swap.webhook_id).Bytes(swap.expected).Bytes(swap.replacement)));
      swapped += r.affected();
    }
    return OkStatus();
  }));
  return swapped;
}

StatusOr<std::map<int64_t, int64_t>> PostgresStoreImpl::CountCiphertextsByKey() {
  return Read([&](PgConnection& conn) -> StatusOr<std::map<int64_t, int64_t>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("SELECT substring(ciphertext from 2 for 4) AS k, count(*)"
                               " FROM secret_versions WHERE destroyed_at IS NULL GROUP BY k"
                               " UNION ALL SELECT substring(sealed_secret from 2 for 4) AS k,"
                               " count(*) FROM webhooks GROUP BY k"));
    std::map<int64_t, int64_t> counts;
    for (int row = 0; row < r.rows(); ++row) {
      counts[KeyIdOf(r.Bytes(row, 0))] += r.Int(row, 1);
    }
    return counts;
  });
}

Status PostgresStoreImpl::DeleteDataKey(uint32_t id) {
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    // The row lock orders this against a concurrent rotation making the key active again.
    ASSIGN_OR_RETURN(PgResult key, conn.Exec("SELECT active FROM keys WHERE id = $1"
                                             " AND purpose = 'data' FOR UPDATE",
                                             PgParams().Int(id)));
    if (key.rows() == 0) {
      return NotFoundError("there is no data key " + std::to_string(id));
    }
    if (key.Bool(0, 0)) {
      return FailedPreconditionError("data key " + std::to_string(id) +
                                     " is the active key; rotate first");
    }
    ASSIGN_OR_RETURN(
        PgResult used,
        conn.Exec(
            "SELECT (SELECT count(*) FROM secret_versions"
            " WHERE substring(ciphertext from 2 for 4) = $1),"
            " (SELECT count(*) FROM webhooks WHERE substring(sealed_secret from 2 for 4) = $1)",
            PgParams().Bytes(KeyIdBytes(id))));
    const int64_t versions = used.rows() == 1 ? used.Int(0, 0) : 0;
    const int64_t webhooks = used.rows() == 1 ? used.Int(0, 1) : 0;
    if (versions > 0 || webhooks > 0) {
      return FailedPreconditionError(DataKeyInUse(id, versions, webhooks));
    }
    return conn.Run("DELETE FROM keys WHERE id = $1", PgParams().Int(id));
  });
}

Status PostgresStoreImpl::ReplaceKeyWrapping(uint32_t id, const std::vector<uint8_t>& expected,
                                             const std::vector<uint8_t>& wrapped) {
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult key, conn.Exec("SELECT wrapped FROM keys WHERE id = $1 FOR UPDATE",
                                             PgParams().Int(id)));
    if (key.rows() == 0) {
      return NotFoundError("there is no key " + std::to_string(id));
    }
    if (key.Bytes(0, 0) != expected) {
      return AbortedError("key " + std::to_string(id) + " was sealed again meanwhile");
    }
    return conn.Run("UPDATE keys SET wrapped = $2 WHERE id = $1",
                    PgParams().Int(id).Bytes(wrapped));
  });
}

Status PostgresStoreImpl::DeleteInactiveKey(uint32_t id, std::string_view purpose) {
  if (purpose == "data") {
    return InvalidArgumentError("data keys are retired with DeleteDataKey");
  }
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult key, conn.Exec("SELECT active FROM keys WHERE id = $1"
                                             " AND purpose = $2 FOR UPDATE",
                                             PgParams().Int(id).Text(purpose)));
    if (key.rows() == 0) {
      return NotFoundError("there is no such key " + std::to_string(id));
    }
    if (key.Bool(0, 0)) {
      return FailedPreconditionError("key " + std::to_string(id) + " is active");
    }
    return conn.Run("DELETE FROM keys WHERE id = $1", PgParams().Int(id));
  });
}

}  // namespace coffer::postgres_internal
