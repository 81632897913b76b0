// DisableCoreDumps reports each of its system calls that fails (with fakes for the calls: the
// real ones would make this test process undumpable).
#include "common/process_limits.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

int Succeeds() { return 0; }
int FailsWithEperm() {
  errno = EPERM;
  return -1;
}
int FailsWithEinval() {
  errno = EINVAL;
  return -1;
}

TEST(ProcessLimitsTest, OkWhenBothCallsSucceed) {
  EXPECT_THAT(DisableCoreDumps({Succeeds, Succeeds}), IsOk());
}

TEST(ProcessLimitsTest, AFailedCallIsAnErrorNamingIt) {
  EXPECT_THAT(DisableCoreDumps({FailsWithEperm, Succeeds}),
              StatusIs(StatusCode::kInternal,
                       AllOf(HasSubstr("cannot disable core dumps"),
                             HasSubstr("setrlimit(RLIMIT_CORE, 0): Operation not permitted"),
                             Not(HasSubstr("prctl")))));
  EXPECT_THAT(DisableCoreDumps({Succeeds, FailsWithEinval}),
              StatusIs(StatusCode::kInternal,
                       AllOf(HasSubstr("prctl(PR_SET_DUMPABLE, 0): Invalid argument"),
                             Not(HasSubstr("setrlimit")))));
  EXPECT_THAT(DisableCoreDumps({FailsWithEperm, FailsWithEinval}),
              StatusIs(StatusCode::kInternal,
                       AllOf(HasSubstr("setrlimit(RLIMIT_CORE, 0): Operation not permitted; "
                                       "prctl(PR_SET_DUMPABLE, 0): Invalid argument"))));
}

}  // namespace
}  // namespace coffer
