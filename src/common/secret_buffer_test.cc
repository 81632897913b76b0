// Tests for SecretBuffer (ownership, moves, wiping, redacted printing) and constant-time
// comparison.
#include "common/secret_buffer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <type_traits>

#include "common/bytes.h"

namespace coffer {
namespace {

TEST(SecretBufferTest, HoldsBytes) {
  const SecretBuffer b(std::string_view("hunter2"));
  EXPECT_EQ(b.size(), 7u);
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(b.view(), "hunter2");
  EXPECT_EQ(b.span().size(), 7u);
  const uint8_t raw[3] = {0, 1, 0xff};
  const SecretBuffer c(raw, 3);
  EXPECT_EQ(c.data()[2], 0xff);
  EXPECT_TRUE(SecretBuffer().empty());
  const SecretBuffer zeros(4);
  EXPECT_EQ(zeros.view(), std::string_view("\0\0\0\0", 4));
}

TEST(SecretBufferTest, IsMoveOnly) {
  static_assert(!std::is_copy_constructible_v<SecretBuffer>);
  static_assert(!std::is_copy_assignable_v<SecretBuffer>);
  static_assert(std::is_nothrow_move_constructible_v<SecretBuffer>);
  static_assert(std::is_nothrow_move_assignable_v<SecretBuffer>);
}

TEST(SecretBufferTest, MoveLeavesSourceEmpty) {
  SecretBuffer a(std::string_view("secret"));
  SecretBuffer b(std::move(a));
  EXPECT_EQ(b.view(), "secret");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the documented moved-from state
  SecretBuffer c(std::string_view("other"));
  c = std::move(b);
  EXPECT_EQ(c.view(), "secret");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBufferTest, SelfMoveAssignKeepsValue) {
  SecretBuffer a(std::string_view("secret"));
  SecretBuffer& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.view(), "secret");
}

TEST(SecretBufferTest, CloneIsIndependent) {
  SecretBuffer a(std::string_view("secret"));
  SecretBuffer b = a.Clone();
  EXPECT_EQ(b.view(), "secret");
  EXPECT_NE(a.data(), b.data());
  a.Wipe();
  EXPECT_EQ(b.view(), "secret");
}

TEST(SecretBufferTest, WipeZeroesTheMemoryItHeld) {
  SecretBuffer a(std::string_view("top-secret-value"));
  const uint8_t* p = a.data();
  a.Wipe();
  EXPECT_TRUE(a.empty());
  // clear() keeps the allocation, so the bytes are still ours to inspect: they must be zero.
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(p[i], 0) << i;
}

TEST(SecretBufferTest, TruncateWipesTheTail) {
  SecretBuffer a(std::string_view("keep-drop"));
  const uint8_t* p = a.data();
  a.Truncate(4);
  EXPECT_EQ(a.view(), "keep");
  EXPECT_EQ(a.data(), p);  // no reallocation
  for (size_t i = 4; i < 9; ++i) EXPECT_EQ(p[i], 0) << i;
  a.Truncate(100);  // larger than size: no-op
  EXPECT_EQ(a.view(), "keep");
  a.Truncate(0);
  EXPECT_TRUE(a.empty());
}

TEST(SecretBufferTest, PrintsRedacted) {
  const SecretBuffer a(std::string_view("hunter2"));
  std::ostringstream os;
  os << a;
  EXPECT_EQ(os.str(), "[redacted]");
  EXPECT_EQ(::testing::PrintToString(a).find("hunter2"), std::string::npos);
}

TEST(SecretBufferTest, Equals) {
  const SecretBuffer a(std::string_view("abc"));
  EXPECT_TRUE(a.Equals(AsBytes("abc")));
  EXPECT_FALSE(a.Equals(AsBytes("abd")));
  EXPECT_FALSE(a.Equals(AsBytes("ab")));
  EXPECT_FALSE(a.Equals(AsBytes("abcd")));
  EXPECT_TRUE(SecretBuffer().Equals({}));
}

TEST(ConstantTimeEqualsTest, Bytes) {
  EXPECT_TRUE(ConstantTimeEquals(AsBytes("same"), AsBytes("same")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("same"), AsBytes("sane")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("same"), AsBytes("same!")));
  EXPECT_TRUE(ConstantTimeEquals(AsBytes(""), AsBytes("")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes(""), AsBytes("x")));
  // Differences in the first and the last byte are both found.
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("xbcdef"), AsBytes("abcdef")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("abcdex"), AsBytes("abcdef")));
}

TEST(ConstantTimeEqualsTest, Strings) {
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("tok"), std::string_view("tok")));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("tok"), std::string_view("toK")));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("tok"), std::string_view("to")));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view(), std::string_view("")));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(SecureWipeTest, String) {
  std::string s = "password";
  const char* p = s.data();
  SecureWipe(s);
  EXPECT_TRUE(s.empty());
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(p[i], '\0') << i;
  SecureWipe(nullptr, 0);  // harmless
}

// The process's locked memory, in kB (VmLck of /proc/self/status).
long LockedKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmLck:")) return std::stol(line.substr(6));
  }
  return -1;
}

// The sanitizers' runtimes (ASan, TSan) intercept mlock: it answers success and locks nothing
// (their shadow memory makes real locks impractical), so the kernel's count of locked memory is
// checked only without them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kKernelCountsLocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kKernelCountsLocks = false;
#else
constexpr bool kKernelCountsLocks = true;
#endif
#else
constexpr bool kKernelCountsLocks = true;
#endif

TEST(SecretBufferTest, LockKeepsPagesLockedWhileAnyBufferOnThemIsAndWipeLetsGo) {
  const long before = LockedKb();
  SecretBuffer a(32);
  SecretBuffer b(32);
  if (!a.Lock()) {
    GTEST_SKIP() << "mlock refused here (RLIMIT_MEMLOCK)";
  }
  EXPECT_TRUE(a.Lock());  // idempotent
  ASSERT_TRUE(b.Lock());
  if (kKernelCountsLocks) {
    EXPECT_GT(LockedKb(), before);
  }
  // A move carries the lock with the bytes.
  SecretBuffer moved = std::move(a);
  EXPECT_TRUE(moved.locked());
  EXPECT_FALSE(a.locked());  // NOLINT(bugprone-use-after-move): moved-from is specified empty
  moved.Wipe();
  EXPECT_FALSE(moved.locked());
  EXPECT_TRUE(b.locked());
  b.Wipe();
  if (kKernelCountsLocks) {
    EXPECT_EQ(LockedKb(), before);
  }
  // A clone is a new allocation, not locked until asked.
  SecretBuffer c(std::string_view("key"));
  ASSERT_TRUE(c.Lock());
  EXPECT_FALSE(c.Clone().locked());
}

}  // namespace
}  // namespace coffer
