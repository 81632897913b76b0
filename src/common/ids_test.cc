// Tests for UUIDv4 and UUIDv7 generation and validation.
#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

#include "common/random.h"

namespace coffer {
namespace {

TEST(IdsTest, NewUuidIsCanonicalV4) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << "version nibble: " << id;
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos)
        << "variant nibble: " << id;
    for (const char c : id) EXPECT_FALSE(c >= 'A' && c <= 'F') << "lower case: " << id;
  }
}

TEST(IdsTest, NewUuidIsUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewUuid());
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(IdsTest, NewUuidDrawsFromTheGivenSource) {
  DeterministicRandom a(7);
  DeterministicRandom b(7);
  DeterministicRandom c(8);
  const std::string first = NewUuid(a);
  EXPECT_TRUE(IsUuid(first));
  EXPECT_EQ(NewUuid(b), first) << "the same seed, the same id";
  EXPECT_NE(NewUuid(a), first) << "the next draw differs";
  EXPECT_NE(NewUuid(c), first);
}

TEST(IdsTest, NewUuidV7CarriesItsMillisecondAndSortsByIt) {
  DeterministicRandom random(3);
  // 1796438400123 ms (2026-12-05T02:40:00.123Z) = 0x01a2 4412 9c7b.
  const int64_t micros = 1'796'438'400'123'456;
  const std::string id = NewUuidV7(random, micros);
  ASSERT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id.substr(0, 13), "01a24412-9c7b") << id;
  EXPECT_EQ(id[14], '7') << "version nibble: " << id;
  EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;
  // Later milliseconds sort later, as text too; within one millisecond the rest is random.
  std::string previous = NewUuidV7(random, micros);
  for (int64_t ms = 1; ms < 2000; ms += 7) {
    const std::string next = NewUuidV7(random, micros + ms * 1000);
    EXPECT_LT(previous, next);
    previous = next;
  }
  std::set<std::string> same_ms;
  for (int i = 0; i < 1000; ++i) same_ms.insert(NewUuidV7(random, micros));
  EXPECT_EQ(same_ms.size(), 1000u);
}

TEST(IdsDeathTest, NoIdWithoutRandomness) {
  FailingRandom broken;
  EXPECT_DEATH((void)NewUuid(broken), "");
  EXPECT_DEATH((void)NewUuidV7(broken, 0), "");
}

TEST(IdsTest, IsUuid) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(IsUuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-4266141740000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456_426614174000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(IsUuid("{123e4567-e89b-12d3-a456-426614174000}"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a4560426614174000-"));
  EXPECT_FALSE(IsUuid("../../etc/passwd-0000-0000-0000000000"));
}

}  // namespace
}  // namespace coffer
