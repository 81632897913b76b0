// Store conformance tests for the gateway's rows: agents' bindings (names unique per agent,
// found by id or name, deleted with a revoked agent, published on every change), executions
// (newest first, written with their audit event), the use counters (all or nothing, fixed
// windows, never past a limit under concurrency) and audit events' details.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

constexpr UnixMicros kUseWindow = 60'000'000;

Binding MakeBinding(std::string_view agent_id, std::string_view name) {
  Binding b;
  b.id = NewUuid();
  b.agent_id = agent_id;
  b.name = name;
  b.config_json = R"({"base_url":"https://api.example.com/v1"})";
  b.guardrails_json = R"({"max_requests_per_minute":60})";
  b.vault_id = "vault-1";
  b.path = "api-keys/" + std::string(name);
  b.created_by = "owner-1";
  b.created_at = kT0;
  b.updated_at = kT0;
  return b;
}

ExecutionRecord MakeExecution(std::string_view agent_id, const Binding& b, UnixMicros at) {
  ExecutionRecord e;
  e.id = NewUuid();
  e.agent_id = agent_id;
  e.binding_id = b.id;
  e.binding_name = b.name;
  e.mode = "proxy";
  e.status = "success";
  e.method = "POST";
  e.path = "/chat/completions";
  e.upstream_status = 200;
  e.secret_version = 3;
  e.duration_ms = 120;
  e.request_bytes = 512;
  e.response_bytes = 2048;
  e.redactions = 1;
  e.created_at = at;
  return e;
}

UseCounter Counter(std::string key, UnixMicros start, int64_t limit) {
  return UseCounter{std::move(key), start, start + kUseWindow, limit, 1};
}

void ExpectSameBinding(const Binding& got, const Binding& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.agent_id, want.agent_id);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.binding_type, want.binding_type);
  EXPECT_EQ(got.config_json, want.config_json);
  EXPECT_EQ(got.guardrails_json, want.guardrails_json);
  EXPECT_EQ(got.vault_id, want.vault_id);
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.is_active, want.is_active);
  EXPECT_EQ(got.created_by, want.created_by);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
}

std::vector<std::string> Names(const std::vector<Binding>& bindings) {
  std::vector<std::string> out;
  for (const Binding& b : bindings) out.push_back(b.name);
  return out;
}

TEST_P(StoreConformanceTest, BindingsAreStoredFoundByIdOrNameUpdatedAndDeleted) {
  Store& s = store();
  const Agent agent = AddAgent("worker");
  const Agent other = AddAgent("other");
  Binding openai = MakeBinding(agent.id, "openai");
  Binding github = MakeBinding(agent.id, "github");
  github.is_active = false;
  ASSERT_THAT(s.InsertBinding(openai, nullptr), IsOk());
  ASSERT_THAT(s.InsertBinding(github, nullptr), IsOk());
  // Names are unique per agent only.
  ASSERT_THAT(s.InsertBinding(MakeBinding(other.id, "openai"), nullptr), IsOk());
  EXPECT_THAT(s.InsertBinding(MakeBinding(agent.id, "openai"), nullptr),
              StatusIs(StatusCode::kAlreadyExists));
  Binding same_id = MakeBinding(agent.id, "third");
  same_id.id = openai.id;
  EXPECT_THAT(s.InsertBinding(same_id, nullptr), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(s.InsertBinding(MakeBinding(NewUuid(), "x"), nullptr),
              StatusIs(StatusCode::kNotFound));

  auto got = s.GetBinding(openai.id);
  ASSERT_THAT(got, IsOk());
  ExpectSameBinding(*got, openai);
  EXPECT_THAT(s.GetBinding(NewUuid()), StatusIs(StatusCode::kNotFound));

  auto by_name = s.FindBinding(agent.id, "github");
  ASSERT_THAT(by_name, IsOk());
  ExpectSameBinding(*by_name, github);
  auto by_id = s.FindBinding(agent.id, github.id);
  ASSERT_THAT(by_id, IsOk());
  EXPECT_EQ(by_id->id, github.id);
  // Only among the agent's own.
  EXPECT_THAT(s.FindBinding(other.id, github.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s.FindBinding(other.id, "github"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s.FindBinding(agent.id, "nope"), StatusIs(StatusCode::kNotFound));

  auto listed = s.ListBindings(agent.id);
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(Names(*listed), (std::vector<std::string>{"github", "openai"}));

  // An update replaces everything but the id, the agent and the creation.
  Binding changed = openai;
  changed.agent_id = other.id;  // ignored
  changed.name = "openai-prod";
  changed.config_json = R"({"base_url":"https://api.openai.com/v1"})";
  changed.guardrails_json = "{}";
  changed.vault_id = "vault-2";
  changed.path = "other/path";
  changed.is_active = false;
  changed.created_by = "someone-else";  // ignored
  changed.created_at = kT0 + 5;         // ignored
  changed.updated_at = kT0 + 10;
  ASSERT_THAT(s.UpdateBinding(changed, nullptr), IsOk());
  got = s.GetBinding(openai.id);
  ASSERT_THAT(got, IsOk());
  Binding want = changed;
  want.agent_id = agent.id;
  want.created_by = openai.created_by;
  want.created_at = openai.created_at;
  ExpectSameBinding(*got, want);
  changed.name = "github";
  EXPECT_THAT(s.UpdateBinding(changed, nullptr), StatusIs(StatusCode::kAlreadyExists));
  Binding missing = MakeBinding(agent.id, "missing");
  EXPECT_THAT(s.UpdateBinding(missing, nullptr), StatusIs(StatusCode::kNotFound));

  ASSERT_THAT(s.DeleteBinding(github.id, nullptr), IsOk());
  EXPECT_THAT(s.DeleteBinding(github.id, nullptr), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s.GetBinding(github.id), StatusIs(StatusCode::kNotFound));
  listed = s.ListBindings(agent.id);
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(Names(*listed), (std::vector<std::string>{"openai-prod"}));
  // The name is free again.
  EXPECT_THAT(s.InsertBinding(MakeBinding(agent.id, "github"), nullptr), IsOk());

  Reopen();
  got = store().GetBinding(openai.id);
  ASSERT_THAT(got, IsOk());
  ExpectSameBinding(*got, want);
}

TEST_P(StoreConformanceTest, BindingWritesAreAuditedAndPublished) {
  Store& s = store();
  const Agent agent = AddAgent("worker");
  const size_t before = AllAudit().size();
  std::vector<StoreChange> seen;
  auto subscription = s.Changes().Watch([&](const StoreChange& c) { seen.push_back(c); });
  Binding b = MakeBinding(agent.id, "openai");
  AuditEvent event = MakeEvent("binding.create");
  ASSERT_THAT(s.InsertBinding(b, &event), IsOk());
  b.is_active = false;
  event.action = "binding.update";
  ASSERT_THAT(s.UpdateBinding(b, &event), IsOk());
  event.action = "binding.delete";
  ASSERT_THAT(s.DeleteBinding(b.id, &event), IsOk());
  EXPECT_THAT(s.DeleteBinding(b.id, &event), StatusIs(StatusCode::kNotFound));
  const StoreChange change = StoreChange::Binding(b.id, agent.id);
  EXPECT_EQ(seen, (std::vector<StoreChange>{change, change, change}));
  const std::vector<AuditEvent> audit = AllAudit();
  ASSERT_EQ(audit.size(), before + 3);
  EXPECT_EQ(audit[before].action, "binding.create");
  EXPECT_EQ(audit[before + 2].action, "binding.delete");
  EXPECT_TRUE(ChainIsIntact(audit));
}

TEST_P(StoreConformanceTest, RevokingAnAgentDeletesItsBindings) {
  Store& s = store();
  const Agent agent = AddAgent("worker");
  const Agent other = AddAgent("other");
  const Binding b1 = MakeBinding(agent.id, "a");
  const Binding b2 = MakeBinding(agent.id, "b");
  const Binding kept = MakeBinding(other.id, "a");
  for (const Binding* b : {&b1, &b2, &kept}) ASSERT_THAT(s.InsertBinding(*b, nullptr), IsOk());
  ASSERT_THAT(s.RevokeAgent(agent.id, kT0 + 1, nullptr), IsOk());
  auto listed = s.ListBindings(agent.id);
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
  EXPECT_THAT(s.GetBinding(b1.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s.FindBinding(agent.id, "b"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(s.GetBinding(kept.id), IsOk());
}

TEST_P(StoreConformanceTest, ExecutionsListNewestFirstAndAreWrittenWithTheirAuditEvent) {
  Store& s = store();
  const Agent agent = AddAgent("worker");
  const Agent other = AddAgent("other");
  const Binding b = MakeBinding(agent.id, "openai");
  ASSERT_THAT(s.InsertBinding(b, nullptr), IsOk());
  const size_t before = AllAudit().size();
  std::vector<ExecutionRecord> written;
  for (int i = 0; i < 5; ++i) {
    // Two share a time: the later insert counts as newer.
    written.push_back(MakeExecution(agent.id, b, kT0 + (i < 2 ? 0 : i)));
    AuditEvent event = MakeEvent("binding.use", "vault-1", agent.id);
    event.details = R"({"binding_id":")" + b.id + R"(","method":"POST"})";
    ASSERT_THAT(s.InsertExecution(written.back(), &event), IsOk());
  }
  ASSERT_THAT(s.InsertExecution(MakeExecution(other.id, b, kT0 + 100), nullptr), IsOk());

  auto all = s.ListExecutions(agent.id, 0, 0);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ((*all)[i].id, written[4 - i].id) << i;
  const ExecutionRecord& e = (*all)[4];
  const ExecutionRecord& w = written[0];
  EXPECT_EQ(e.agent_id, w.agent_id);
  EXPECT_EQ(e.binding_id, w.binding_id);
  EXPECT_EQ(e.binding_name, w.binding_name);
  EXPECT_EQ(e.intent_type, w.intent_type);
  EXPECT_EQ(e.mode, w.mode);
  EXPECT_EQ(e.status, w.status);
  EXPECT_EQ(e.method, w.method);
  EXPECT_EQ(e.path, w.path);
  EXPECT_EQ(e.upstream_status, w.upstream_status);
  EXPECT_EQ(e.secret_version, w.secret_version);
  EXPECT_EQ(e.duration_ms, w.duration_ms);
  EXPECT_EQ(e.request_bytes, w.request_bytes);
  EXPECT_EQ(e.response_bytes, w.response_bytes);
  EXPECT_EQ(e.redactions, w.redactions);
  EXPECT_EQ(e.error_message, w.error_message);
  EXPECT_EQ(e.created_at, w.created_at);

  auto page = s.ListExecutions(agent.id, 2, 1);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, written[3].id);
  EXPECT_EQ((*page)[1].id, written[2].id);
  page = s.ListExecutions(agent.id, 10, 4);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, written[0].id);

  std::vector<AuditEvent> audit = AllAudit();
  ASSERT_EQ(audit.size(), before + 5);
  EXPECT_EQ(audit.back().action, "binding.use");
  EXPECT_EQ(audit.back().details, R"({"binding_id":")" + b.id + R"(","method":"POST"})");

  // A record that cannot be written leaves no event: both are kept or neither.
  AuditEvent event = MakeEvent("binding.use");
  EXPECT_THAT(s.InsertExecution(written[0], &event), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(AllAudit().size(), before + 5);
}

TEST_P(StoreConformanceTest, ExecutionsWrittenWithoutWaitingAreKeptWithTheirEventsInOrder) {
  Store& s = store();
  const Agent agent = AddAgent("worker");
  const Binding b = MakeBinding(agent.id, "openai");
  ASSERT_THAT(s.InsertBinding(b, nullptr), IsOk());
  const size_t before = AllAudit().size();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> outcomes;
  const auto done = [&](Status st) {
    std::lock_guard lock(mu);
    outcomes.push_back(std::move(st));
    cv.notify_all();
  };
  std::vector<ExecutionRecord> written;
  for (int i = 0; i < 20; ++i) {
    written.push_back(MakeExecution(agent.id, b, kT0 + i));
    AuditEvent event = MakeEvent("binding.use", "vault-1", agent.id);
    event.details = "{\"n\":" + std::to_string(i) + "}";
    s.InsertExecutionAsync(std::make_shared<const ExecutionRecord>(written.back()),
                           std::make_shared<const AuditEvent>(event), done);
  }
  // The same id again: refused, and its event with it.
  s.InsertExecutionAsync(std::make_shared<const ExecutionRecord>(written[3]),
                         std::make_shared<const AuditEvent>(MakeEvent("binding.use")), done);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return outcomes.size() == 21; }));
  }
  EXPECT_EQ(
      std::count_if(outcomes.begin(), outcomes.end(), [](const Status& st) { return st.ok(); }),
      20);
  EXPECT_EQ(std::count_if(outcomes.begin(), outcomes.end(),
                          [](const Status& st) { return st.code() == StatusCode::kAlreadyExists; }),
            1);
  auto all = s.ListExecutions(agent.id, 0, 0);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ((*all)[i].id, written[19 - i].id) << i;
  const std::vector<AuditEvent> audit = AllAudit();
  ASSERT_EQ(audit.size(), before + 20);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(audit[before + i].details, "{\"n\":" + std::to_string(i) + "}") << i;
  }
}

TEST_P(StoreConformanceTest, CountUseCountsAllOrNothing) {
  Store& s = store();
  const UnixMicros w = kT0;
  // The binding allows 2 a minute, the agent 3.
  std::vector<UseCounter> counters = {Counter("binding:b1", w, 2), Counter("agent:a1", w, 3)};
  for (int i = 0; i < 2; ++i) {
    auto d = s.CountUse(counters);
    ASSERT_THAT(d, IsOk());
    EXPECT_TRUE(d->allowed) << i;
  }
  auto refused = s.CountUse(counters);
  ASSERT_THAT(refused, IsOk());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->refused_index, 0u);
  EXPECT_EQ(refused->retry_at, w + kUseWindow);
  // The refusal counted nothing for the agent: it has one use left, which another binding takes.
  std::vector<UseCounter> second = {Counter("binding:b2", w, 10), Counter("agent:a1", w, 3)};
  auto d = s.CountUse(second);
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->allowed);
  d = s.CountUse(second);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->refused_index, 1u);
  EXPECT_EQ(d->retry_at, w + kUseWindow);
  // b2's refused use was not counted either (it has 1): under a lower limit and a fresh agent
  // window, one more fits.
  std::vector<UseCounter> next_minute = {Counter("binding:b2", w, 2),
                                         Counter("agent:a1", w + kUseWindow, 3)};
  d = s.CountUse(next_minute);
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->allowed);
  d = s.CountUse(next_minute);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);  // b2 now has 2 in its window
  EXPECT_EQ(d->refused_index, 0u);

  // A limit of 0 refuses at once; bad windows and limits are refused.
  const std::vector<UseCounter> none = {Counter("binding:zero", w, 0)};
  d = s.CountUse(none);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);
  const std::vector<UseCounter> bad = {UseCounter{"k", w, w, 1, 1}};
  EXPECT_THAT(s.CountUse(bad), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(s.CountUse({}), IsOk());
}

TEST_P(StoreConformanceTest, CountUseStartsAfreshInEachWindow) {
  Store& s = store();
  for (int window = 0; window < 70; ++window) {  // past a sweep of ended windows
    const UnixMicros start = kT0 + window * kUseWindow;
    const std::vector<UseCounter> counters = {Counter("binding:b1", start, 1)};
    auto d = s.CountUse(counters);
    ASSERT_THAT(d, IsOk());
    EXPECT_TRUE(d->allowed) << window;
    d = s.CountUse(counters);
    ASSERT_THAT(d, IsOk());
    EXPECT_FALSE(d->allowed) << window;
    EXPECT_EQ(d->retry_at, start + kUseWindow);
  }
  // A daily window alongside keeps counting across the minutes.
  const UnixMicros day = 24 * 60 * kUseWindow;
  int allowed = 0;
  for (int minute = 0; minute < 5; ++minute) {
    const std::vector<UseCounter> counters = {Counter("binding:b2", kT0 + minute * kUseWindow, 100),
                                              UseCounter{"binding-day:b2", kT0, kT0 + day, 3, 1}};
    auto d = s.CountUse(counters);
    ASSERT_THAT(d, IsOk());
    allowed += d->allowed ? 1 : 0;
    if (!d->allowed) {
      EXPECT_EQ(d->refused_index, 1u);
      EXPECT_EQ(d->retry_at, kT0 + day);
    }
  }
  EXPECT_EQ(allowed, 3);
}

TEST_P(StoreConformanceTest, CountUseTakesABlockOnlyWhenItAllFits) {
  Store& s = store();
  const UnixMicros w = kT0;
  std::vector<UseCounter> block = {Counter("binding:lease", w, 10), Counter("agent:lease", w, 8)};
  block[0].amount = 4;
  block[1].amount = 4;
  auto d = s.CountUse(block);
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->allowed);  // 4 of 10, 4 of 8
  d = s.CountUse(block);
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->allowed);  // 8 of 10, 8 of 8
  block[1].amount = 1;
  d = s.CountUse(block);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);  // 4 more would pass 10; nothing counted
  EXPECT_EQ(d->refused_index, 0u);
  const std::vector<UseCounter> rest = {UseCounter{"binding:lease", w, w + kUseWindow, 10, 2}};
  d = s.CountUse(rest);
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->allowed);  // exactly 10
  const std::vector<UseCounter> one = {Counter("binding:lease", w, 10)};
  d = s.CountUse(one);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);
  const std::vector<UseCounter> zero = {UseCounter{"k", w, w + kUseWindow, 1, 0}};
  EXPECT_THAT(s.CountUse(zero), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, ConcurrentCountUseNeverPassesALimit) {
  Store& s = store();
  constexpr int kThreads = 8;
  constexpr int kTries = 25;
  constexpr int64_t kLimit = 37;
  std::barrier start(kThreads);
  std::atomic<int> allowed = 0;
  std::atomic<int> failed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kTries; ++i) {
        // Two counters in both orders, shared by every thread: all or nothing under contention.
        std::vector<UseCounter> counters = {Counter("agent:a1", kT0, kLimit),
                                            Counter("binding:b1", kT0, 1000)};
        if ((t + i) % 2 == 1) std::swap(counters[0], counters[1]);
        auto d = s.CountUse(counters);
        if (!d.has_value()) {
          ++failed;
        } else if (d->allowed) {
          ++allowed;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(allowed.load(), kLimit);
  // The binding's counter moved with the agent's, never alone.
  const std::vector<UseCounter> probe = {Counter("binding:b1", kT0, kLimit)};
  auto d = s.CountUse(probe);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->allowed);
  const std::vector<UseCounter> probe_more = {Counter("binding:b1", kT0, kLimit + 1)};
  d = s.CountUse(probe_more);
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->allowed);
}

TEST_P(StoreConformanceTest, AuditDetailsAreHashedAndReadBack) {
  Store& s = store();
  AuditEvent plain = MakeEvent("secret.read", "vault-1");
  AuditEvent use = MakeEvent("binding.use", "vault-1");
  use.details = R"({"binding":"openai","upstream_status":200,"mode":"proxy"})";
  auto a = s.AppendAudit(plain);
  ASSERT_THAT(a, IsOk());
  auto b = s.AppendAudit(use);
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->details, use.details);
  EXPECT_EQ(b->hash, AuditChainHash(b->prev_hash, *b));
  Reopen();
  const std::vector<AuditEvent> audit = AllAudit();
  ASSERT_GE(audit.size(), 2u);
  EXPECT_TRUE(ChainIsIntact(audit));
  EXPECT_EQ(audit[audit.size() - 2].details, "");
  EXPECT_EQ(audit[audit.size() - 2].hash, a->hash);
  EXPECT_EQ(audit.back().details, use.details);
  EXPECT_EQ(audit.back().hash, b->hash);
  AuditEvent without = audit.back();
  without.details.clear();
  EXPECT_NE(AuditChainHash(without.prev_hash, without), audit.back().hash);
  AuditQuery query;
  query.action = "binding.use";
  auto listed = store().ListAudit(query);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].details, use.details);
}

}  // namespace
}  // namespace coffer::store_testing
