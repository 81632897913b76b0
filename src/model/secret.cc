// Names of secret types and principal kinds; pepper chains as stored.
#include "model/secret.h"

#include <array>
#include <charconv>
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

std::string FormatPepperIds(const std::vector<uint32_t>& ids) {
  std::string out;
  for (const uint32_t id : ids) {
    if (!out.empty()) {
      out.push_back(',');
    }
    out += std::to_string(id);
  }
  return out;
}

std::vector<uint32_t> ParsePepperIds(std::string_view text) {
  std::vector<uint32_t> ids;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    uint32_t id = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
    if (ec != std::errc() || end != part.data() + part.size() || id == 0) {
      return {};
    }
    ids.push_back(id);
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
    if (text.empty()) {
      return {};
    }
  }
  return ids;
}

}  // namespace coffer
