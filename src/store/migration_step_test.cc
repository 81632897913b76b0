// The migration-ordering rule.
#include "store/migration_step.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(MigrationStepTest, AppliesTheNextSkipsTheRecordedRefusesTheNewer) {
  EXPECT_EQ(NextMigrationStep(0, 1, 3).value(), MigrationStep::kApply);
  EXPECT_EQ(NextMigrationStep(2, 3, 3).value(), MigrationStep::kApply);
  EXPECT_EQ(NextMigrationStep(2, 1, 3).value(), MigrationStep::kSkip);
  EXPECT_EQ(NextMigrationStep(3, 3, 3).value(), MigrationStep::kSkip);
  EXPECT_EQ(NextMigrationStep(0, 2, 3).error().code(), StatusCode::kInternal);
  auto newer = NextMigrationStep(4, 1, 3);
  EXPECT_EQ(newer.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.error().message().find("newer"), std::string::npos);
}

}  // namespace
}  // namespace coffer
