// The --binding specs of `coffer run` (run_bindings.h): parsed, turned into the proxy's URL, and
// checked against the calling agent's own bindings.
#include "agent/run_bindings.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace coffer::agent {

namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsVariableName(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!IsAsciiAlnum(c) && c != '_') return false;
  }
  return true;
}

}  // namespace

StatusOr<BindingSpec> ParseBindingSpec(std::string_view text) {
  const size_t eq = text.find('=');
  BindingSpec spec;
  spec.name = std::string(text.substr(0, eq));
  bool name_ok = !spec.name.empty() && spec.name.size() <= 64;
  for (char c : spec.name) name_ok = name_ok && (IsAsciiAlnum(c) || c == '_' || c == '-');
  if (!name_ok) {
    return Err(InvalidArgumentError(
        fmt::format("--binding {}: a binding name is 1 to 64 letters, digits, '-' and '_'", text)));
  }
  if (eq != std::string_view::npos) {
    spec.prefix = std::string(text.substr(eq + 1));
  } else {
    for (char c : spec.name) {
      spec.prefix +=
          IsAsciiAlnum(c) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
    }
    if (spec.prefix[0] >= '0' && spec.prefix[0] <= '9') spec.prefix.insert(0, "_");
  }
  if (!IsVariableName(spec.prefix)) {
    return Err(InvalidArgumentError(fmt::format(
        "--binding {}: the prefix must be a variable name (letters, digits and '_', not "
        "starting with a digit), e.g. --binding {}=OPENAI",
        text, spec.name)));
  }
  return spec;
}

std::string ProxyBaseUrl(std::string_view server_addr, std::string_view binding_name) {
  while (server_addr.ends_with('/')) server_addr.remove_suffix(1);
  return fmt::format("{}/v1/proxy/{}", server_addr, binding_name);
}

ProxyVariables MakeProxyVariables(std::string_view server_addr,
                                  const std::vector<BindingSpec>& specs, const SecretBuffer& key) {
  ProxyVariables out;
  for (const BindingSpec& spec : specs) {
    out.urls.emplace_back(spec.prefix + "_BASE_URL", ProxyBaseUrl(server_addr, spec.name));
    out.key_names.push_back(spec.prefix + "_API_KEY");
  }
  if (!specs.empty()) out.key = key.Clone();
  return out;
}

Status CheckAgentHasBindings(client::CofferClient& client, const std::vector<BindingSpec>& specs) {
  if (specs.empty()) return OkStatus();
  ASSIGN_OR_RETURN(client::WipedJson doc, client.ListBindings("self"));
  const boost::json::array* items = nullptr;
  if (doc.value().is_object()) {
    if (const boost::json::value* v = doc.value().get_object().if_contains("bindings");
        v != nullptr && v->is_array()) {
      items = &v->get_array();
    }
  }
  if (items == nullptr) {
    return InternalError("unexpected answer from the server: no 'bindings' list");
  }
  for (const BindingSpec& spec : specs) {
    bool found = false;
    for (const boost::json::value& item : *items) {
      const boost::json::value* name =
          item.is_object() ? item.get_object().if_contains("name") : nullptr;
      found = found || (name != nullptr && name->is_string() && name->get_string() == spec.name);
    }
    if (!found) {
      return InvalidArgumentError(
          fmt::format("--binding {}: this agent has no binding named '{}' (coffer bindings list)",
                      spec.name, spec.name));
    }
  }
  return OkStatus();
}

}  // namespace coffer::agent
