// Tests for the audit chain's canonical encoding: every field is hashed, and `count` only when
// set, so events written before it existed keep the hashes they were written with. And how an
// event is shown in the seeds' terms: its id from its hash, what it is about.
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

TEST(AuditChainHashTest, DetailsArePartOfTheHashWhenSet) {
  AuditEvent a = SampleEvent();
  a.action = "binding.use";
  AuditEvent b = a;
  a.details = R"({"binding":"openai","upstream_status":200})";
  b.details = R"({"binding":"openai","upstream_status":500})";
  const Sha256Digest prev{};
  EXPECT_NE(AuditChainHash(prev, a), AuditChainHash(prev, b));
  b.details.clear();
  EXPECT_NE(AuditChainHash(prev, a), AuditChainHash(prev, b));
  // Not the same encoding as a count, whatever the count.
  b.count = 7;
  EXPECT_NE(AuditChainHash(prev, a), AuditChainHash(prev, b));
}

TEST(AuditEventIdTest, IsTheHashsFirstSixteenBytesAsAVersion8Uuid) {
  Sha256Digest hash{};
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(0xf0 + i % 16);
  // f0f1f2f3-f4f5-f6f7-f8f9-… with the version nibble (byte 6) set to 8 and the variant bits
  // (byte 8) to 10.
  EXPECT_EQ(AuditEventId(hash), "f0f1f2f3-f4f5-86f7-b8f9-fafbfcfdfeff");
  hash.fill(0x00);
  hash[0] = 1;
  EXPECT_EQ(AuditEventId(hash), "01000000-0000-8000-8000-000000000000");
  EXPECT_EQ(AuditEventId(Sha256Digest{}), "") << "the link before the first event is no event";
  // Different events, different ids.
  AuditEvent a = SampleEvent();
  AuditEvent b = SampleEvent();
  b.seq = 4;
  EXPECT_NE(AuditEventId(AuditChainHash({}, a)), AuditEventId(AuditChainHash({}, b)));
}

TEST(AuditEventResourceTest, SecretsByPathVaultsByIdOthersByKindAlone) {
  struct Case {
    std::string_view action, vault_id, path, type, id;
  };
  const Case cases[] = {
      {"secret.read", "v1", "db/pw", "secret", "db/pw"},
      {"secret.write", "v1", "db/pw", "secret", "db/pw"},
      {"secret.disable", "v1", "db/pw", "secret", "db/pw"},
      {"secret.read", "", "", "secret", ""},  // refused before its target was known
      {"secret.list", "v1", "db/", "vault", "v1"},
      {"vault.create", "v1", "", "vault", "v1"},
      {"vault.list", "", "", "vault", ""},
      {"policy.create", "v1", "", "policy", ""},
      {"agent.rotate_key", "", "", "agent", ""},
      {"auth.failed", "", "", "auth", ""},
      {"audit.read", "v1", "", "audit", ""},
      {"admin.recovered", "", "users/u/api-keys/k", "admin", ""},
  };
  for (const Case& c : cases) {
    AuditEvent e = SampleEvent();
    e.action = std::string(c.action);
    e.vault_id = std::string(c.vault_id);
    e.path = std::string(c.path);
    const AuditResource r = AuditEventResource(e);
    EXPECT_EQ(r.type, c.type) << c.action;
    EXPECT_EQ(r.id, c.id) << c.action << " " << c.path;
  }
}

}  // namespace
}  // namespace coffer
