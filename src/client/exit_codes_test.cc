// Tests for the exit-code mapping of the client commands.
#include "client/exit_codes.h"

#include <gtest/gtest.h>

#include <set>

namespace coffer::client {
namespace {

TEST(ExitCodeTest, DistinctCodesForUsageAuthNotFoundAndServer) {
  EXPECT_EQ(ExitCodeFor(OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(InvalidArgumentError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(UnauthenticatedError("x")), kExitAuth);
  EXPECT_EQ(ExitCodeFor(PermissionDeniedError("x")), kExitAuth);
  EXPECT_EQ(ExitCodeFor(NotFoundError("x")), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(InternalError("x")), kExitServer);
  EXPECT_EQ(ExitCodeFor(UnavailableError("x")), kExitServer);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kDeadlineExceeded, "x")), kExitServer);
  EXPECT_EQ(ExitCodeFor(GoneError("x")), kExitError);
  EXPECT_EQ(ExitCodeFor(AlreadyExistsError("x")), kExitError);
  EXPECT_EQ(ExitCodeFor(ResourceExhaustedError("x")), kExitError);
  // All distinct.
  EXPECT_EQ(std::set<int>({kExitOk, kExitError, kExitUsage, kExitAuth, kExitNotFound, kExitServer})
                .size(),
            6u);
}

}  // namespace
}  // namespace coffer::client
