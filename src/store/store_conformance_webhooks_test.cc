// Conformance tests for webhooks: endpoints of a vault (inserted after the audit head they
// start from, listed, deleted with their deliveries and with their vault), the dispatch cursor
// moved by compare-and-set together with the deliveries it queues (also under concurrency),
// leased claims, and the bookkeeping of attempts and retries.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

WebhookEndpoint MakeWebhook(std::string_view vault_id, UnixMicros created_at = kT0) {
  WebhookEndpoint w;
  w.id = NewUuid();
  w.vault_id = std::string(vault_id);
  w.url = "https://hooks.example.com/coffer";
  w.description = "ci";
  w.events = {"secret.rotated", "secret.version_created"};
  w.sealed_secret = {1, 2, 3, 4};
  w.created_by = "owner-1";
  w.created_at = created_at;
  return w;
}

WebhookDelivery MakeDelivery(const WebhookEndpoint& w, std::string id, UnixMicros due,
                             int64_t seq = 1) {
  WebhookDelivery d;
  d.id = std::move(id);
  d.webhook_id = w.id;
  d.vault_id = w.vault_id;
  d.event_type = "secret.version_created";
  d.audit_seq = seq;
  d.payload_json = R"({"type":"secret.version_created"})";
  d.created_at = due;
  d.next_attempt_at = due;
  return d;
}

TEST_P(StoreConformanceTest, WebhookIsStoredListedAndStartsAfterTheAuditHead) {
  const Vault v = AddVault("v");
  const Vault other = AddVault("other");
  ASSERT_THAT(store().AppendAudit(MakeEvent("secret.write", v.id)), IsOk());
  ASSERT_THAT(store().AppendAudit(MakeEvent("secret.write", v.id)), IsOk());
  const WebhookEndpoint w = MakeWebhook(v.id);
  AuditEvent created = MakeEvent("webhook.create", v.id);
  ASSERT_THAT(store().InsertWebhook(w, &created), IsOk());
  auto got = store().GetWebhook(v.id, w.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->url, w.url);
  EXPECT_EQ(got->description, "ci");
  EXPECT_EQ(got->events, w.events);
  EXPECT_EQ(got->sealed_secret, w.sealed_secret);
  EXPECT_EQ(got->created_by, "owner-1");
  EXPECT_EQ(got->start_after_seq, 2);  // the two events before it; its own audit event is later
  EXPECT_THAT(store().GetWebhook(other.id, w.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().InsertWebhook(w, nullptr), StatusIs(StatusCode::kAlreadyExists));
  WebhookEndpoint orphan = MakeWebhook(NewUuid());
  EXPECT_THAT(store().InsertWebhook(orphan, nullptr), StatusIs(StatusCode::kNotFound));

  ASSERT_THAT(store().InsertWebhook(MakeWebhook(other.id, kT0 + 1), nullptr), IsOk());
  auto mine = store().ListWebhooks(v.id);
  ASSERT_THAT(mine, IsOk());
  ASSERT_EQ(mine->size(), 1u);
  auto all = store().ListWebhooks(std::nullopt);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, w.id);
  std::vector<AuditEvent> audit = AllAudit();
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit.back().action, "webhook.create");
}

TEST_P(StoreConformanceTest, CursorMovesOnlyFromWhereItIsAndQueuesWithIt) {
  const Vault v = AddVault("v");
  const WebhookEndpoint w = MakeWebhook(v.id);
  ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());
  auto start = store().GetWebhookCursor();
  ASSERT_THAT(start, IsOk());
  EXPECT_EQ(*start, 0);
  ASSERT_THAT(store().EnqueueWebhookDeliveries({MakeDelivery(w, "msg_a", kT0)}, 0, 5, nullptr),
              IsOk());
  EXPECT_THAT(store().GetWebhookCursor(), IsOkAndHolds(5));
  // A second dispatcher that read the cursor at 0 loses and queues nothing.
  EXPECT_THAT(store().EnqueueWebhookDeliveries({MakeDelivery(w, "msg_b", kT0)}, 0, 5, nullptr),
              StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().GetWebhookCursor(), IsOkAndHolds(5));
  auto list = store().ListWebhookDeliveries(w.id, 0);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "msg_a");
  EXPECT_EQ((*list)[0].state, WebhookDeliveryState::kPending);
  EXPECT_EQ((*list)[0].attempts, 0);
  // Without a cursor move (a test event); a delivery of a deleted endpoint is skipped.
  WebhookEndpoint gone = MakeWebhook(v.id);
  ASSERT_THAT(store().EnqueueWebhookDeliveries(
                  {MakeDelivery(w, "msg_c", kT0 + 1), MakeDelivery(gone, "msg_d", kT0)},
                  std::nullopt, 0, nullptr),
              IsOk());
  EXPECT_THAT(store().GetWebhookCursor(), IsOkAndHolds(5));
  list = store().ListWebhookDeliveries(w.id, 0);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "msg_c");  // newest first
  EXPECT_THAT(store().ListWebhookDeliveries(gone.id, 0), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_THAT(
      store().EnqueueWebhookDeliveries({MakeDelivery(w, "msg_a", kT0)}, std::nullopt, 0, nullptr),
      StatusIs(StatusCode::kAlreadyExists));
}

TEST_P(StoreConformanceTest, ConcurrentDispatchersQueueEachEventOnce) {
  const Vault v = AddVault("v");
  const WebhookEndpoint w = MakeWebhook(v.id);
  ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  std::atomic<int> errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        auto cursor = store().GetWebhookCursor();
        if (!cursor.has_value()) {
          ++errors;
          continue;
        }
        // Every dispatcher turns event cursor+1 into the same delivery; ids differ per thread,
        // so a double queueing would show as two rows.
        Status s = store().EnqueueWebhookDeliveries(
            {MakeDelivery(w, "msg_" + std::to_string(*cursor + 1) + "_" + std::to_string(t), kT0,
                          *cursor + 1)},
            *cursor, *cursor + 1, nullptr);
        if (!s.ok() && s.code() != StatusCode::kAborted) ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto cursor = store().GetWebhookCursor();
  ASSERT_THAT(cursor, IsOk());
  auto list = store().ListWebhookDeliveries(w.id, 0);
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ(static_cast<int64_t>(list->size()), *cursor);
  std::vector<bool> seen(static_cast<size_t>(*cursor) + 1, false);
  for (const WebhookDelivery& d : *list) {
    ASSERT_GE(d.audit_seq, 1);
    ASSERT_LE(d.audit_seq, *cursor);
    EXPECT_FALSE(seen[static_cast<size_t>(d.audit_seq)]) << "event queued twice: " << d.audit_seq;
    seen[static_cast<size_t>(d.audit_seq)] = true;
  }
}

TEST_P(StoreConformanceTest, ClaimsLeaseDueDeliveriesToOneSenderUntilTheLeaseEnds) {
  const Vault v = AddVault("v");
  const WebhookEndpoint w = MakeWebhook(v.id);
  ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());
  ASSERT_THAT(store().EnqueueWebhookDeliveries(
                  {MakeDelivery(w, "msg_1", kT0), MakeDelivery(w, "msg_2", kT0 + 10),
                   MakeDelivery(w, "msg_later", kT0 + 1'000'000)},
                  std::nullopt, 0, nullptr),
              IsOk());
  EXPECT_THAT(store().ClaimWebhookDeliveries("a", kT0, kT0 + 100, 0),
              StatusIs(StatusCode::kInvalidArgument));
  auto a = store().ClaimWebhookDeliveries("a", kT0 + 10, kT0 + 100, 10);
  ASSERT_THAT(a, IsOk());
  ASSERT_EQ(a->size(), 2u);  // msg_later is not due
  EXPECT_EQ((*a)[0].id, "msg_1");
  EXPECT_EQ((*a)[0].lease_owner, "a");
  EXPECT_EQ((*a)[0].lease_until, kT0 + 100);
  // Held: another sender gets nothing until the lease ends.
  EXPECT_THAT(store().ClaimWebhookDeliveries("b", kT0 + 99, kT0 + 200, 10),
              IsOkAndHolds(::testing::IsEmpty()));
  auto b = store().ClaimWebhookDeliveries("b", kT0 + 100, kT0 + 200, 1);
  ASSERT_THAT(b, IsOk());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].id, "msg_1");
  // a's lease on msg_1 is gone: its report is refused; b's counts.
  WebhookAttempt late;
  late.delivery_id = "msg_1";
  late.lease_owner = "a";
  late.at = kT0 + 101;
  late.state = WebhookDeliveryState::kDelivered;
  EXPECT_THAT(store().FinishWebhookAttempt(late), StatusIs(StatusCode::kAborted));
  late.lease_owner = "b";
  late.status_code = 204;
  ASSERT_THAT(store().FinishWebhookAttempt(late), IsOk());
  EXPECT_THAT(store().FinishWebhookAttempt(late), StatusIs(StatusCode::kAborted));
  late.delivery_id = "msg_none";
  EXPECT_THAT(store().FinishWebhookAttempt(late), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, AttemptsAreCountedAndRetriesComeDueAgain) {
  const Vault v = AddVault("v");
  const WebhookEndpoint w = MakeWebhook(v.id);
  ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());
  ASSERT_THAT(
      store().EnqueueWebhookDeliveries({MakeDelivery(w, "msg_1", kT0)}, std::nullopt, 0, nullptr),
      IsOk());
  ASSERT_THAT(store().ClaimWebhookDeliveries("a", kT0, kT0 + 60, 5), IsOk());
  WebhookAttempt failed;
  failed.delivery_id = "msg_1";
  failed.lease_owner = "a";
  failed.at = kT0 + 1;
  failed.status_code = 500;
  failed.error = "the receiver answered 500";
  failed.state = WebhookDeliveryState::kPending;
  failed.next_attempt_at = kT0 + 5'000'000;
  ASSERT_THAT(store().FinishWebhookAttempt(failed), IsOk());
  auto list = store().ListWebhookDeliveries(w.id, 0);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 1u);
  const WebhookDelivery& d = (*list)[0];
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_status_code, 500);
  EXPECT_EQ(d.last_error, "the receiver answered 500");
  EXPECT_EQ(d.last_attempt_at, kT0 + 1);
  EXPECT_EQ(d.next_attempt_at, kT0 + 5'000'000);
  EXPECT_EQ(d.lease_owner, "");
  // Not due before the retry time, whoever asks; due at it.
  EXPECT_THAT(store().ClaimWebhookDeliveries("a", kT0 + 4'999'999, kT0 + 9'000'000, 5),
              IsOkAndHolds(::testing::IsEmpty()));
  auto again = store().ClaimWebhookDeliveries("b", kT0 + 5'000'000, kT0 + 9'000'000, 5);
  ASSERT_THAT(again, IsOk());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].attempts, 1);
  WebhookAttempt gave_up = failed;
  gave_up.lease_owner = "b";
  gave_up.at = kT0 + 5'000'001;
  gave_up.state = WebhookDeliveryState::kFailed;
  ASSERT_THAT(store().FinishWebhookAttempt(gave_up), IsOk());
  list = store().ListWebhookDeliveries(w.id, 0);
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ((*list)[0].state, WebhookDeliveryState::kFailed);
  EXPECT_EQ((*list)[0].attempts, 2);
  // A failed delivery is never claimed again.
  EXPECT_THAT(store().ClaimWebhookDeliveries("c", kT0 + 100'000'000, kT0 + 200'000'000, 5),
              IsOkAndHolds(::testing::IsEmpty()));
}

TEST_P(StoreConformanceTest, DeletingAWebhookOrItsVaultDeletesItsDeliveries) {
  const Vault v = AddVault("v");
  const Vault other = AddVault("other");
  const WebhookEndpoint w = MakeWebhook(v.id);
  const WebhookEndpoint kept = MakeWebhook(v.id, kT0 + 1);
  const WebhookEndpoint in_other = MakeWebhook(other.id);
  for (const WebhookEndpoint* e : {&w, &kept, &in_other}) {
    ASSERT_THAT(store().InsertWebhook(*e, nullptr), IsOk());
  }
  ASSERT_THAT(store().EnqueueWebhookDeliveries(
                  {MakeDelivery(w, "msg_1", kT0), MakeDelivery(kept, "msg_2", kT0),
                   MakeDelivery(in_other, "msg_3", kT0)},
                  std::nullopt, 0, nullptr),
              IsOk());
  EXPECT_THAT(store().DeleteWebhook(other.id, w.id, nullptr), StatusIs(StatusCode::kNotFound));
  AuditEvent deleted = MakeEvent("webhook.delete", v.id);
  ASSERT_THAT(store().DeleteWebhook(v.id, w.id, &deleted), IsOk());
  EXPECT_THAT(store().DeleteWebhook(v.id, w.id, nullptr), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetWebhook(v.id, w.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ListWebhookDeliveries(w.id, 0), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_THAT(store().ListWebhookDeliveries(kept.id, 0), IsOkAndHolds(::testing::SizeIs(1)));
  // Claims never hand out a deleted endpoint's delivery.
  auto claimed = store().ClaimWebhookDeliveries("a", kT0, kT0 + 60, 10);
  ASSERT_THAT(claimed, IsOk());
  EXPECT_EQ(claimed->size(), 2u);
  ASSERT_THAT(store().DeleteVault(other.id, nullptr), IsOk());
  EXPECT_THAT(store().ListWebhooks(std::nullopt), IsOkAndHolds(::testing::SizeIs(1)));
  EXPECT_THAT(store().ListWebhookDeliveries(in_other.id, 0), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_EQ(AllAudit().back().action, "webhook.delete");
}

}  // namespace
}  // namespace coffer::store_testing
