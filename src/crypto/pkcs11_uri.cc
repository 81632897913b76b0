// Parsing of RFC 7512 PKCS#11 URIs for the root key: path attributes (token, object, …) split by
// ';', query attributes (module-path, pin-source) by '&', each value percent-decoded. Messages
// name attributes, never values (a value could be a PIN typed in the wrong place).
#include <fmt/format.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/pkcs11_key_provider.h"

namespace coffer {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = HexDigit(in[i + 1]);
    const int lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
  }
  return out;
}

// Calls `on(name, value)` for each "name=value" of `part` split by `sep`.
Status ForEachAttribute(std::string_view part, char sep, std::string_view where,
                        const std::function<Status(std::string_view, std::string)>& on) {
  while (!part.empty()) {
    const size_t end = part.find(sep);
    const std::string_view item = part.substr(0, end);
    part = end == std::string_view::npos ? std::string_view() : part.substr(end + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgumentError(
          fmt::format("pkcs11 URI: a {} attribute has no '=' (name=value)", where));
    }
    const std::string_view name = item.substr(0, eq);
    std::optional<std::string> value = PercentDecode(item.substr(eq + 1));
    if (!value.has_value()) {
      return InvalidArgumentError(
          fmt::format("pkcs11 URI: attribute {} has a malformed percent-encoding", name));
    }
    RETURN_IF_ERROR(on(name, std::move(*value)));
  }
  return OkStatus();
}

}  // namespace

StatusOr<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri) {
  static constexpr std::string_view kScheme = "pkcs11:";
  if (!uri.starts_with(kScheme)) return Err(InvalidArgumentError("not a pkcs11: URI"));
  uri.remove_prefix(kScheme.size());
  const size_t q = uri.find('?');
  const std::string_view path = uri.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : uri.substr(q + 1);
  Pkcs11Uri out;
  std::string type;
  RETURN_IF_ERROR(
      ForEachAttribute(path, ';', "path", [&](std::string_view name, std::string value) -> Status {
        if (name == "token") {
          out.token = std::move(value);
        } else if (name == "object") {
          out.object = std::move(value);
        } else if (name == "serial") {
          out.serial = std::move(value);
        } else if (name == "type") {
          type = std::move(value);
        } else if (name == "manufacturer" || name == "model" || name == "library-manufacturer" ||
                   name == "library-description" || name == "library-version" ||
                   name == "slot-description" || name == "slot-manufacturer" || name == "slot-id" ||
                   name == "id") {
          // Accepted and not used: the token label and the object label identify the key.
        } else {
          return InvalidArgumentError(
              fmt::format("pkcs11 URI: unknown path attribute \"{}\"", name));
        }
        return OkStatus();
      }));
  RETURN_IF_ERROR(ForEachAttribute(
      query, '&', "query", [&](std::string_view name, std::string value) -> Status {
        if (name == "pin-value") {
          return InvalidArgumentError(
              "pkcs11 URI: pin-value is refused (a PIN in a URI ends up in process listings, "
              "shell history and logs); use pin-source=file:PATH or pin-source=env:NAME");
        }
        if (name == "module-path") {
          out.module_path = std::move(value);
        } else if (name == "pin-source") {
          if (value.starts_with("env:")) {
            out.pin_env = value.substr(4);
          } else if (value.starts_with("file:")) {
            out.pin_file = value.substr(5);
            if (out.pin_file.starts_with("//")) out.pin_file = out.pin_file.substr(2);
          } else if (value.starts_with("/")) {
            out.pin_file = std::move(value);
          } else {
            return InvalidArgumentError(
                "pkcs11 URI: pin-source must be file:PATH (or an absolute path) or env:NAME");
          }
        } else if (name == "module-name" || name.starts_with("x-")) {
          // module-name needs a search path Coffer does not keep; module-path is required.
          if (name == "module-name") {
            return InvalidArgumentError("pkcs11 URI: give module-path (module-name is not used)");
          }
        } else {
          return InvalidArgumentError(
              fmt::format("pkcs11 URI: unknown query attribute \"{}\"", name));
        }
        return OkStatus();
      }));
  if (!type.empty() && type != "secret-key") {
    return Err(InvalidArgumentError("pkcs11 URI: the root key is of type=secret-key"));
  }
  for (const auto& [name, value] :
       {std::pair{"token", &out.token}, std::pair{"object", &out.object},
        std::pair{"module-path", &out.module_path}}) {
    if (value->empty()) {
      return Err(InvalidArgumentError(fmt::format("pkcs11 URI: {} is required", name)));
    }
  }
  if (out.pin_file.empty() && out.pin_env.empty()) {
    return Err(InvalidArgumentError(
        "pkcs11 URI: pin-source is required (pin-source=file:PATH or pin-source=env:NAME)"));
  }
  return out;
}

}  // namespace coffer
