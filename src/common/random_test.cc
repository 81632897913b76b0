// Tests for the random sources: the deterministic stream is reproducible and seed-dependent,
// and SystemRandom fills buffers of every size.
#include "common/random.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace coffer {
namespace {

std::vector<uint8_t> Draw(Random& random, size_t n) {
  std::vector<uint8_t> out(n);
  EXPECT_TRUE(random.Fill(out).ok());
  return out;
}

TEST(DeterministicRandomTest, SameSeedSameStream) {
  auto a = NewDeterministicRandom(42);
  auto b = NewDeterministicRandom(42);
  EXPECT_EQ(Draw(*a, 1000), Draw(*b, 1000));
}

TEST(DeterministicRandomTest, DifferentSeedsDiffer) {
  auto a = NewDeterministicRandom(1);
  auto b = NewDeterministicRandom(2);
  EXPECT_NE(Draw(*a, 64), Draw(*b, 64));
}

TEST(DeterministicRandomTest, ConsecutiveReadsDiffer) {
  auto a = NewDeterministicRandom(7);
  const auto first = Draw(*a, 32);
  const auto second = Draw(*a, 32);
  EXPECT_NE(first, second);
}

TEST(DeterministicRandomTest, SafeForConcurrentUse) {
  auto random = NewDeterministicRandom(9);
  std::vector<std::thread> threads;
  std::vector<std::vector<uint8_t>> results(4);
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        std::vector<uint8_t> out(8);
        ASSERT_TRUE(random->Fill(out).ok());
        results[t].insert(results[t].end(), out.begin(), out.end());
      }
    });
  }
  for (auto& th : threads) th.join();
  // Every 8-byte word handed out is distinct: no two threads got the same state.
  std::set<std::vector<uint8_t>> words;
  for (const auto& r : results) {
    for (size_t i = 0; i < r.size(); i += 8) words.emplace(r.begin() + i, r.begin() + i + 8);
  }
  EXPECT_EQ(words.size(), 4000u);
}

TEST(SystemRandomTest, FillsEverySize) {
  SystemRandom random;
  for (size_t n : {0, 1, 7, 8, 9, 32, 1000}) {
    std::vector<uint8_t> out(n);
    EXPECT_TRUE(random.Fill(out).ok());
  }
  const auto a = Draw(random, 32);
  const auto b = Draw(random, 32);
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::vector<uint8_t>(32, 0));
}

}  // namespace
}  // namespace coffer
