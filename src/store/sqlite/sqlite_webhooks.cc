// SqliteStoreImpl's webhooks: endpoints, the delivery outbox and the dispatch cursor. Every
// write runs on the single writer, so the cursor's compare-and-move and the claims of deliveries
// are serialized without further locks.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

constexpr std::string_view kWebhookColumnsSql =
    "SELECT id, vault_id, url, description, events, sealed_secret, created_by, created_at,"
    " start_after_seq FROM webhooks";

WebhookEndpoint ReadWebhook(const SqliteStatement& st) {
  WebhookEndpoint w;
  w.id = st.ColumnText(0);
  w.vault_id = st.ColumnText(1);
  w.url = st.ColumnText(2);
  w.description = st.ColumnText(3);
  w.events = SplitWebhookEvents(st.ColumnText(4));
  w.sealed_secret = st.ColumnBlob(5);
  w.created_by = st.ColumnText(6);
  w.created_at = st.ColumnInt(7);
  w.start_after_seq = st.ColumnInt(8);
  return w;
}

constexpr std::string_view kDeliveryColumnsSql =
    "SELECT id, webhook_id, vault_id, event_type, audit_seq, payload_json, created_at, state,"
    " attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, lease_owner,"
    " lease_until FROM webhook_deliveries";

WebhookDelivery ReadDelivery(const SqliteStatement& st) {
  WebhookDelivery d;
  d.id = st.ColumnText(0);
  d.webhook_id = st.ColumnText(1);
  d.vault_id = st.ColumnText(2);
  d.event_type = st.ColumnText(3);
  d.audit_seq = st.ColumnInt(4);
  d.payload_json = st.ColumnText(5);
  d.created_at = st.ColumnInt(6);
  d.state = ParseWebhookDeliveryState(st.ColumnText(7));
  d.attempts = st.ColumnInt(8);
  d.next_attempt_at = st.ColumnInt(9);
  d.last_attempt_at = st.ColumnOptionalInt(10);
  d.last_status_code = st.ColumnInt(11);
  d.last_error = st.ColumnText(12);
  d.lease_owner = st.ColumnText(13);
  d.lease_until = st.ColumnInt(14);
  return d;
}

StatusOr<bool> RowExists(SqliteConnection& db, std::string_view sql, std::string_view id) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(sql));
  st.BindText(1, id);
  return st.Step();
}

}  // namespace

Status SqliteStoreImpl::InsertWebhook(const WebhookEndpoint& w, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool vault,
                     RowExists(db, "SELECT 1 FROM vaults WHERE id = ?1", w.vault_id));
    if (!vault) return NotFoundError("vault not found");
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO webhooks (id, vault_id, url, description, events,"
                                " sealed_secret, created_by, created_at, start_after_seq)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                                " (SELECT COALESCE(MAX(seq), 0) FROM audit_events))"));
    st.BindText(1, w.id);
    st.BindText(2, w.vault_id);
    st.BindText(3, w.url);
    st.BindText(4, w.description);
    st.BindText(5, JoinWebhookEvents(w.events));
    st.BindBlob(6, w.sealed_secret);
    st.BindText(7, w.created_by);
    st.BindInt(8, w.created_at);
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a webhook with this id exists");
  });
}

StatusOr<WebhookEndpoint> SqliteStoreImpl::GetWebhook(std::string_view vault_id,
                                                      std::string_view id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(std::string(kWebhookColumnsSql) +
                                                   " WHERE id = ?1 AND vault_id = ?2"));
  st.BindText(1, id);
  st.BindText(2, vault_id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) return Err(NotFoundError("webhook not found"));
  return ReadWebhook(st);
}

StatusOr<std::vector<WebhookEndpoint>> SqliteStoreImpl::ListWebhooks(
    std::optional<std::string_view> vault_id) {
  auto db = readers_->Acquire();
  std::string sql(kWebhookColumnsSql);
  if (vault_id.has_value()) sql += " WHERE vault_id = ?1";
  sql += " ORDER BY created_at, rowid";
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
  if (vault_id.has_value()) st.BindText(1, *vault_id);
  return ReadAll<WebhookEndpoint>(st, ReadWebhook);
}

Status SqliteStoreImpl::DeleteWebhook(std::string_view vault_id, std::string_view id,
                                      const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND"
                                  " EXISTS (SELECT 1 FROM webhooks WHERE id = ?1 AND"
                                  " vault_id = ?2)"));
      st.BindText(1, id);
      st.BindText(2, vault_id);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("DELETE FROM webhooks WHERE id = ?1 AND vault_id = ?2"));
    st.BindText(1, id);
    st.BindText(2, vault_id);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) return NotFoundError("webhook not found");
    return OkStatus();
  });
}

StatusOr<int64_t> SqliteStoreImpl::GetWebhookCursor() {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare("SELECT after_seq FROM webhook_cursor WHERE id = 1"));
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) return Err(InternalError("store: the webhook cursor row is missing"));
  return st.ColumnInt(0);
}

Status SqliteStoreImpl::EnqueueWebhookDeliveries(const std::vector<WebhookDelivery>& deliveries,
                                                 std::optional<int64_t> cursor_from,
                                                 int64_t cursor_to, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    if (cursor_from.has_value()) {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE webhook_cursor SET after_seq = ?2"
                                                      " WHERE id = 1 AND after_seq = ?1"));
      st.BindInt(1, *cursor_from);
      st.BindInt(2, cursor_to);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return AbortedError("the webhook cursor moved: another dispatcher queued these events");
      }
    }
    for (const WebhookDelivery& d : deliveries) {
      ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.Prepare("INSERT INTO webhook_deliveries (id, webhook_id, vault_id, event_type,"
                     " audit_seq, payload_json, created_at, state, next_attempt_at)"
                     " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8"
                     " WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?2)"));
      st.BindText(1, d.id);
      st.BindText(2, d.webhook_id);
      st.BindText(3, d.vault_id);
      st.BindText(4, d.event_type);
      st.BindInt(5, d.audit_seq);
      st.BindText(6, d.payload_json);
      st.BindInt(7, d.created_at);
      st.BindInt(8, d.next_attempt_at);
      RETURN_IF_ERROR(
          Reword(st.Run(), StatusCode::kAlreadyExists, "a webhook delivery with this id exists"));
    }
    return OkStatus();
  });
}

StatusOr<std::vector<WebhookDelivery>> SqliteStoreImpl::ClaimWebhookDeliveries(
    std::string_view owner, UnixMicros now, UnixMicros lease_until, size_t limit) {
  if (limit < 1) return Err(InvalidArgumentError("store: a claim needs a limit of at least 1"));
  {
    // Senders poll often and mostly find nothing: answer that from a reader, without a write
    // (and its fsync). Only this process writes, so nothing due here means nothing to claim.
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT 1 FROM webhook_deliveries WHERE state = 'pending'"
                                 " AND next_attempt_at <= ?1 AND lease_until <= ?1 LIMIT 1"));
    st.BindInt(1, now);
    ASSIGN_OR_RETURN(const bool any, st.Step());
    if (!any) return std::vector<WebhookDelivery>{};
  }
  std::vector<WebhookDelivery> claimed;
  RETURN_IF_ERROR(Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    claimed.clear();
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("UPDATE webhook_deliveries SET lease_owner = ?1, lease_until = ?3"
                   " WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending'"
                   " AND next_attempt_at <= ?2 AND lease_until <= ?2"
                   " ORDER BY next_attempt_at, id LIMIT ?4)"
                   " RETURNING id, webhook_id, vault_id, event_type, audit_seq, payload_json,"
                   " created_at, state, attempts, next_attempt_at, last_attempt_at,"
                   " last_status_code, last_error, lease_owner, lease_until"));
    st.BindText(1, owner);
    st.BindInt(2, now);
    st.BindInt(3, lease_until);
    st.BindInt(4, static_cast<int64_t>(limit));
    ASSIGN_OR_RETURN(claimed, ReadAll<WebhookDelivery>(st, ReadDelivery));
    return OkStatus();
  }));
  std::sort(claimed.begin(), claimed.end(), [](const WebhookDelivery& a, const WebhookDelivery& b) {
    return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at
                                                  : a.id < b.id;
  });
  return claimed;
}

Status SqliteStoreImpl::FinishWebhookAttempt(const WebhookAttempt& a) {
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = ?3,"
                   " last_status_code = ?4, last_error = ?5, state = ?6, next_attempt_at = ?7,"
                   " lease_owner = '', lease_until = 0"
                   " WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'"));
    st.BindText(1, a.delivery_id);
    st.BindText(2, a.lease_owner);
    st.BindInt(3, a.at);
    st.BindInt(4, a.status_code);
    st.BindText(5, a.error);
    st.BindText(6, WebhookDeliveryStateName(a.state));
    st.BindInt(7, a.next_attempt_at);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 1) return OkStatus();
    ASSIGN_OR_RETURN(
        const bool exists,
        RowExists(db, "SELECT 1 FROM webhook_deliveries WHERE id = ?1", a.delivery_id));
    if (!exists) return NotFoundError("webhook delivery not found");
    return AbortedError("the webhook delivery is no longer leased to this sender");
  });
}

StatusOr<std::vector<WebhookDelivery>> SqliteStoreImpl::ListWebhookDeliveries(
    std::string_view webhook_id, size_t limit) {
  auto db = readers_->Acquire();
  std::string sql = std::string(kDeliveryColumnsSql) +
                    " WHERE webhook_id = ?1 ORDER BY created_at DESC, rowid DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
  st.BindText(1, webhook_id);
  return ReadAll<WebhookDelivery>(st, ReadDelivery);
}

}  // namespace coffer::sqlite_store_internal
