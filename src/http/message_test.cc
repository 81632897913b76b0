// Tests for Request's header and query lookups.
#include "http/message.h"

#include <gtest/gtest.h>

namespace coffer::http {
namespace {

TEST(RequestTest, HeaderReturnsFirstMatch) {
  Request req;
  req.headers = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};
  EXPECT_EQ(req.Header("x-a"), "1");
  EXPECT_EQ(req.Header("content-type"), "application/json");
  EXPECT_FALSE(req.Header("authorization").has_value());
}

TEST(RequestTest, QueryReturnsFirstMatch) {
  Request req;
  req.query = {{"prefix", "api-keys/"}, {"empty", ""}, {"prefix", "other"}};
  EXPECT_EQ(req.Query("prefix"), "api-keys/");
  ASSERT_TRUE(req.Query("empty").has_value());
  EXPECT_EQ(*req.Query("empty"), "");
  EXPECT_FALSE(req.Query("missing").has_value());
}

}  // namespace
}  // namespace coffer::http
