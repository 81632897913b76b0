// The Model Context Protocol server behind `coffer mcp`: JSON-RPC 2.0 messages in, answers out,
// with tools that call the Coffer API under one token. Transport-free (mcp_command.cc feeds it
// lines from stdin), so the protocol logic can be driven directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "client/coffer_client.h"
#include "common/secret_buffer.h"

namespace coffer::agent {

// Protocol revisions this server speaks, newest first. An initialize asking for one of them gets
// it back; any other gets the newest.
inline constexpr std::string_view kMcpProtocolVersions[] = {"2025-11-25", "2025-06-18",
                                                            "2025-03-26", "2024-11-05"};

// Not thread-safe: one message at a time.
class McpServer {
 public:
  // `default_vault` (a name or id; empty: none) is the vault of the secret tools whose "vault"
  // argument is not given.
  explicit McpServer(client::CofferClient& client, std::string default_vault = "");

  // Handles one JSON-RPC message (one line). Returns the serialized answer (it may hold a secret
  // value, hence SecretBuffer), or nullopt for notifications and stray responses.
  std::optional<SecretBuffer> HandleMessage(std::string_view line);

  // The answer to a message that was discarded for being larger than `max_bytes`: an Invalid
  // Request error with a null id (the id was in the discarded bytes).
  static SecretBuffer TooLargeAnswer(size_t max_bytes);

 private:
  client::CofferClient& client_;
  std::string default_vault_;
  bool initialized_ = false;
};

}  // namespace coffer::agent
