// Protocol-level tests of the MCP server (no Coffer server behind it: tool calls fail to connect,
// which must come back as a tool error, not a protocol error).
#include "agent/mcp_server.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/version.h"

namespace coffer::agent {
namespace {

namespace json = boost::json;

class McpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Port 9 on loopback: nothing listens, so a tool call fails fast.
    auto c = client::CofferClient::Create(client::ClientOptions{
        .addr = "http://127.0.0.1:9", .token = {}, .ca_cert = "", .timeout_ms = 2000});
    ASSERT_TRUE(c.has_value());
    client_ = std::move(*c);
    server_ = std::make_unique<McpServer>(*client_);
  }
  json::value Call(std::string_view line) {
    auto out = server_->HandleMessage(line);
    if (!out.has_value()) return nullptr;
    return json::parse(out->view());
  }
  std::unique_ptr<client::CofferClient> client_;
  std::unique_ptr<McpServer> server_;
};

TEST_F(McpServerTest, InitializeNegotiatesTheProtocolVersion) {
  json::value r = Call(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
      R"("capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  EXPECT_EQ(r.at("id"), 1);
  EXPECT_EQ(r.at("result").at("protocolVersion"), "2025-06-18");
  EXPECT_TRUE(r.at("result").at("capabilities").as_object().contains("tools"));
  EXPECT_EQ(r.at("result").at("serverInfo").at("name"), "coffer");
  EXPECT_EQ(r.at("result").at("serverInfo").at("version").as_string(), Version());

  json::value unknown = Call(
      R"({"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"1999-01-01"}})");
  EXPECT_EQ(unknown.at("id"), "a");
  EXPECT_EQ(unknown.at("result").at("protocolVersion").as_string(), kMcpProtocolVersions[0]);
}

TEST_F(McpServerTest, NotificationsGetNoAnswer) {
  EXPECT_FALSE(server_->HandleMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")
                   .has_value());
  EXPECT_FALSE(server_->HandleMessage(R"({"jsonrpc":"2.0","id":5,"result":{}})").has_value());
}

TEST_F(McpServerTest, PingAndErrors) {
  EXPECT_TRUE(Call(R"({"jsonrpc":"2.0","id":2,"method":"ping"})").at("result").as_object().empty());
  EXPECT_EQ(Call("{nope").at("error").at("code"), -32700);
  EXPECT_EQ(Call("[1,2]").at("error").at("code"), -32600);
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":3,"method":"resources/list"})").at("error").at("code"),
            -32601);
  EXPECT_EQ(Call(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope"}})")
                .at("error")
                .at("code"),
            -32602);
}

TEST_F(McpServerTest, EveryToolHasAnObjectInputSchema) {
  json::value r = Call(R"({"jsonrpc":"2.0","id":6,"method":"tools/list"})");
  const json::array& tools = r.at("result").at("tools").as_array();
  std::set<std::string> names;
  for (const json::value& t : tools) {
    names.insert(std::string(t.at("name").as_string()));
    EXPECT_EQ(t.at("inputSchema").at("type"), "object") << t.at("name");
    EXPECT_FALSE(t.at("description").as_string().empty());
  }
  EXPECT_EQ(names, (std::set<std::string>{
                       "list_vaults",   "list_secrets",      "get_secret",      "put_secret",
                       "rotate_secret", "list_versions",     "disable_version", "describe_secret",
                       "delete_secret", "get_env_bundle",    "create_vault",    "grant_access",
                       "share_secret",  "list_usage",        "set_alias",       "promote",
                       "rollback",      "schedule_rotation", "execute_http",    "list_bindings"}));
}

TEST_F(McpServerTest, EveryListedToolIsCalled) {
  // tools/list and tools/call read one table: every tool listed is run (here it fails on its
  // missing arguments or the unreachable server, as a tool error), none is an unknown tool.
  json::value r = Call(R"({"jsonrpc":"2.0","id":6,"method":"tools/list"})");
  for (const json::value& t : r.at("result").at("tools").as_array()) {
    json::object call{
        {"jsonrpc", "2.0"},
        {"id", 9},
        {"method", "tools/call"},
        {"params", json::object{{"name", t.at("name")}, {"arguments", json::object()}}}};
    json::value answer = Call(json::serialize(call));
    ASSERT_TRUE(answer.as_object().contains("result")) << json::serialize(answer);
    EXPECT_EQ(answer.at("result").at("isError"), true) << t.at("name");
  }
}

TEST_F(McpServerTest, ToolFailuresAreToolErrors) {
  json::value missing = Call(
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_secret","arguments":{}}})");
  EXPECT_EQ(missing.at("result").at("isError"), true);
  EXPECT_NE(missing.at("result").at("content").at(0).at("text").as_string().find("vault"),
            json::string::npos);

  json::value unreachable =
      Call(R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_vaults"}})");
  EXPECT_EQ(unreachable.at("result").at("isError"), true);
  EXPECT_EQ(unreachable.at("result").at("content").at(0).at("type"), "text");
}

TEST_F(McpServerTest, ADefaultVaultMakesTheVaultArgumentOptional) {
  McpServer with_vault(*client_, "prod");
  auto out = with_vault.HandleMessage(R"({"jsonrpc":"2.0","id":6,"method":"tools/list"})");
  ASSERT_TRUE(out.has_value());
  const json::value r = json::parse(out->view());
  for (const json::value& t : r.at("result").at("tools").as_array()) {
    const json::object& schema = t.at("inputSchema").as_object();
    if (const json::value* required = schema.if_contains("required")) {
      for (const json::value& name : required->as_array()) {
        EXPECT_NE(name, "vault") << t.at("name");
      }
    }
    if (t.at("name") == "get_secret") {
      EXPECT_EQ(schema.at("required"), json::parse(R"(["path"])"));
    }
  }
  // grant_access names its vault itself: vault_id stays required.
  out = server_->HandleMessage(R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})");
  ASSERT_TRUE(out.has_value());
  const json::value listed = json::parse(out->view());
  for (const json::value& t : listed.at("result").at("tools").as_array()) {
    if (t.at("name") == "grant_access") {
      EXPECT_EQ(t.at("inputSchema").at("required"),
                json::parse(R"(["vault_id","principal_type","principal_id"])"));
    }
  }
}

}  // namespace
}  // namespace coffer::agent
