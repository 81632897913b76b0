// Tests for rendering: audit events whose vault id or path are not UTF-8 still render as JSON
// (found by fuzz/api_body_fuzz: GET /v1/audit answered invalid JSON after a request named a
// vault or list prefix with percent-encoded non-UTF-8 bytes).
#include "api/render.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace coffer::api {
namespace {

TEST(RenderTest, AuditEventWithNonUtf8TargetIsValidJson) {
  AuditEvent e;
  e.seq = 1;
  e.action = "secret.list";
  e.status = "INVALID_ARGUMENT";
  e.vault_id = "v\xff\xfe";
  e.path = "db/\xc3\xa9t\xc3\xa9/\xe0\x80\xaf/\xed\xa0\x80/\xf4\x90\x80\x80/\xc3";
  const std::string text = boost::json::serialize(RenderAuditEvent(e));
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(v.at("vault_id").as_string(), "v\xef\xbf\xbd\xef\xbf\xbd");
  // Well-formed sequences stay; overlong, surrogate, out-of-range and truncated ones do not.
  EXPECT_EQ(v.at("path").as_string(),
            "db/\xc3\xa9t\xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd"
            "\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd");
}

TEST(RenderTest, AuditEventWithUtf8TargetIsUnchanged) {
  AuditEvent e;
  e.action = "secret.read";
  e.status = "OK";
  e.vault_id = "0b6f6c1e-vault";
  e.path = "api-keys/openai";
  const boost::json::object o = RenderAuditEvent(e);
  EXPECT_EQ(o.at("vault_id").as_string(), "0b6f6c1e-vault");
  EXPECT_EQ(o.at("path").as_string(), "api-keys/openai");
}

}  // namespace
}  // namespace coffer::api
