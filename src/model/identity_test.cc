// Tests for the audit chain's canonical encoding: every field is hashed, and `count` only when
// set, so events written before it existed keep the hashes they were written with.
#include "model/identity.h"

#include <gtest/gtest.h>

#include "common/sha256.h"

namespace coffer {
namespace {

AuditEvent SampleEvent() {
  AuditEvent e;
  e.seq = 3;
  e.at = 1'767'225'600'000'000;
  e.request_id = "req-1";
  e.actor_kind = "anonymous";
  e.action = "auth.failed";
  e.client_ip = "203.0.113.1";
  e.outcome = "denied";
  e.status = "UNAUTHENTICATED";
  return e;
}

TEST(AuditChainHashTest, AnEventWithoutCountHashesAsBeforeTheFieldExisted) {
  // The encoding of an event without `count`, spelled out as it was before the field existed.
  const AuditEvent e = SampleEvent();
  std::vector<uint8_t> buf;
  auto put_u64 = [&](uint64_t v) {
    for (int i = 7; i >= 0; --i) buf.push_back(static_cast<uint8_t>(v >> (i * 8)));
  };
  auto put_string = [&](std::string_view s) {
    put_u64(s.size());
    buf.insert(buf.end(), s.begin(), s.end());
  };
  put_string("coffer/audit/v1");
  put_u64(static_cast<uint64_t>(e.seq));
  put_u64(static_cast<uint64_t>(e.at));
  for (const std::string* s :
       {&e.request_id, &e.actor_kind, &e.actor_id, &e.action, &e.vault_id, &e.path}) {
    put_string(*s);
  }
  put_u64(static_cast<uint64_t>(e.version));
  for (const std::string* s : {&e.client_ip, &e.outcome, &e.status}) put_string(*s);
  put_u64(static_cast<uint64_t>(e.http_status));
  const Sha256Digest prev{};
  EXPECT_EQ(AuditChainHash(prev, e), Sha256({prev, buf}));
}

TEST(AuditChainHashTest, CountIsPartOfTheHashWhenSet) {
  AuditEvent a = SampleEvent();
  a.action = "auth.failed.summary";
  AuditEvent b = a;
  a.count = 5;
  b.count = 6;
  const Sha256Digest prev{};
  EXPECT_NE(AuditChainHash(prev, a), AuditChainHash(prev, b));
  b.count = 0;
  EXPECT_NE(AuditChainHash(prev, a), AuditChainHash(prev, b));
}

}  // namespace
}  // namespace coffer
