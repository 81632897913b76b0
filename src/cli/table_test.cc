// Tests for table rendering and the exit-code mapping of the client commands.
#include "cli/table.h"

#include <gtest/gtest.h>

#include "client/exit_codes.h"

namespace coffer::cli {
namespace {

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(RenderTable({"NAME", "ID", "DESCRIPTION"},
                        {{"prod", "1234", "production keys"}, {"staging-eu", "5", ""}}),
            "NAME        ID    DESCRIPTION\n"
            "prod        1234  production keys\n"
            "staging-eu  5     -\n");
}

TEST(TableTest, HeaderOnlyForNoRows) {
  EXPECT_EQ(RenderTable({"PATH", "TYPE"}, {}), "PATH  TYPE\n");
}

TEST(TableTest, CountsCodePointsAndCleansControlCharacters) {
  EXPECT_EQ(RenderTable({"N", "X"}, {{"café", "1"}, {"a\nb", "2"}, {"short"}}),
            "N      X\n"
            "café   1\n"
            "a b    2\n"
            "short  -\n");
}

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
}  // namespace coffer::cli
