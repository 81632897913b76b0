// The pieces the tools of `coffer mcp` share (mcp_tools.h).
#include "agent/mcp_tools.h"

namespace coffer::agent::mcp {

// An object schema with these properties (JSON members, joined) and required names (quoted,
// joined; none: no "required"), and nothing else allowed.
std::string ObjectSchema(std::string_view properties, std::string_view required) {
  return fmt::format(R"j({{"type":"object","properties":{{{}}},{}"additionalProperties":false}})j",
                     properties,
                     required.empty() ? "" : fmt::format(R"j("required":[{}],)j", required));
}

// The properties of a tool on one secret: vault, path, then `more`.
std::string SecretProps(std::string_view more) {
  return fmt::format("{},{}{}", kVaultProp, kPathProp, more);
}

StatusOr<std::string> VaultId(CofferClient& c, const Args& args) {
  ASSIGN_OR_RETURN(std::string vault, args.String("vault", false));
  if (vault.empty()) {
    if (args.default_vault().empty()) {
      return Err(InvalidArgumentError(
          "'vault' is required (or start coffer mcp with --vault to give a default)"));
    }
    vault = args.default_vault();
  }
  return c.ResolveVault(vault);
}

StatusOr<SecretTarget> Target(CofferClient& c, const Args& args) {
  ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, args));
  ASSIGN_OR_RETURN(std::string path, args.String("path", true));
  return SecretTarget{std::move(vault_id), std::move(path)};
}

Status SetPlain(WipedJson& doc, const json::value& v) {
  doc.value() = json::value(v, doc.storage());
  return OkStatus();
}

}  // namespace coffer::agent::mcp
