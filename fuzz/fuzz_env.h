// The in-process service stack the request-level fuzz targets drive: a real SQLite store in a
// temp dir (tmpfs when there is one), a keyring, every service, the real /v1 routes, and a few
// seeded objects (a vault, a canary secret, an agent with a read policy). Requests go through
// the server's own target decoding and routing, and every response is checked for properties a
// user relies on (see CheckResponse). Not thread-safe: one per fuzz process.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

namespace coffer::fuzz {

// Aborts the process (a libFuzzer crash) with a message when `ok` is false. The message must
// never hold a secret.
void Check(bool ok, const char* what);

class FuzzEnv {
 public:
  // Placeholders a fuzz input may contain; Substitute() replaces them with the seeded objects'
  // real ids and credentials, so inputs can authenticate without holding a real key.
  static constexpr std::string_view kAdminKey = "@ADMIN@";
  static constexpr std::string_view kAgentKey = "@AGENT@";
  static constexpr std::string_view kRotationSecret = "@ROT@";
  static constexpr std::string_view kAdminId = "@ADMIN_ID@";
  static constexpr std::string_view kAgentId = "@AGENT_ID@";
  static constexpr std::string_view kVaultId = "@VAULT@";

  // The process-wide environment, rebuilt from scratch every `kRequestsPerEnv` requests so the
  // database stays small and credentials a request revoked come back.
  static FuzzEnv& Get();
  ~FuzzEnv();

  // Replaces every placeholder in `text`.
  void Substitute(std::string& text) const;

  // Decodes request.target (as the server does), routes, and runs the handler (as the server's
  // dispatch does: a throwing handler is a 500). request.segments/query are filled here.
  http::Response Handle(http::Request& request);

  // Properties of every response: a valid status, never 500; a 4xx/5xx is problem+json whose
  // body is an object with type/title/status/detail and the same status; no body ever holds the
  // admin's or the agent's API key or rotation secret; the canary secret's value appears only in
  // a 200 answer to a secret read. (A value some request of this environment sent as data — in
  // a target, a body, a header other than Authorization — is exempt from then on: the server
  // may have stored it as a description or an audited prefix.) Aborts on a violation.
  void CheckResponse(const http::Request& request, const http::Response& response) const;

  // Every (method, pattern) the real /v1 router has, in registration order.
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct State;
  FuzzEnv();
  void Build();

  std::unique_ptr<State> state_;
  size_t requests_ = 0;
};

}  // namespace coffer::fuzz
