// `coffer run --binding NAME[=VAR_PREFIX]`: the variables that point a child's HTTP or LLM SDK at
// the gateway's proxy for one of the agent's bindings (docs/gateway.md): <PREFIX>_BASE_URL is
// <server>/v1/proxy/<NAME> and <PREFIX>_API_KEY is the agent's own Coffer key (the one coffer run
// authenticates with), never the secret the binding attaches.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/coffer_client.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::agent {

struct BindingSpec {
  std::string name;    // the binding's name
  std::string prefix;  // the variables' prefix, e.g. OPENAI
};

// "openai" -> {openai, OPENAI}; "my-api=API" -> {my-api, API}. The default prefix is the name
// upper-cased with every other character than a letter or digit as '_'. kInvalidArgument for a
// name outside [A-Za-z0-9_-]{1,64} or a prefix that is not a variable name.
StatusOr<BindingSpec> ParseBindingSpec(std::string_view text);

// "<server>/v1/proxy/<name>" with the server's address without a trailing '/'.
std::string ProxyBaseUrl(std::string_view server_addr, std::string_view binding_name);

// The variables of every spec: <PREFIX>_BASE_URL (plain) and <PREFIX>_API_KEY (the key).
struct ProxyVariables {
  std::vector<std::pair<std::string, std::string>> urls;  // (name, value)
  std::vector<std::string> key_names;
  SecretBuffer key;
};
ProxyVariables MakeProxyVariables(std::string_view server_addr,
                                  const std::vector<BindingSpec>& specs, const SecretBuffer& key);

// kInvalidArgument naming the first spec whose binding the calling agent does not have (GET
// /v1/agents/self/bindings), or the listing's own failure.
Status CheckAgentHasBindings(client::CofferClient& client, const std::vector<BindingSpec>& specs);

}  // namespace coffer::agent
