// HmacSha256Key against RFC 4231 and against OpenSSL's one-shot HMAC (HmacSecret).
#include "crypto/hmac_key.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "crypto/api_token.h"

namespace coffer {
namespace {

TEST(HmacSha256KeyTest, MatchesRfc4231TestCase2) {
  const HmacSha256Key key(SecretBuffer(std::string_view("Jefe")));
  EXPECT_EQ(HexEncode(key.Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256KeyTest, MatchesOneShotHmacForEveryKeyAndMessageLength) {
  for (size_t key_len : {0u, 1u, 31u, 32u, 63u, 64u, 65u, 200u}) {
    std::string key_bytes(key_len, '\0');
    for (size_t i = 0; i < key_len; ++i) key_bytes[i] = static_cast<char>(i * 7 + 3);
    const SecretBuffer key{std::string_view(key_bytes)};
    const HmacSha256Key precomputed(key);
    for (size_t msg_len : {0u, 1u, 43u, 55u, 56u, 64u, 119u, 1000u}) {
      const std::string msg(msg_len, static_cast<char>('a' + msg_len % 26));
      EXPECT_EQ(precomputed.Mac(msg), HmacSecret(key, msg))
          << "key length " << key_len << ", message length " << msg_len;
    }
  }
}

TEST(HmacSha256KeyTest, IsSafeToShareBetweenThreads) {
  const SecretBuffer key{std::string_view("0123456789abcdef0123456789abcdef")};
  const HmacSha256Key precomputed(key);
  const std::vector<uint8_t> expected = HmacSecret(key, "the same message");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (precomputed.Mac("the same message") != expected) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace coffer
