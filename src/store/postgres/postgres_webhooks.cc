// PostgresStoreImpl's webhooks: endpoints, the delivery outbox and the dispatch cursor, shared
// by every server on the database. The cursor moves by compare-and-set under its row lock, so
// each audit event is queued once; deliveries are leased with FOR UPDATE SKIP LOCKED, so two
// servers never claim the same one.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/postgres_rows.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

constexpr std::string_view kWebhookColumnsSql =
    "SELECT id, vault_id, url, description, events, sealed_secret, created_by, created_at,"
    " start_after_seq FROM webhooks";

WebhookEndpoint ReadWebhook(const PgResult& r, int row) {
  WebhookEndpoint w;
  w.id = r.Text(row, 0);
  w.vault_id = r.Text(row, 1);
  w.url = r.Text(row, 2);
  w.description = r.Text(row, 3);
  w.events = SplitWebhookEvents(r.Text(row, 4));
  w.sealed_secret = r.Bytes(row, 5);
  w.created_by = r.Text(row, 6);
  w.created_at = r.Int(row, 7);
  w.start_after_seq = r.Int(row, 8);
  return w;
}

constexpr std::string_view kDeliveryColumns =
    "id, webhook_id, vault_id, event_type, audit_seq, payload_json, created_at, state,"
    " attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, lease_owner,"
    " lease_until";

WebhookDelivery ReadDelivery(const PgResult& r, int row) {
  WebhookDelivery d;
  d.id = r.Text(row, 0);
  d.webhook_id = r.Text(row, 1);
  d.vault_id = r.Text(row, 2);
  d.event_type = r.Text(row, 3);
  d.audit_seq = r.Int(row, 4);
  d.payload_json = r.Text(row, 5);
  d.created_at = r.Int(row, 6);
  d.state = ParseWebhookDeliveryState(r.Text(row, 7));
  d.attempts = r.Int(row, 8);
  d.next_attempt_at = r.Int(row, 9);
  d.last_attempt_at = r.OptionalInt(row, 10);
  d.last_status_code = r.Int(row, 11);
  d.last_error = r.Text(row, 12);
  d.lease_owner = r.Text(row, 13);
  d.lease_until = r.Int(row, 14);
  return d;
}

}  // namespace

Status PostgresStoreImpl::InsertWebhook(const WebhookEndpoint& w, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO webhooks (id, vault_id, url, description, events, sealed_secret,"
        " created_by, created_at, start_after_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        " (SELECT COALESCE(MAX(seq), 0) FROM audit_events))",
        PgParams()
            .Text(w.id)
            .Text(w.vault_id)
            .Text(w.url)
            .Text(w.description)
            .Text(JoinWebhookEvents(w.events))
            .Bytes(w.sealed_secret)
            .Text(w.created_by)
            .Int(w.created_at));
    return Reword(Reword(std::move(s), StatusCode::kNotFound, "vault not found"),
                  StatusCode::kAlreadyExists, "a webhook with this id exists");
  });
}

StatusOr<WebhookEndpoint> PostgresStoreImpl::GetWebhook(std::string_view vault_id,
                                                        std::string_view id) {
  return Read([&](PgConnection& conn) -> StatusOr<WebhookEndpoint> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(kWebhookColumnsSql) + " WHERE id = $1 AND vault_id = $2",
                               PgParams().Text(id).Text(vault_id)));
    if (r.rows() == 0) return Err(NotFoundError("webhook not found"));
    return ReadWebhook(r, 0);
  });
}

StatusOr<std::vector<WebhookEndpoint>> PostgresStoreImpl::ListWebhooks(
    std::optional<std::string_view> vault_id) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<WebhookEndpoint>> {
    std::string sql(kWebhookColumnsSql);
    PgParams params;
    if (vault_id.has_value()) {
      sql += " WHERE vault_id = $1";
      params.Text(*vault_id);
    }
    sql += " ORDER BY created_at, ord";
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
    return ReadAll<WebhookEndpoint>(r, ReadWebhook);
  });
}

Status PostgresStoreImpl::DeleteWebhook(std::string_view vault_id, std::string_view id,
                                        const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // The deliveries go with it (ON DELETE CASCADE).
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("DELETE FROM webhooks WHERE id = $1 AND vault_id = $2",
                                           PgParams().Text(id).Text(vault_id)));
    if (r.affected() == 0) return NotFoundError("webhook not found");
    return OkStatus();
  });
}

StatusOr<int64_t> PostgresStoreImpl::GetWebhookCursor() {
  return Read([&](PgConnection& conn) -> StatusOr<int64_t> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT after_seq FROM webhook_cursor WHERE id = 1"));
    if (r.rows() == 0) return Err(InternalError("store: the webhook cursor row is missing"));
    return r.Int(0, 0);
  });
}

Status PostgresStoreImpl::EnqueueWebhookDeliveries(const std::vector<WebhookDelivery>& deliveries,
                                                   std::optional<int64_t> cursor_from,
                                                   int64_t cursor_to, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    if (cursor_from.has_value()) {
      // Under READ COMMITTED a concurrent mover's UPDATE is waited for and this one then sees
      // its result: the WHERE no longer matches, so only one of them queues.
      ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE webhook_cursor SET after_seq = $2"
                                             " WHERE id = 1 AND after_seq = $1",
                                             PgParams().Int(*cursor_from).Int(cursor_to)));
      if (r.affected() == 0) {
        return AbortedError("the webhook cursor moved: another dispatcher queued these events");
      }
    }
    for (const WebhookDelivery& d : deliveries) {
      Status s = conn.Run(
          "INSERT INTO webhook_deliveries (id, webhook_id, vault_id, event_type, audit_seq,"
          " payload_json, created_at, state, next_attempt_at)"
          " SELECT $1, $2, $3, $4, $5, $6, $7, 'pending', $8"
          " WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $2)",
          PgParams()
              .Text(d.id)
              .Text(d.webhook_id)
              .Text(d.vault_id)
              .Text(d.event_type)
              .Int(d.audit_seq)
              .Text(d.payload_json)
              .Int(d.created_at)
              .Int(d.next_attempt_at));
      RETURN_IF_ERROR(Reword(std::move(s), StatusCode::kAlreadyExists,
                             "a webhook delivery with this id exists"));
    }
    return OkStatus();
  });
}

StatusOr<std::vector<WebhookDelivery>> PostgresStoreImpl::ClaimWebhookDeliveries(
    std::string_view owner, UnixMicros now, UnixMicros lease_until, size_t limit) {
  if (limit < 1) return Err(InvalidArgumentError("store: a claim needs a limit of at least 1"));
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<WebhookDelivery>> {
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec(
            "WITH due AS (SELECT id FROM webhook_deliveries WHERE state = 'pending'"
            " AND next_attempt_at <= $2 AND lease_until <= $2"
            " ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)"
            " UPDATE webhook_deliveries AS d SET lease_owner = $1, lease_until = $3"
            " FROM due WHERE d.id = due.id RETURNING d.id, d.webhook_id, d.vault_id,"
            " d.event_type, d.audit_seq, d.payload_json, d.created_at, d.state, d.attempts,"
            " d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error,"
            " d.lease_owner, d.lease_until",
            PgParams().Text(owner).Int(now).Int(lease_until).Int(static_cast<int64_t>(limit))));
    ASSIGN_OR_RETURN(std::vector<WebhookDelivery> claimed,
                     ReadAll<WebhookDelivery>(r, ReadDelivery));
    std::sort(
        claimed.begin(), claimed.end(), [](const WebhookDelivery& a, const WebhookDelivery& b) {
          return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at
                                                        : a.id < b.id;
        });
    return claimed;
  });
}

Status PostgresStoreImpl::FinishWebhookAttempt(const WebhookAttempt& a) {
  auto done = Read([&](PgConnection& conn) -> StatusOr<bool> {
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec("UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $3,"
                  " last_status_code = $4, last_error = $5, state = $6, next_attempt_at = $7,"
                  " lease_owner = '', lease_until = 0"
                  " WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
                  PgParams()
                      .Text(a.delivery_id)
                      .Text(a.lease_owner)
                      .Int(a.at)
                      .Int(a.status_code)
                      .Text(a.error)
                      .Text(WebhookDeliveryStateName(a.state))
                      .Int(a.next_attempt_at)));
    if (r.affected() == 1) return true;
    ASSIGN_OR_RETURN(PgResult e, conn.Exec("SELECT 1 FROM webhook_deliveries WHERE id = $1",
                                           PgParams().Text(a.delivery_id)));
    if (e.rows() == 0) return Err(NotFoundError("webhook delivery not found"));
    return Err(AbortedError("the webhook delivery is no longer leased to this sender"));
  });
  return done.has_value() ? OkStatus() : done.error();
}

StatusOr<std::vector<WebhookDelivery>> PostgresStoreImpl::ListWebhookDeliveries(
    std::string_view webhook_id, size_t limit) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<WebhookDelivery>> {
    std::string sql = "SELECT " + std::string(kDeliveryColumns) +
                      " FROM webhook_deliveries WHERE webhook_id = $1"
                      " ORDER BY created_at DESC, id DESC";
    if (limit > 0) sql += " LIMIT " + std::to_string(limit);
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, PgParams().Text(webhook_id)));
    return ReadAll<WebhookDelivery>(r, ReadDelivery);
  });
}

}  // namespace coffer::postgres_internal
