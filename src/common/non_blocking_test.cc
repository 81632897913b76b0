// NonBlockingScope: per thread, nested scopes, and what a refusal inside one marks.
#include "common/non_blocking.h"

#include <gtest/gtest.h>

#include <thread>

namespace coffer {
namespace {

TEST(NonBlockingScopeTest, OutsideAnyScopeEverythingMayBlock) {
  EXPECT_FALSE(NonBlockingScope::MustNotBlock());
  EXPECT_FALSE(NonBlockingScope::Refused());
}

TEST(NonBlockingScopeTest, ARefusalMarksTheScopeAndEndsWithIt) {
  {
    NonBlockingScope scope;
    EXPECT_TRUE(NonBlockingScope::MustNotBlock());
    EXPECT_FALSE(scope.refused());
    EXPECT_FALSE(NonBlockingScope::Refused());
    NonBlockingScope::NoteRefused();
    EXPECT_TRUE(scope.refused());
    EXPECT_TRUE(NonBlockingScope::Refused());
  }
  EXPECT_FALSE(NonBlockingScope::MustNotBlock());
  EXPECT_FALSE(NonBlockingScope::Refused());
  NonBlockingScope next;
  EXPECT_FALSE(next.refused()) << "a new scope starts clean";
}

TEST(NonBlockingScopeTest, NestedScopesRestoreTheOuterOne) {
  NonBlockingScope outer;
  {
    NonBlockingScope inner;
    NonBlockingScope::NoteRefused();
    EXPECT_TRUE(inner.refused());
  }
  EXPECT_TRUE(NonBlockingScope::MustNotBlock());
  EXPECT_FALSE(outer.refused());
}

TEST(NonBlockingScopeTest, AScopeBelongsToItsThread) {
  NonBlockingScope scope;
  bool other_must_not_block = true;
  std::thread([&] { other_must_not_block = NonBlockingScope::MustNotBlock(); }).join();
  EXPECT_FALSE(other_must_not_block);
}

}  // namespace
}  // namespace coffer
