// SqliteStoreImpl's keyring (the wrapped keys Coffer loads at start) and data key rotation
// (`coffer keys`): finding ciphertexts not under a key, swapping them for re-encrypted ones,
// counting them by key and deleting a data key nothing uses any more; sealing a key again under
// another root key (`coffer keys migrate-root`).
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

// --- keyring ---------------------------------------------------------------------------------

StatusOr<std::vector<WrappedKey>> SqliteStoreImpl::LoadKeys() {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare("SELECT id, purpose, wrapped, created_at, active FROM keys"
                               " ORDER BY id"));
  return ReadAll<WrappedKey>(st, [](const SqliteStatement& row) {
    WrappedKey k;
    k.id = static_cast<uint32_t>(row.ColumnInt(0));
    k.purpose = row.ColumnText(1);
    k.wrapped = row.ColumnBlob(2);
    k.created_at = row.ColumnInt(3);
    k.active = row.ColumnInt(4) != 0;
    return k;
  });
}

Status SqliteStoreImpl::InsertKey(const WrappedKey& key) {
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT 1 FROM keys WHERE id = ?1"));
      st.BindInt(1, key.id);
      ASSIGN_OR_RETURN(const bool taken, st.Step());
      if (taken) {
        return AlreadyExistsError("key " + std::to_string(key.id) + " already exists");
      }
    }
    if (key.active) {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE keys SET active = 0"
                                                      " WHERE purpose = ?1 AND active = 1"));
      st.BindText(1, key.purpose);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO keys (id, purpose, wrapped, created_at, active)"
                                " VALUES (?1, ?2, ?3, ?4, ?5)"));
    st.BindInt(1, key.id);
    st.BindText(2, key.purpose);
    st.BindBlob(3, key.wrapped);
    st.BindInt(4, key.created_at);
    st.BindInt(5, key.active ? 1 : 0);
    return st.Run();
  });
}

// --- data key rotation -----------------------------------------------------------------------

StatusOr<std::vector<StoredCiphertext>> SqliteStoreImpl::ListCiphertextsNotUnderKey(
    uint32_t key_id, std::string_view after_secret_id, int64_t after_version, size_t limit) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(
      SqliteStatement st,
      db->Prepare("SELECT s.vault_id, v.secret_id, s.path, v.version, v.ciphertext"
                  " FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id"
                  " WHERE (v.secret_id, v.version) > (?1, ?2)"
                  " AND v.destroyed_at IS NULL AND substr(v.ciphertext, 2, 4) IS NOT ?3"
                  " ORDER BY v.secret_id, v.version LIMIT ?4"));
  st.BindText(1, after_secret_id);
  st.BindInt(2, after_version);
  st.BindBlob(3, KeyIdBytes(key_id));
  st.BindInt(4, static_cast<int64_t>(std::max<size_t>(limit, 1)));
  return ReadAll<StoredCiphertext>(st, [](const SqliteStatement& row) {
    StoredCiphertext c;
    c.vault_id = row.ColumnText(0);
    c.secret_id = row.ColumnText(1);
    c.path = row.ColumnText(2);
    c.version = row.ColumnInt(3);
    c.ciphertext = row.ColumnBlob(4);
    return c;
  });
}

StatusOr<int64_t> SqliteStoreImpl::SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) {
  int64_t swapped = 0;
  RETURN_IF_ERROR(Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    swapped = 0;
    for (const CiphertextSwap& swap : swaps) {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE secret_versions SET ciphertext = ?4 WHERE"
                                  " secret_id = ?1 AND version = ?2 AND ciphertext = ?3"));
      st.BindText(1, swap.secret_id);
      st.BindInt(2, swap.version);
      st.BindBlob(3, swap.expected);
      st.BindBlob(4, swap.replacement);
      RETURN_IF_ERROR(st.Run());
      swapped += db.Changes();
    }
    return OkStatus();
  }));
  return swapped;
}

StatusOr<std::vector<StoredWebhookSecret>> SqliteStoreImpl::ListWebhookSecretsNotUnderKey(
    uint32_t key_id, std::string_view after_webhook_id, size_t limit) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare("SELECT vault_id, id, sealed_secret FROM webhooks"
                               " WHERE id > ?1 AND substr(sealed_secret, 2, 4) IS NOT ?2"
                               " ORDER BY id LIMIT ?3"));
  st.BindText(1, after_webhook_id);
  st.BindBlob(2, KeyIdBytes(key_id));
  st.BindInt(3, static_cast<int64_t>(std::max<size_t>(limit, 1)));
  return ReadAll<StoredWebhookSecret>(st, [](const SqliteStatement& row) {
    StoredWebhookSecret w;
    w.vault_id = row.ColumnText(0);
    w.webhook_id = row.ColumnText(1);
    w.sealed_secret = row.ColumnBlob(2);
    return w;
  });
}

StatusOr<int64_t> SqliteStoreImpl::SwapWebhookSecrets(const std::vector<WebhookSecretSwap>& swaps) {
  int64_t swapped = 0;
  RETURN_IF_ERROR(Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    swapped = 0;
    for (const WebhookSecretSwap& swap : swaps) {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE webhooks SET sealed_secret = ?3"
                                                      " WHERE id = ?1 AND sealed_secret = ?2"));
      st.BindText(1, swap.webhook_id);
      st.BindBlob(2, swap.expected);
      st.BindBlob(3, swap.replacement);
      RETURN_IF_ERROR(st.Run());
      swapped += db.Changes();
    }
    return OkStatus();
  }));
  return swapped;
}

StatusOr<std::map<int64_t, int64_t>> SqliteStoreImpl::CountCiphertextsByKey() {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare("SELECT substr(ciphertext, 2, 4) AS k, count(*)"
                                                   " FROM secret_versions"
                                                   " WHERE destroyed_at IS NULL GROUP BY k"
                                                   " UNION ALL SELECT substr(sealed_secret, 2, 4)"
                                                   " AS k, count(*) FROM webhooks GROUP BY k"));
  std::map<int64_t, int64_t> counts;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return counts;
    }
    counts[KeyIdOf(st.ColumnBlob(0))] += st.ColumnInt(1);
  }
}

Status SqliteStoreImpl::DeleteDataKey(uint32_t id) {
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT active FROM keys WHERE id = ?1 AND purpose = 'data'"));
      st.BindInt(1, id);
      ASSIGN_OR_RETURN(const bool found, st.Step());
      if (!found) {
        return NotFoundError("there is no data key " + std::to_string(id));
      }
      if (st.ColumnInt(0) != 0) {
        return FailedPreconditionError("data key " + std::to_string(id) +
                                       " is the active key; rotate first");
      }
    }
    {
      ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.Prepare("SELECT (SELECT count(*) FROM secret_versions"
                     " WHERE substr(ciphertext, 2, 4) = ?1),"
                     " (SELECT count(*) FROM webhooks WHERE substr(sealed_secret, 2, 4) = ?1)"));
      st.BindBlob(1, KeyIdBytes(id));
      ASSIGN_OR_RETURN(const bool row, st.Step());
      const int64_t versions = row ? st.ColumnInt(0) : 0;
      const int64_t webhooks = row ? st.ColumnInt(1) : 0;
      if (versions > 0 || webhooks > 0) {
        return FailedPreconditionError(DataKeyInUse(id, versions, webhooks));
      }
    }
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM keys WHERE id = ?1"));
    st.BindInt(1, id);
    return st.Run();
  });
}

Status SqliteStoreImpl::ReplaceKeyWrapping(uint32_t id, const std::vector<uint8_t>& expected,
                                           const std::vector<uint8_t>& wrapped) {
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT wrapped FROM keys WHERE id = ?1"));
      st.BindInt(1, id);
      ASSIGN_OR_RETURN(const bool found, st.Step());
      if (!found) {
        return NotFoundError("there is no key " + std::to_string(id));
      }
      if (st.ColumnBlob(0) != expected) {
        return AbortedError("key " + std::to_string(id) + " was sealed again meanwhile");
      }
    }
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE keys SET wrapped = ?2 WHERE id = ?1"));
    st.BindInt(1, id);
    st.BindBlob(2, wrapped);
    return st.Run();
  });
}

Status SqliteStoreImpl::DeleteInactiveKey(uint32_t id, std::string_view purpose) {
  if (purpose == "data") {
    return InvalidArgumentError("data keys are retired with DeleteDataKey");
  }
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT active FROM keys WHERE id = ?1 AND purpose = ?2"));
      st.BindInt(1, id);
      st.BindText(2, purpose);
      ASSIGN_OR_RETURN(const bool found, st.Step());
      if (!found) {
        return NotFoundError("there is no such key " + std::to_string(id));
      }
      if (st.ColumnInt(0) != 0) {
        return FailedPreconditionError("key " + std::to_string(id) + " is active");
      }
    }
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM keys WHERE id = ?1"));
    st.BindInt(1, id);
    return st.Run();
  });
}

}  // namespace coffer::sqlite_store_internal
