// AttachCredential: the four placements of a binding's credential.
#include "gateway/credential.h"

#include <algorithm>

#include "common/secret_buffer.h"
#include "gateway/forward_headers.h"
#include "gateway/text_encoding.h"

namespace coffer::gateway {

namespace {

bool SafeInHeader(std::string_view secret) {
  return secret.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void SetHeader(std::vector<std::pair<std::string, std::string>>& headers, std::string name,
               std::string value) {
  std::erase_if(headers, [&name](auto& h) {
    if (AsciiLower(h.first) != name) return false;
    SecureWipe(h.second);
    return true;
  });
  headers.emplace_back(std::move(name), std::move(value));
}

}  // namespace

Status AttachCredential(const AuthSpec& spec, std::string_view secret, std::string& url,
                        std::vector<std::pair<std::string, std::string>>& headers) {
  if (secret.empty()) return InvalidArgumentError("the credential is empty");
  const std::string type = spec.type.empty() ? "bearer" : AsciiLower(spec.type);
  if (type == "query") {
    if (spec.query_param.empty()) {
      return InvalidArgumentError("auth_query_param is required for auth_type query");
    }
    std::string param = PercentEncode(spec.query_param);
    param.push_back('=');
    std::string encoded = PercentEncode(secret);
    param.append(encoded);
    SecureWipe(encoded);
    const size_t question = url.find('?');
    if (question == std::string::npos) {
      url.push_back('?');
    } else if (url.back() != '?' && url.back() != '&') {
      url.push_back('&');
    }
    url.append(param);
    SecureWipe(param);
    return OkStatus();
  }
  if (type != "bearer" && type != "header" && type != "basic") {
    return InvalidArgumentError("auth_type must be bearer, basic, header or query");
  }
  if (!SafeInHeader(secret) || !SafeInHeader(spec.prefix) || !SafeInHeader(spec.basic_user)) {
    return InvalidArgumentError(
        "the credential cannot be sent in a header: it contains CR, LF or NUL");
  }
  if (type == "basic") {
    std::string pair;
    if (spec.basic_user.empty()) {
      if (secret.find(':') == std::string_view::npos) {
        return InvalidArgumentError(
            "a basic credential must be \"user:password\" unless basic_user is set");
      }
      pair.assign(secret);
    } else {
      if (spec.basic_user.find(':') != std::string::npos) {
        return InvalidArgumentError("basic_user must not contain \":\"");
      }
      pair = spec.basic_user + ":";
      pair.append(secret);
    }
    std::string encoded = Base64Encode(pair);
    SecureWipe(pair);
    std::string value = "Basic " + encoded;
    SecureWipe(encoded);
    SetHeader(headers, "authorization", std::move(value));
    return OkStatus();
  }
  std::string name = "authorization";
  if (type == "header") {
    if (spec.header.empty()) {
      return InvalidArgumentError("auth_header is required for auth_type header");
    }
    name = AsciiLower(spec.header);
    if (!CheckHeaderText(name, "").ok()) {
      return InvalidArgumentError("auth_header is not a valid header name");
    }
  }
  std::string value = spec.prefix;
  value.append(secret);
  SetHeader(headers, std::move(name), std::move(value));
  return OkStatus();
}

}  // namespace coffer::gateway
