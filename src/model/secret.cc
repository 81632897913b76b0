// Names of secret types and principal kinds.
#include "model/secret.h"

#include <array>
#include <utility>

namespace coffer {
namespace {
constexpr std::array<std::pair<SecretType, std::string_view>, 10> kTypes = {{
    {SecretType::kPassword, "password"},
    {SecretType::kApiKey, "api_key"},
    {SecretType::kPrivateKey, "private_key"},
    {SecretType::kCertificate, "certificate"},
    {SecretType::kFile, "file"},
    {SecretType::kNote, "note"},
    {SecretType::kSshKey, "ssh_key"},
    {SecretType::kEnvBundle, "env_bundle"},
    {SecretType::kGeneric, "generic"},
    {SecretType::kEnv, "env"},
}};
}  // namespace

std::string_view SecretTypeName(SecretType t) {
  for (const auto& [type, name] : kTypes) {
    if (type == t) return name;
  }
  return "password";
}

std::optional<SecretType> ParseSecretType(std::string_view name) {
  for (const auto& [type, n] : kTypes) {
    if (n == name) return type;
  }
  return std::nullopt;
}

std::string_view SecretTypeList() {
  return "password, api_key, private_key, certificate, file, note, ssh_key, env_bundle, generic, "
         "env";
}

std::string_view PrincipalKindName(PrincipalKind k) {
  return k == PrincipalKind::kAgent ? "agent" : "user";
}

}  // namespace coffer
