// Store conformance tests for the audit hash chain (dense seqs, events written in the same
// transaction as their mutation or not at all, filters, snapshots) and the shared rate limiter.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

std::vector<std::string> Actions(const std::vector<AuditEvent>& events) {
  std::vector<std::string> actions;
  for (const AuditEvent& e : events) {
    actions.push_back(e.action);
  }
  return actions;
}

std::vector<int64_t> Seqs(const std::vector<AuditEvent>& events) {
  std::vector<int64_t> seqs;
  for (const AuditEvent& e : events) {
    seqs.push_back(e.seq);
  }
  return seqs;
}

// --- the chain ---------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, AppendAuditAssignsDenseSeqsAndChainsEveryField) {
  AuditEvent in = MakeEvent("secret.read", "vault-1", "agent-9", kT0 + 5);
  in.actor_kind = "agent";
  in.request_id = "req-42";
  in.path = "db/password";
  in.version = 7;
  in.client_ip = "2001:db8::1";
  in.outcome = "denied";
  in.status = "PERMISSION_DENIED";
  in.seq = 999;       // the store assigns it
  in.hash[0] = 0xff;  // and the hashes
  auto first = store().AppendAudit(in);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->prev_hash, Sha256Digest{}) << "the first event chains to zeros";
  EXPECT_EQ(first->hash, AuditChainHash(Sha256Digest{}, *first));

  for (int i = 2; i <= 5; ++i) {
    auto next = store().AppendAudit(MakeEvent("secret.write"));
    ASSERT_THAT(next, IsOk());
    EXPECT_EQ(next->seq, i);
  }
  const std::vector<AuditEvent> events = AllAudit();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_TRUE(ChainIsIntact(events));
  const AuditEvent& stored = events[0];
  EXPECT_EQ(stored.at, kT0 + 5);
  EXPECT_EQ(stored.request_id, "req-42");
  EXPECT_EQ(stored.actor_kind, "agent");
  EXPECT_EQ(stored.actor_id, "agent-9");
  EXPECT_EQ(stored.action, "secret.read");
  EXPECT_EQ(stored.vault_id, "vault-1");
  EXPECT_EQ(stored.path, "db/password");
  EXPECT_EQ(stored.version, 7);
  EXPECT_EQ(stored.client_ip, "2001:db8::1");
  EXPECT_EQ(stored.outcome, "denied");
  EXPECT_EQ(stored.status, "PERMISSION_DENIED");
  EXPECT_EQ(stored.hash, first->hash);

  auto listed = store().ListAudit({});
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ((*listed)[i].hash, events[i].hash) << "ListAudit and ScanAudit agree";
  }
}

TEST_P(StoreConformanceTest, AuditEventKeepsTheCountItSummarises) {
  AuditEvent summary = MakeEvent("auth.failed.summary");
  summary.client_ip = "203.0.113.9";
  summary.outcome = "denied";
  summary.status = "RESOURCE_EXHAUSTED";
  summary.count = 4711;
  ASSERT_THAT(store().AppendAudit(summary), IsOk());
  ASSERT_THAT(store().AppendAudit(MakeEvent("auth.failed")), IsOk());
  const std::vector<AuditEvent> events = AllAudit();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(ChainIsIntact(events));
  EXPECT_EQ(events[0].count, 4711);
  EXPECT_EQ(events[1].count, 0);
  auto listed = store().ListAudit({});
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].count, 4711);
}

TEST_P(StoreConformanceTest, EveryMutationAppendsItsEventInTheSameWrite) {
  const auto event = [](std::string_view action) { return MakeEvent(action); };
  std::vector<std::string> want;
  const auto expect_ok = [&](std::string_view action, const Status& s) {
    EXPECT_THAT(s, IsOk()) << action;
    want.emplace_back(action);
  };
  const auto append = [&](std::string_view action) {
    expect_ok(action, store().AppendAudit(event(action)).has_value() ? OkStatus()
                                                                     : InternalError("append"));
  };

  const User user{NewUuid(), "alice", false, kT0};
  AuditEvent e = event("user.create");
  expect_ok("user.create", store().InsertUser(user, &e));
  Credential key;
  key.public_id = "alice-key";
  key.kind = "key";
  key.principal_id = user.id;
  e = event("credential.create");
  expect_ok("credential.create", store().InsertCredential(key, &e));
  append("auth.login");
  e = event("credential.revoke");
  expect_ok("credential.revoke", store().RevokeCredential("alice-key", kT0, &e));

  const Vault v{NewUuid(), "prod", "", user.id, kT0};
  e = event("vault.create");
  expect_ok("vault.create", store().InsertVault(v, &e));
  NewSecretVersion n = NewVersion(v.id, "db/password");
  n.max_access_count = 5;
  AuditEvent put_event = event("secret.write");
  auto put = store().PutSecretVersion(n, FakeSeal("x"), &put_event);
  expect_ok("secret.write", put.has_value() ? OkStatus() : put.error());
  AuditEvent put2_event = event("secret.write");
  auto put2 = store().PutSecretVersion(n, FakeSeal("y"), &put2_event);
  expect_ok("secret.write", put2.has_value() ? OkStatus() : put2.error());
  ASSERT_TRUE(put.has_value() && put2.has_value());
  append("secret.read");
  AuditEvent consume_event = event("secret.read");
  auto consumed = store().ConsumeSecretAccess(put->secret_id, 2, &consume_event);
  expect_ok("secret.read", consumed.has_value() ? OkStatus() : consumed.error());
  e = event("secret.disable_version");
  auto disabled = store().DisableSecretVersion(v.id, "db/password", 1, kT0, &e);
  expect_ok("secret.disable_version", disabled.has_value() ? OkStatus() : disabled.error());

  const Agent agent{NewUuid(), "bot", "", user.id, kT0, std::nullopt, std::nullopt, std::nullopt};
  e = event("agent.create");
  expect_ok("agent.create", store().InsertAgent(agent, {AgentCredential(agent.id, "bot-key")}, &e));
  e = event("agent.rotate_key");
  expect_ok("agent.rotate_key",
            store().ReplaceAgentCredentials(agent.id, {"bot-key"},
                                            {AgentCredential(agent.id, "bot-key-2")}, kT0, &e));
  Policy policy;
  policy.id = NewUuid();
  policy.vault_id = v.id;
  policy.principal_id = agent.id;
  policy.path_glob = "**";
  policy.permissions = kPermRead;
  e = event("policy.create");
  expect_ok("policy.create", store().InsertPolicy(policy, &e));
  policy.effect = PolicyEffect::kDeny;
  e = event("policy.update");
  expect_ok("policy.update", store().UpdatePolicy(policy, &e));
  e = event("policy.delete");
  expect_ok("policy.delete", store().DeletePolicy(v.id, policy.id, &e));
  e = event("agent.revoke");
  expect_ok("agent.revoke", store().RevokeAgent(agent.id, kT0, &e));
  e = event("secret.delete");
  expect_ok("secret.delete", store().DeleteSecret(v.id, "db/password", &e));
  e = event("vault.delete");
  expect_ok("vault.delete", store().DeleteVault(v.id, &e));
  append("audit.read");

  const std::vector<AuditEvent> events = AllAudit();
  EXPECT_EQ(Actions(events), want);
  EXPECT_TRUE(ChainIsIntact(events));

  // The store completed the secret events from the rows it wrote.
  const auto find = [&](std::string_view action, int nth) -> const AuditEvent* {
    for (const AuditEvent& ev : events) {
      if (ev.action == action && nth-- == 0) {
        return &ev;
      }
    }
    return nullptr;
  };
  const AuditEvent* w1 = find("secret.write", 0);
  const AuditEvent* w2 = find("secret.write", 1);
  const AuditEvent* read = find("secret.read", 1);
  ASSERT_TRUE(w1 != nullptr && w2 != nullptr && read != nullptr);
  EXPECT_EQ(w1->vault_id, v.id);
  EXPECT_EQ(w1->path, "db/password");
  EXPECT_EQ(w1->version, 1);
  EXPECT_EQ(w2->version, 2);
  EXPECT_EQ(read->version, 2) << "ConsumeSecretAccess fills in the version";
  // The caller's copy is left as it was.
  EXPECT_EQ(put_event.seq, 0);
  EXPECT_TRUE(put_event.path.empty());
}

TEST_P(StoreConformanceTest, AFailedMutationWritesNoEventAndUsesNoSeq) {
  const Vault v = AddVault("v");
  NewSecretVersion once = NewVersion(v.id, "once");
  once.max_access_count = 1;
  auto put = store().PutSecretVersion(once, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), IsOk());
  const Agent agent = AddAgent("bot");
  ASSERT_THAT(store().InsertUser({NewUuid(), "alice", false, kT0}, nullptr), IsOk());
  auto before = store().AppendAudit(MakeEvent("before"));
  ASSERT_THAT(before, IsOk());
  ASSERT_EQ(before->seq, 1);

  const AuditEvent e = MakeEvent("doomed");
  const SealFunction failing_seal = [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
    return Err(UnavailableError("kms down"));
  };
  EXPECT_THAT(store().PutSecretVersion(NewVersion(NewUuid(), "s"), FakeSeal("x"), &e),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().PutSecretVersion(NewVersion(v.id, "s"), failing_seal, &e),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, &e), StatusIs(StatusCode::kGone));
  EXPECT_THAT(store().InsertVault({NewUuid(), "v", "", v.owner_id, kT0}, &e),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().DeleteSecret(v.id, "absent", &e), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DisableSecretVersion(v.id, "once", 9, kT0, &e),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeleteVault(NewUuid(), &e), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().InsertUser({NewUuid(), "alice", false, kT0}, &e),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().InsertCredential(AgentCredential(agent.id, "bot-key"), &e),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().RevokeCredential("absent", kT0, &e), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(
      store().InsertAgent(
          {NewUuid(), "bot", "", "owner-1", kT0, std::nullopt, std::nullopt, std::nullopt}, {}, &e),
      StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().RevokeAgent(NewUuid(), kT0, &e), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ReplaceAgentCredentials(agent.id, {"not-hers"}, {}, kT0, &e),
              StatusIs(StatusCode::kAborted));
  Policy orphan;
  orphan.id = NewUuid();
  orphan.vault_id = NewUuid();
  EXPECT_THAT(store().InsertPolicy(orphan, &e), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeletePolicy(v.id, NewUuid(), &e), StatusIs(StatusCode::kNotFound));
  orphan.vault_id = v.id;
  EXPECT_THAT(store().UpdatePolicy(orphan, &e), StatusIs(StatusCode::kNotFound));

  auto after = store().AppendAudit(MakeEvent("after"));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->seq, 2) << "no failed mutation took a seq";
  EXPECT_EQ(after->prev_hash, before->hash);
  const std::vector<AuditEvent> events = AllAudit();
  EXPECT_EQ(Actions(events), (std::vector<std::string>{"before", "after"}));
  EXPECT_TRUE(ChainIsIntact(events));
  // Nor did the failures change anything else.
  auto creds = store().ListCredentials(PrincipalKind::kAgent, agent.id);
  ASSERT_THAT(creds, IsOk());
  ASSERT_EQ(creds->size(), 1u);
  EXPECT_FALSE((*creds)[0].revoked_at.has_value());
}

TEST_P(StoreConformanceTest, ConcurrentAppendsGetSeqsOneTo800AndTheChainVerifies) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  std::vector<std::vector<int64_t>> got(kThreads);
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditEvent e = MakeEvent("secret.read", "", "actor-" + std::to_string(t));
        e.request_id = std::to_string(t) + "/" + std::to_string(i);
        auto stored = store().AppendAudit(e);
        if (stored.has_value()) {
          got[t].push_back(stored->seq);
        } else {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  std::vector<int64_t> all;
  for (const auto& seqs : got) {
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << "a caller's appends stay in order";
    all.insert(all.end(), seqs.begin(), seqs.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(kThreads * kPerThread);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(all, want) << "seqs must be exactly 1..800";

  const std::vector<AuditEvent> events = AllAudit();
  ASSERT_EQ(events.size(), want.size());
  EXPECT_TRUE(ChainIsIntact(events));
  // Each returned seq is the stored event the caller appended.
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < got[t].size(); ++i) {
      EXPECT_EQ(events[got[t][i] - 1].request_id, std::to_string(t) + "/" + std::to_string(i));
    }
  }
}

TEST_P(StoreConformanceTest, MutationEventsInterleaveWithStandaloneAppends) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  const Vault v = AddVault("v");
  std::atomic<int> unexpected = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string path = "t/" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        AuditEvent write = MakeEvent("secret.write");
        write.request_id = path + "#" + std::to_string(i);
        if (!store().PutSecretVersion(NewVersion(v.id, path), FakeSeal("x"), &write)) {
          ++unexpected;
        }
        AuditEvent read = MakeEvent("secret.read", v.id);
        read.request_id = path + "#" + std::to_string(i);
        if (!store().AppendAudit(read)) {
          ++unexpected;
        }
        // Fails, so its event must not appear.
        const AuditEvent doomed = MakeEvent("doomed");
        if (store().PutSecretVersion(NewVersion(NewUuid(), path), FakeSeal("x"), &doomed)) {
          ++unexpected;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ASSERT_EQ(unexpected.load(), 0);

  const std::vector<AuditEvent> events = AllAudit();
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kRounds * 2));
  EXPECT_TRUE(ChainIsIntact(events));
  // Per thread: write i, then read i, in that order; each write names the version it made.
  std::map<std::string, std::vector<const AuditEvent*>> by_path;
  for (const AuditEvent& e : events) {
    ASSERT_NE(e.action, "doomed");
    by_path[e.request_id.substr(0, e.request_id.find('#'))].push_back(&e);
  }
  ASSERT_EQ(by_path.size(), static_cast<size_t>(kThreads));
  for (const auto& [path, mine] : by_path) {
    ASSERT_EQ(mine.size(), static_cast<size_t>(kRounds * 2)) << path;
    for (int i = 0; i < kRounds; ++i) {
      const AuditEvent& write = *mine[2 * i];
      const AuditEvent& read = *mine[2 * i + 1];
      EXPECT_EQ(write.action, "secret.write");
      EXPECT_EQ(write.path, path);
      EXPECT_EQ(write.vault_id, v.id);
      EXPECT_EQ(write.version, i + 1);
      EXPECT_EQ(read.action, "secret.read");
      EXPECT_EQ(read.request_id, path + "#" + std::to_string(i));
    }
  }
}

TEST_P(StoreConformanceTest, ListAuditFiltersCombineAndPaginate) {
  constexpr int kEvents = 24;
  std::vector<AuditEvent> appended;
  for (int i = 0; i < kEvents; ++i) {
    AuditEvent e =
        MakeEvent(i % 4 < 2 ? "secret.read" : "secret.write", i % 2 == 0 ? "vault-a" : "vault-b",
                  i % 3 == 0 ? "user-1" : "agent-2", kT0 + 10 * i);
    auto stored = store().AppendAudit(e);
    ASSERT_THAT(stored, IsOk());
    appended.push_back(*stored);
  }
  const auto matching = [&](const AuditQuery& q) {
    std::vector<int64_t> seqs;
    for (const AuditEvent& e : appended) {
      if ((q.vault_id.empty() || e.vault_id == q.vault_id) &&
          (q.actor_id.empty() || e.actor_id == q.actor_id) &&
          (q.action.empty() || e.action == q.action) && (!q.since || e.at >= *q.since) &&
          (!q.until || e.at < *q.until) && e.seq > q.after_seq &&
          (q.limit == 0 || seqs.size() < q.limit)) {
        seqs.push_back(e.seq);
      }
    }
    return seqs;
  };
  // (vault_id, actor_id, action, since, until, after_seq, limit)
  const auto query = [](std::string vault_id, std::string actor_id, std::string action,
                        std::optional<UnixMicros> since = std::nullopt,
                        std::optional<UnixMicros> until = std::nullopt, int64_t after_seq = 0,
                        size_t limit = 100) {
    AuditQuery q;
    q.vault_id = std::move(vault_id);
    q.actor_id = std::move(actor_id);
    q.action = std::move(action);
    q.since = since;
    q.until = until;
    q.after_seq = after_seq;
    q.limit = limit;
    return q;
  };
  const std::vector<AuditQuery> queries = {
      query("", "", ""),
      query("vault-a", "", ""),
      query("", "user-1", ""),
      query("", "", "secret.write"),
      query("", "", "", kT0 + 50),
      query("", "", "", std::nullopt, kT0 + 50),
      query("", "", "", kT0 + 40, kT0 + 41),
      query("vault-a", "user-1", ""),
      query("vault-b", "", "secret.read", kT0 + 30),
      query("vault-a", "agent-2", "secret.write", std::nullopt, kT0 + 200),
      query("vault-c", "", ""),
      query("", "user-1", "", std::nullopt, std::nullopt, 10),
      query("", "", "secret.read", std::nullopt, std::nullopt, 0, 3),
      query("", "", "", std::nullopt, std::nullopt, 0, 0),
      query("", "", "", std::nullopt, std::nullopt, kEvents),
  };
  for (size_t i = 0; i < queries.size(); ++i) {
    auto got = store().ListAudit(queries[i]);
    ASSERT_THAT(got, IsOk()) << "query " << i;
    EXPECT_EQ(Seqs(*got), matching(queries[i])) << "query " << i;
  }

  // Paging through one vault with after_seq.
  std::vector<int64_t> paged;
  AuditQuery page = query("vault-b", "", "", std::nullopt, std::nullopt, 0, 5);
  for (int n = 0; n < 10; ++n) {
    auto got = store().ListAudit(page);
    ASSERT_THAT(got, IsOk());
    if (got->empty()) {
      break;
    }
    EXPECT_LE(got->size(), 5u);
    for (const AuditEvent& e : *got) {
      paged.push_back(e.seq);
    }
    page.after_seq = got->back().seq;
  }
  EXPECT_EQ(paged, matching(query("vault-b", "", "", std::nullopt, std::nullopt, 0, 0)));
}

// GET /v1/audit/events: resource_id follows AuditEventResource (model/identity.h), newest
// first, offset paging; combined with the other filters.
TEST_P(StoreConformanceTest, ListAuditByResourceNewestFirstWithOffset) {
  struct Row {
    std::string_view action, vault_id, path, actor;
  };
  const std::vector<Row> rows = {
      {"vault.create", "vault-a", "", "user-1"},
      {"secret.write", "vault-a", "db/pw", "user-1"},
      {"secret.read", "vault-a", "db/pw", "agent-2"},
      {"secret.read", "vault-b", "db/pw", "agent-2"},   // the same path in another vault
      {"secret.list", "vault-a", "db/", "agent-2"},     // about the vault, not the prefix
      {"secret.list", "vault-a", "vault-a", "user-1"},  // a prefix that looks like the id
      {"policy.create", "vault-a", "", "user-1"},       // about a policy: no resource id
      {"vault.read", "vault-b", "", "user-1"},
      {"secret.versions", "vault-a", "vault-a", "user-1"},  // a path equal to a vault id
      {"admin.recovered", "", "users/u/api-keys/k", ""},
  };
  std::vector<AuditEvent> appended;
  for (size_t i = 0; i < rows.size(); ++i) {
    AuditEvent e = MakeEvent(rows[i].action, rows[i].vault_id, rows[i].actor,
                             kT0 + 10 * static_cast<int64_t>(i));
    e.path = std::string(rows[i].path);
    auto stored = store().AppendAudit(e);
    ASSERT_THAT(stored, IsOk());
    appended.push_back(*stored);
  }
  const auto expected = [&](const AuditQuery& q) {
    std::vector<int64_t> seqs;
    for (const AuditEvent& e : appended) {
      if ((q.resource_id.empty() || AuditEventResource(e).id == q.resource_id) &&
          (q.actor_id.empty() || e.actor_id == q.actor_id) &&
          (q.vault_id.empty() || e.vault_id == q.vault_id)) {
        seqs.push_back(e.seq);
      }
    }
    if (q.newest_first) std::reverse(seqs.begin(), seqs.end());
    seqs.erase(seqs.begin(), seqs.begin() + std::min(q.offset, seqs.size()));
    if (q.limit != 0 && seqs.size() > q.limit) seqs.resize(q.limit);
    return seqs;
  };
  // (resource_id, actor_id, vault_id, newest_first, offset, limit)
  const auto query = [](std::string resource_id, std::string actor_id, std::string vault_id,
                        bool newest_first, size_t offset, size_t limit) {
    AuditQuery q;
    q.resource_id = std::move(resource_id);
    q.actor_id = std::move(actor_id);
    q.vault_id = std::move(vault_id);
    q.newest_first = newest_first;
    q.offset = offset;
    q.limit = limit;
    return q;
  };
  const std::vector<AuditQuery> queries = {
      query("db/pw", "", "", false, 0, 100),
      query("db/pw", "", "", true, 0, 100),
      query("db/pw", "agent-2", "", true, 0, 100),
      query("db/pw", "", "vault-b", true, 0, 100),
      query("vault-a", "", "", true, 0, 100),
      query("vault-a", "user-1", "", true, 0, 100),
      query("vault-b", "", "", false, 0, 100),
      query("db/", "", "", false, 0, 100),
      query("users/u/api-keys/k", "", "", false, 0, 100),
      query("", "", "", true, 0, 100),
      query("", "", "", true, 3, 4),
      query("", "", "", false, 3, 4),
      query("", "", "", true, 9, 100),
      query("", "", "", true, 50, 100),
      query("db/pw", "", "", true, 1, 1),
  };
  for (size_t i = 0; i < queries.size(); ++i) {
    auto got = store().ListAudit(queries[i]);
    ASSERT_THAT(got, IsOk()) << "query " << i;
    EXPECT_EQ(Seqs(*got), expected(queries[i])) << "query " << i;
  }
  // The rule itself, spelled out for the rows above.
  auto by_path = store().ListAudit(query("db/pw", "", "", false, 0, 0));
  ASSERT_THAT(by_path, IsOk());
  EXPECT_EQ(Seqs(*by_path),
            (std::vector<int64_t>{appended[1].seq, appended[2].seq, appended[3].seq}));
  auto by_vault = store().ListAudit(query("vault-a", "", "", false, 0, 0));
  ASSERT_THAT(by_vault, IsOk());
  EXPECT_EQ(Seqs(*by_vault), (std::vector<int64_t>{appended[0].seq, appended[4].seq,
                                                   appended[5].seq, appended[8].seq}));
}

TEST_P(StoreConformanceTest, ScanAuditStopsWhenVisitSaysSo) {
  int visited = 0;
  const Status empty = store().ScanAudit([&](const AuditEvent&) {
    ++visited;
    return true;
  });
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(visited, 0) << "an empty chain";

  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(store().AppendAudit(MakeEvent("e" + std::to_string(i))), IsOk());
  }
  std::vector<int64_t> seen;
  const Status scanned = store().ScanAudit([&](const AuditEvent& e) {
    seen.push_back(e.seq);
    return e.seq < 4;
  });
  ASSERT_THAT(scanned, IsOk());
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4}));

  // The stopped scan left nothing behind: what is appended next is seen by reads.
  ASSERT_THAT(store().AppendAudit(MakeEvent("later")), IsOk());
  const std::vector<AuditEvent> events = AllAudit();
  ASSERT_EQ(events.size(), 11u);
  EXPECT_EQ(events.back().action, "later");
  EXPECT_TRUE(ChainIsIntact(events));
}

TEST_P(StoreConformanceTest, ScanAuditSeesOneSnapshotWhileAppendsGoOn) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(store().AppendAudit(MakeEvent("before")), IsOk());
  }
  std::atomic<bool> stop = false;
  std::thread appender([&] {
    while (!stop) {
      (void)store().AppendAudit(MakeEvent("during"));  // only the scans' snapshots are checked
    }
  });
  int64_t violations = 0;
  for (int scan = 0; scan < 5; ++scan) {
    std::vector<AuditEvent> seen;
    const Status scanned = store().ScanAudit([&](const AuditEvent& e) {
      seen.push_back(e);
      return true;
    });
    ASSERT_THAT(scanned, IsOk());
    if (!ChainIsIntact(seen)) {
      ++violations;
    }
  }
  stop = true;
  appender.join();
  EXPECT_EQ(violations, 0) << "every scan is a gapless prefix of the chain";
  EXPECT_TRUE(ChainIsIntact(AllAudit()));
}

TEST_P(StoreConformanceTest, AuditOutlivesItsVaultAndTheChainContinuesAfterReopen) {
  const Vault v = AddVault("v");
  AuditEvent put_event = MakeEvent("secret.write");
  ASSERT_THAT(store().PutSecretVersion(NewVersion(v.id, "s"), FakeSeal("x"), &put_event), IsOk());
  AuditEvent delete_event = MakeEvent("vault.delete", v.id);
  ASSERT_THAT(store().DeleteVault(v.id, &delete_event), IsOk());
  AuditQuery about_v_query;
  about_v_query.vault_id = v.id;
  auto about_v = store().ListAudit(about_v_query);
  ASSERT_THAT(about_v, IsOk());
  EXPECT_EQ(Actions(*about_v), (std::vector<std::string>{"secret.write", "vault.delete"}));

  Reopen();

  auto next = store().AppendAudit(MakeEvent("after.reopen"));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->seq, 3);
  EXPECT_EQ(next->prev_hash, (*about_v)[1].hash);
  EXPECT_TRUE(ChainIsIntact(AllAudit()));
}

// --- rate limits -------------------------------------------------------------------------------

constexpr UnixMicros kMinute = 60 * kMicrosPerSecond;
constexpr UnixMicros kWindow = 15 * kMinute;

TEST_P(StoreConformanceTest, RateLimitSlidesItsWindow) {
  const auto hit = [&](UnixMicros now) { return store().HitRateLimit("ip:1", kWindow, 3, now); };
  for (const UnixMicros at : {kT0, kT0 + kMinute, kT0 + 2 * kMinute}) {
    auto d = hit(at);
    ASSERT_THAT(d, IsOk());
    EXPECT_TRUE(d->allowed);
    EXPECT_EQ(d->retry_after, 0);
  }
  auto refused = hit(kT0 + 3 * kMinute);
  ASSERT_THAT(refused, IsOk());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->retry_after, 12 * kMinute) << "when the kT0 hit leaves the window";
  // Refusals are not recorded, so they do not push the window along; it survives a restart.
  Reopen();
  refused = hit(kT0 + kWindow - 1);
  ASSERT_THAT(refused, IsOk());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->retry_after, 1);

  // At kT0 + window the first hit is out: (now - window, now].
  auto allowed = hit(kT0 + kWindow);
  ASSERT_THAT(allowed, IsOk());
  EXPECT_TRUE(allowed->allowed);
  refused = hit(kT0 + kWindow + 1);
  ASSERT_THAT(refused, IsOk());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->retry_after, kMinute - 1) << "now the kT0 + 1 min hit is the oldest";

  // Long after, the window is empty again.
  for (int i = 0; i < 3; ++i) {
    auto later = hit(kT0 + 10 * kWindow);
    ASSERT_THAT(later, IsOk());
    EXPECT_TRUE(later->allowed) << i;
  }
  auto over = hit(kT0 + 10 * kWindow);
  ASSERT_THAT(over, IsOk());
  EXPECT_FALSE(over->allowed);
}

TEST_P(StoreConformanceTest, RateLimitKeysAreIndependent) {
  for (int i = 0; i < 2; ++i) {
    auto a = store().HitRateLimit("rotate:10.0.0.1", kWindow, 2, kT0);
    ASSERT_THAT(a, IsOk());
    EXPECT_TRUE(a->allowed);
  }
  auto a = store().HitRateLimit("rotate:10.0.0.1", kWindow, 2, kT0);
  ASSERT_THAT(a, IsOk());
  EXPECT_FALSE(a->allowed);
  EXPECT_EQ(a->retry_after, kWindow);
  auto b = store().HitRateLimit("rotate:10.0.0.2", kWindow, 2, kT0);
  ASSERT_THAT(b, IsOk());
  EXPECT_TRUE(b->allowed);
  // Another window or limit on another key name is another limiter.
  auto c = store().HitRateLimit("login:10.0.0.1", kMinute, 1, kT0);
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->allowed);
}

TEST_P(StoreConformanceTest, RateLimitRefusesNonsenseArguments) {
  EXPECT_THAT(store().HitRateLimit("k", 0, 3, kT0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().HitRateLimit("k", -kMinute, 3, kT0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().HitRateLimit("k", kMinute, 0, kT0), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, ConcurrentHitsAllowExactlyTheLimit) {
  constexpr int kThreads = 16;
  std::barrier start(kThreads);
  std::atomic<int> allowed = 0;
  std::atomic<int> refused = 0;
  std::atomic<int> errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      auto d = store().HitRateLimit("agent-rotate:203.0.113.9", kWindow, 3, kT0 + t);
      if (!d.has_value()) {
        ++errors;
      } else if (d->allowed) {
        ++allowed;
      } else {
        ++refused;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), 3);
  EXPECT_EQ(refused.load(), kThreads - 3);
}

}  // namespace
}  // namespace coffer::store_testing
