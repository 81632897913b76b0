// JSON request bodies of every endpoint that takes one. The first input byte picks the endpoint,
// the second the credential and Content-Type, the rest is the body; the request then runs through
// the real routes and services (fuzz_env.h), so each route's own body parsing and field checks
// are reached, with a valid credential most of the time. Checks FuzzEnv::CheckResponse and that
// a body the route accepts with 2xx was valid JSON.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_env.h"

namespace {

struct Endpoint {
  std::string_view method;
  std::string_view target;  // with FuzzEnv placeholders
};

// Every route that reads a request body (src/api/*.cc), plus the two query-parsing list routes
// (whose "body" is then appended as the query string).
constexpr Endpoint kBodyEndpoints[] = {
    {"POST", "/v1/vaults"},
    {"POST", "/v1/auth/token"},
    {"POST", "/v1/users"},
    {"POST", "/v1/users/@ADMIN_ID@/api-keys"},
    {"POST", "/v1/agents"},
    {"POST", "/v1/agents/self/rotate-key"},
    {"POST", "/v1/vaults/@VAULT@/policies"},
    {"PUT", "/v1/vaults/@VAULT@/secrets/db/password"},
    {"PUT", "/v1/vaults/@VAULT@/secrets/fuzz/new"},
    {"POST", "/v1/vaults/@VAULT@/secret-rotate/db/password"},
    {"POST", "/v1/vaults/@VAULT@/secret-rotate/fuzz/rotated"},
};
constexpr Endpoint kQueryEndpoints[] = {
    {"GET", "/v1/vaults/@VAULT@/secrets?"},
    {"GET", "/v1/audit?"},
};
constexpr size_t kBodyCount = sizeof(kBodyEndpoints) / sizeof(kBodyEndpoints[0]);
constexpr size_t kQueryCount = sizeof(kQueryEndpoints) / sizeof(kQueryEndpoints[0]);

constexpr std::string_view kContentTypes[] = {"application/json", "application/json; charset=utf-8",
                                              "application/merge-patch+json", "text/plain", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  using coffer::fuzz::FuzzEnv;
  FuzzEnv& env = FuzzEnv::Get();
  const size_t pick = data[0] % (kBodyCount + kQueryCount);
  const uint8_t mode = data[1];
  std::string payload(reinterpret_cast<const char*>(data + 2), size - 2);
  env.Substitute(payload);

  coffer::http::Request request;
  if (pick < kBodyCount) {
    request.method = kBodyEndpoints[pick].method;
    request.target = kBodyEndpoints[pick].target;
    request.body = std::move(payload);
    const std::string_view content_type = kContentTypes[(mode >> 2) % 5];
    if (!content_type.empty()) {
      request.headers.emplace_back("content-type", content_type);
    }
  } else {
    request.method = kQueryEndpoints[pick - kBodyCount].method;
    request.target = kQueryEndpoints[pick - kBodyCount].target;
    request.target += payload;
  }
  env.Substitute(request.target);
  switch (mode & 3) {
    case 0:
      request.headers.emplace_back("authorization", "Bearer " + std::string(FuzzEnv::kAdminKey));
      break;
    case 1:
      request.headers.emplace_back("authorization", "Bearer " + std::string(FuzzEnv::kAgentKey));
      break;
    case 2:
      break;  // anonymous
    default:
      request.headers.emplace_back("authorization", "Bearer cfr_key_notarealkey");
      break;
  }
  for (auto& [name, value] : request.headers) {
    env.Substitute(value);
  }

  const coffer::http::Response response = env.Handle(request);
  env.CheckResponse(request, response);
  if (pick < kBodyCount && response.status >= 200 && response.status < 300 &&
      !request.body.empty()) {
    boost::system::error_code ec;
    boost::json::parse(request.body, ec);
    coffer::fuzz::Check(!ec, "a route accepted a body that is not valid JSON");
  }
  return 0;
}
