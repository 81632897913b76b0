// The migration-ordering rule.
#include "store/migration_step.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;

TEST(MigrationStepTest, AppliesTheNextSkipsTheRecordedRefusesTheNewer) {
  EXPECT_EQ(NextMigrationStep(0, 1, 3).value(), MigrationStep::kApply);
  EXPECT_EQ(NextMigrationStep(2, 3, 3).value(), MigrationStep::kApply);
  EXPECT_EQ(NextMigrationStep(2, 1, 3).value(), MigrationStep::kSkip);
  EXPECT_EQ(NextMigrationStep(3, 3, 3).value(), MigrationStep::kSkip);
  EXPECT_THAT(NextMigrationStep(0, 2, 3), StatusIs(StatusCode::kInternal));
  auto newer = NextMigrationStep(4, 1, 3);
  EXPECT_THAT(newer, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

}  // namespace
}  // namespace coffer
