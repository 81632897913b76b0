// CopyStore: SQLite to SQLite always, and SQLite to PostgreSQL when COFFER_TEST_PG_URL is set:
// every record arrives as it was, the audit chain comes out identical, and a non-empty target is
// refused.
#include "store/store_copy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_conformance_test.h"

namespace coffer {
namespace {

using store_testing::AgentCredential;
using store_testing::FakeSeal;
using store_testing::kT0;
using store_testing::MakeEvent;

class StoreCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "coffer-copy-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    source_ = Sqlite("source.db");
    ASSERT_NE(source_, nullptr);
  }
  void TearDown() override {
    source_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<Store> Sqlite(const std::string& name) {
    auto store = OpenSqliteStore({.path = dir_ + "/" + name});
    EXPECT_THAT(store, IsOk());
    return store.has_value() ? std::move(store).value() : nullptr;
  }

  // A bit of everything, with audit events on the mutations.
  void Fill() {
    Store& s = *source_;
    ASSERT_THAT(s.InsertKey({1, "data", {1, 2, 3}, kT0, false}), IsOk());
    ASSERT_THAT(s.InsertKey({2, "data", {4, 5, 6}, kT0 + 1, true}), IsOk());
    const User alice{NewUuid(), "alice", true, kT0};
    AuditEvent e = MakeEvent("user.create");
    ASSERT_THAT(s.InsertUser(alice, &e), IsOk());
    Credential key;
    key.public_id = "alicekey";
    key.kind = "key";
    key.principal_id = alice.id;
    key.secret_hmac = {9, 9};
    key.created_at = kT0;
    ASSERT_THAT(s.InsertCredential(key, nullptr), IsOk());
    const Agent bot{NewUuid(), "bot", "", alice.id, kT0, std::nullopt, std::nullopt, std::nullopt};
    ASSERT_THAT(s.InsertAgent(bot, {AgentCredential(bot.id, "botkey")}, nullptr), IsOk());
    ASSERT_THAT(s.RevokeCredential("botkey", kT0 + 5, nullptr), IsOk());
    const Vault v{NewUuid(), "prod", "production", alice.id, kT0, /*max_versions=*/5};
    e = MakeEvent("vault.create", v.id);
    ASSERT_THAT(s.InsertVault(v, &e), IsOk());
    Policy p;
    p.id = NewUuid();
    p.vault_id = v.id;
    p.principal_id = bot.id;
    p.path_glob = "db/**";
    p.permissions = kPermRead;
    p.created_at = kT0;
    ASSERT_THAT(s.InsertPolicy(p, nullptr), IsOk());
    NewSecretVersion n;
    n.vault_id = v.id;
    n.path = "db/password";
    n.max_access_count = 3;
    for (int i = 0; i < 3; ++i) {
      e = MakeEvent("secret.write", v.id);
      auto put = s.PutSecretVersion(n, FakeSeal("v" + std::to_string(i)), &e);
      ASSERT_THAT(put, IsOk());
      secret_id_ = put->secret_id;
    }
    ASSERT_THAT(s.ConsumeSecretAccess(secret_id_, 1, nullptr), IsOk());
    ASSERT_THAT(s.DisableSecretVersion(v.id, "db/password", 2, kT0 + 9, nullptr), IsOk());
    ASSERT_THAT(s.SetSecretAlias(v.id, "db/password", "current", 3, nullptr), IsOk());
    ASSERT_THAT(s.SetSecretAlias(v.id, "db/password", "blue", 1, nullptr), IsOk());
    n.path = "other";
    n.max_versions = 4;
    ASSERT_THAT(s.PutSecretVersion(n, FakeSeal("o"), nullptr), IsOk());
    ASSERT_THAT(s.DestroySecretVersion(v.id, "other", 1, kT0 + 7, nullptr), IsOk());
    ASSERT_THAT(s.SetSecretSchedule(v.id, "db/password", R"({"interval_seconds":86400})", kT0 + 100,
                                    nullptr),
                IsOk());
    webhook_.id = NewUuid();
    webhook_.vault_id = v.id;
    webhook_.url = "https://hooks.example.com/in";
    webhook_.description = "ci";
    webhook_.events = {"secret.rotated", "secret.version_created"};
    webhook_.sealed_secret = {1, 0, 0, 0, 2, 7, 7, 7};
    webhook_.created_by = alice.id;
    webhook_.created_at = kT0 + 3;
    ASSERT_THAT(s.InsertWebhook(webhook_, nullptr), IsOk());
    WebhookDelivery d;
    d.id = "msg_1";
    d.webhook_id = webhook_.id;
    d.vault_id = v.id;
    d.event_type = "webhook.test";
    d.payload_json = "{}";
    d.created_at = kT0;
    d.next_attempt_at = kT0;
    ASSERT_THAT(s.EnqueueWebhookDeliveries({d}, std::nullopt, 0, nullptr), IsOk());
    for (int i = 0; i < 20; ++i) {
      AuditEvent read = MakeEvent("secret.read", v.id);
      if (i == 0) read.details = R"({"mode":"proxy"})";  // details are copied and hashed
      ASSERT_THAT(s.AppendAudit(read), IsOk());
    }
    // A gateway binding is copied; the calls made through it and the use counters are not.
    binding_.id = NewUuid();
    binding_.agent_id = bot.id;
    binding_.name = "openai";
    binding_.config_json = R"({"base_url":"https://api.openai.com/v1"})";
    binding_.vault_id = v.id;
    binding_.path = "db/password";
    binding_.created_by = alice.id;
    binding_.created_at = kT0 + 4;
    binding_.updated_at = kT0 + 6;
    ASSERT_THAT(s.InsertBinding(binding_, nullptr), IsOk());
    ExecutionRecord call;
    call.id = NewUuid();
    call.agent_id = bot.id;
    call.binding_id = binding_.id;
    call.created_at = kT0 + 8;
    ASSERT_THAT(s.InsertExecution(call, nullptr), IsOk());
    const std::vector<UseCounter> counters = {UseCounter{"agent:bot", kT0, kT0 + 60, 5, 1}};
    ASSERT_THAT(s.CountUse(counters), IsOk());
    vault_id_ = v.id;
  }

  void ExpectCopied(Store& to) {
    auto report = CopyStore(*source_, to, nullptr);
    ASSERT_THAT(report, IsOk());
    EXPECT_EQ(report->keys, 2);
    EXPECT_EQ(report->users, 1);
    EXPECT_EQ(report->agents, 1);
    EXPECT_EQ(report->credentials, 2);
    EXPECT_EQ(report->vaults, 1);
    EXPECT_EQ(report->policies, 1);
    EXPECT_EQ(report->secrets, 2);
    EXPECT_EQ(report->versions, 4);
    EXPECT_EQ(report->audit_events, 25);
    EXPECT_EQ(report->schedules, 1);
    EXPECT_EQ(report->webhooks, 1);
    EXPECT_EQ(report->bindings, 1);
    auto binding = to.FindBinding(binding_.agent_id, "openai");
    ASSERT_THAT(binding, IsOk());
    EXPECT_EQ(binding->id, binding_.id);
    EXPECT_EQ(binding->config_json, binding_.config_json);
    EXPECT_EQ(binding->path, binding_.path);
    EXPECT_EQ(binding->created_at, binding_.created_at);
    EXPECT_EQ(binding->updated_at, binding_.updated_at);
    auto calls = to.ListExecutions(binding_.agent_id, 0, 0);
    ASSERT_THAT(calls, IsOk());
    EXPECT_TRUE(calls->empty());
    AuditQuery reads;
    reads.action = "secret.read";
    reads.limit = 1;
    auto first_read = to.ListAudit(reads);
    ASSERT_THAT(first_read, IsOk());
    ASSERT_EQ(first_read->size(), 1u);
    EXPECT_EQ((*first_read)[0].details, R"({"mode":"proxy"})");
    // The schedule's policy and next due time; the endpoint with its sealed secret as it was,
    // starting from the copied chain's head; its deliveries are not copied.
    auto schedule = to.GetSecretSchedule(vault_id_, "db/password");
    ASSERT_THAT(schedule, IsOk());
    ASSERT_TRUE(schedule->has_value());
    EXPECT_EQ((*schedule)->secret_id, secret_id_);
    EXPECT_EQ((*schedule)->policy_json, R"({"interval_seconds":86400})");
    EXPECT_EQ((*schedule)->next_rotation_at, kT0 + 100);
    auto unscheduled = to.GetSecretSchedule(vault_id_, "other");
    ASSERT_THAT(unscheduled, IsOk());
    EXPECT_FALSE(unscheduled->has_value());
    auto hook = to.GetWebhook(vault_id_, webhook_.id);
    ASSERT_THAT(hook, IsOk());
    EXPECT_EQ(hook->sealed_secret, webhook_.sealed_secret);
    EXPECT_EQ(hook->url, webhook_.url);
    EXPECT_EQ(hook->description, webhook_.description);
    EXPECT_EQ(hook->events, webhook_.events);
    EXPECT_EQ(hook->created_by, webhook_.created_by);
    EXPECT_EQ(hook->created_at, webhook_.created_at);
    EXPECT_EQ(hook->start_after_seq, 25);
    auto deliveries = to.ListWebhookDeliveries(webhook_.id, 0);
    ASSERT_THAT(deliveries, IsOk());
    EXPECT_TRUE(deliveries->empty());

    auto v1 = to.GetSecretVersion(vault_id_, "db/password", VersionSelector::Exact(1));
    ASSERT_THAT(v1, IsOk());
    EXPECT_EQ(v1->secret_id, secret_id_);
    EXPECT_EQ(v1->access_count, 1);
    EXPECT_EQ(v1->ciphertext, store_testing::FakeCiphertext(secret_id_, 1, "v0"));
    auto latest = to.GetSecretVersion(vault_id_, "db/password", VersionSelector::LatestEnabled());
    ASSERT_THAT(latest, IsOk());
    EXPECT_EQ(latest->version, 3);
    EXPECT_EQ(latest->aliases, (std::map<std::string, int64_t>{{"blue", 1}, {"current", 3}}));
    auto other = to.GetSecretVersion(vault_id_, "other", VersionSelector::Exact(1));
    ASSERT_THAT(other, IsOk());
    EXPECT_EQ(other->destroyed_at, kT0 + 7);
    EXPECT_TRUE(other->ciphertext.empty());
    EXPECT_EQ(other->secret_max_versions, 4);
    auto vault = to.GetVault(vault_id_);
    ASSERT_THAT(vault, IsOk());
    EXPECT_EQ(vault->max_versions, 5);
    auto revoked = to.GetCredential("botkey");
    ASSERT_THAT(revoked, IsOk());
    EXPECT_EQ(revoked->revoked_at, kT0 + 5);
    auto keys = to.LoadKeys();
    ASSERT_THAT(keys, IsOk());
    ASSERT_EQ(keys->size(), 2u);
    EXPECT_FALSE((*keys)[0].active);
    EXPECT_TRUE((*keys)[1].active);
    // The copy goes on where the source stopped.
    auto next = to.AppendAudit(MakeEvent("after.migrate"));
    ASSERT_THAT(next, IsOk());
    EXPECT_EQ(next->seq, 26);
    EXPECT_EQ(next->prev_hash, report->audit_head);

    // A second copy into the now non-empty target is refused, changing nothing.
    EXPECT_THAT(CopyStore(*source_, to, nullptr), StatusIs(StatusCode::kFailedPrecondition));
  }

  std::string dir_;
  WebhookEndpoint webhook_;
  Binding binding_;
  std::unique_ptr<Store> source_;
  std::string vault_id_;
  std::string secret_id_;
};

TEST_F(StoreCopyTest, SqliteToSqliteCopiesEverythingAndTheChainIsIdentical) {
  Fill();
  auto target = Sqlite("target.db");
  ASSERT_NE(target, nullptr);
  ExpectCopied(*target);
}

TEST_F(StoreCopyTest, SqliteToPostgresCopiesEverythingAndTheChainIsIdentical) {
  const char* admin = std::getenv("COFFER_TEST_PG_URL");
  if (admin == nullptr || *admin == '\0') {
    GTEST_SKIP() << "COFFER_TEST_PG_URL is not set: PostgreSQL tests skipped";
  }
  Fill();
  const std::string name = "coffer_copy_" + NewUuid().substr(0, 8);
  auto conn = PgConnection::Connect(admin);
  ASSERT_THAT(conn, IsOk());
  ASSERT_THAT((*conn)->ExecScript("CREATE DATABASE " + name), IsOk());
  std::string url(admin);
  url = url.substr(0, url.rfind('/')) + "/" + name;
  {
    auto target = OpenPostgresStore({.url = url});
    ASSERT_THAT(target, IsOk());
    ExpectCopied(**target);
  }
  // Cleaning up the scratch database; the test's checks are done.
  (void)(*conn)->ExecScript("DROP DATABASE " + name + " WITH (FORCE)");
}

TEST_F(StoreCopyTest, AnEmptySourceCopiesToAnEmptyTarget) {
  auto target = Sqlite("target.db");
  ASSERT_NE(target, nullptr);
  auto report = CopyStore(*source_, *target, nullptr);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->audit_events, 0);
}

}  // namespace
}  // namespace coffer
