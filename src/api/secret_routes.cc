// Routes of the secrets API (seeds 000–002): PUT/GET/DELETE secrets, list, secret-rotate,
// secret-versions, secret-version and disable.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "api/check_and_set.h"
#include "api/handler.h"
#include "api/render.h"
#include "api/routes.h"
#include "api/watch_routes.h"
#include "common/time_format.h"

namespace coffer::api {
namespace {

StatusOr<std::optional<int64_t>> QueryInteger(const http::Request& request, std::string_view name) {
  auto text = request.Query(name);
  if (!text.has_value()) return std::optional<int64_t>();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || ptr != text->data() + text->size()) {
    return Err(InvalidArgumentError(fmt::format("query parameter {} must be an integer", name)));
  }
  return std::optional<int64_t>(v);
}

// A metadata answer, with the version's ETag.
http::Response MetaResponse(int status, const SecretVersion& version) {
  http::Response r = JsonResponse(status, RenderSecretMeta(version));
  SetVersionETag(r, version.version);
  return r;
}

StatusOr<http::Response> PutSecret(SecretService& secrets, const http::Request& request,
                                   const http::RouteParams& params, const RequestContext& ctx) {
  auto body = ParseBody(request, /*optional=*/false);
  if (!body.has_value()) return std::move(body.error());
  RETURN_IF_ERROR(body->AllowOnly({"type", "value", "metadata", "expires_at", "rotation_policy",
                                   "max_access_count", "cas", "stage", "max_versions"}));
  PutSecretRequest put;
  // The seeds' OpenAPI description makes `type` optional, defaulting to `generic`.
  ASSIGN_OR_RETURN(auto type, body->String("type"));
  put.type = std::string(type.value_or("generic"));
  ASSIGN_OR_RETURN(std::string_view value, body->RequiredString("value"));
  put.value = SecretBuffer(value);
  ASSIGN_OR_RETURN(auto metadata, body->ObjectJson("metadata"));
  if (metadata.has_value()) put.metadata_json = std::move(*metadata);
  ASSIGN_OR_RETURN(auto policy, body->ObjectJson("rotation_policy"));
  if (policy.has_value()) put.rotation_policy_json = std::move(*policy);
  ASSIGN_OR_RETURN(auto expires, body->String("expires_at"));
  if (expires.has_value()) {
    auto t = ParseRfc3339(*expires);
    if (!t.has_value()) {
      return Err(InvalidArgumentError(fmt::format("expires_at {}", t.error().message())));
    }
    put.expires_at = *t;
  }
  ASSIGN_OR_RETURN(auto max_count, body->Integer("max_access_count"));
  put.max_access_count = max_count.value_or(0);
  ASSIGN_OR_RETURN(auto stage, body->String("stage"));
  if (stage.has_value()) put.stage = std::string(*stage);
  ASSIGN_OR_RETURN(put.max_versions, body->Integer("max_versions"));
  ASSIGN_OR_RETURN(auto cas, body->Integer("cas"));
  ASSIGN_OR_RETURN(put.expected_latest, ExpectedLatestVersion(request, cas));
  ASSIGN_OR_RETURN(SecretVersion stored, secrets.Put(ctx, Param(params, "vault_id"),
                                                     Param(params, "path"), std::move(put)));
  return MetaResponse(201, stored);
}

}  // namespace

http::Response ValueResponse(const SecretValue& secret) {
  WipingResource resource;
  http::Response r;
  {
    boost::json::object o = RenderSecretMeta(secret.meta, &resource);
    o["value"] = boost::json::string(secret.value.view(), &resource);
    r.body = boost::json::serialize(o);
  }
  r.sensitive = true;
  SetVersionETag(r, secret.meta.version);
  return r;
}

http::Response ListPageResponse(const SecretListPage& page, std::optional<std::string> cursor) {
  boost::json::array items;
  for (const SecretSummary& s : page.secrets) items.push_back(RenderSecretMeta(s));
  boost::json::object o;
  o["secrets"] = std::move(items);
  o["next_after"] =
      page.next_after.empty() ? boost::json::value(nullptr) : boost::json::value(page.next_after);
  if (cursor.has_value()) o["cursor"] = *cursor;
  return JsonResponse(200, o);
}

namespace {

StatusOr<http::Response> RotateSecret(SecretService& secrets, const http::Request& request,
                                      const http::RouteParams& params, const RequestContext& ctx) {
  auto body = ParseBody(request, /*optional=*/true);
  if (!body.has_value()) return std::move(body.error());
  RETURN_IF_ERROR(body->AllowOnly({"length", "charset", "type", "stage"}));
  RotateSecretRequest rotate;
  ASSIGN_OR_RETURN(rotate.length, body->Integer("length"));
  ASSIGN_OR_RETURN(auto charset, body->String("charset"));
  if (charset.has_value()) rotate.charset = std::string(*charset);
  ASSIGN_OR_RETURN(auto type, body->String("type"));
  if (type.has_value()) rotate.type = std::string(*type);
  ASSIGN_OR_RETURN(auto stage, body->String("stage"));
  if (stage.has_value()) rotate.stage = std::string(*stage);
  ASSIGN_OR_RETURN(SecretVersion stored, secrets.Rotate(ctx, Param(params, "vault_id"),
                                                        Param(params, "path"), std::move(rotate)));
  return MetaResponse(201, stored);
}

StatusOr<http::Response> ListSecrets(SecretService& secrets, const http::Request& request,
                                     const http::RouteParams& params, const RequestContext& ctx) {
  if (AsksToWait(request)) return WatchSecretList(secrets, request, params, ctx);
  for (const auto& [name, value] : request.query) {
    if (name != "prefix" && name != "after" && name != "limit" && name != "unused_since") {
      return Err(InvalidArgumentError(
          "unknown query parameter (allowed: prefix, after, limit, unused_since)"));
    }
  }
  ASSIGN_OR_RETURN(auto limit, QueryInteger(request, "limit"));
  std::optional<UnixMicros> unused_since;
  if (auto text = request.Query("unused_since"); text.has_value()) {
    auto t = ParseRfc3339(*text);
    if (!t.has_value()) {
      return Err(InvalidArgumentError("unused_since " + t.error().message()));
    }
    unused_since = *t;
  }
  ASSIGN_OR_RETURN(
      SecretListPage page,
      secrets.List(ctx, Param(params, "vault_id"), request.Query("prefix").value_or(""),
                   request.Query("after").value_or(""), limit, unused_since));
  return ListPageResponse(page, std::nullopt);
}

// GET …/secrets/{path}: the current version, or with ?alias=NAME the version the alias names.
StatusOr<http::Response> GetSecret(SecretService& secrets, const http::Request& request,
                                   const http::RouteParams& params, const RequestContext& ctx) {
  const auto alias = request.Query("alias");
  StatusOr<SecretValue> secret =
      alias.has_value()
          ? secrets.GetAlias(ctx, Param(params, "vault_id"), Param(params, "path"), *alias)
          : secrets.Get(ctx, Param(params, "vault_id"), Param(params, "path"));
  if (!secret.has_value()) return Err(std::move(secret.error()));
  return ValueResponse(*secret);
}

// Disables one version (the row stays; reads of it get 410). `answer_metadata`: the seed's
// route answers 200 with the version's metadata, the OpenAPI description's answers 204.
auto DisableVersion(SecretService& secrets, bool answer_metadata) {
  return [&secrets, answer_metadata](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(SecretVersion v,
                     secrets.DisableVersion(ctx, Param(params, "vault_id"), Param(params, "path"),
                                            Param(params, "version")));
    if (!answer_metadata) return NoContent();
    return MetaResponse(200, v);
  };
}

}  // namespace

void RegisterSecretRoutes(http::Router& router, const ApiServices& api) {
  SecretService& secrets = api.secrets;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  const std::string base = "/v1/vaults/{vault_id}";

  router.Add("GET", base + "/secrets",
             Authed(rc, "secret.list", [&secrets](auto& req, auto& params, auto& ctx) {
               return ListSecrets(secrets, req, params, ctx);
             }));
  router.Add("PUT", base + "/secrets/{*path}",
             Authed(rc, "secret.write", [&secrets](auto& req, auto& params, auto& ctx) {
               return PutSecret(secrets, req, params, ctx);
             }));
  router.Add("GET", base + "/secrets/{*path}",
             Authed(rc, "secret.read",
                    [&secrets, &audit = rc.audit](auto& req, auto& params,
                                                  auto& ctx) -> StatusOr<http::Response> {
                      if (AsksToWait(req)) return WatchSecret(secrets, audit, req, params, ctx);
                      return GetSecret(secrets, req, params, ctx);
                    }),
             kReadOnIoThread);
  router.Add("DELETE", base + "/secrets/{*path}",
             Authed(rc, "secret.delete",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(
                          secrets.Delete(ctx, Param(params, "vault_id"), Param(params, "path")));
                      return NoContent();
                    }));
  router.Add("POST", base + "/secret-rotate/{*path}",
             Authed(rc, "secret.rotate", [&secrets](auto& req, auto& params, auto& ctx) {
               return RotateSecret(secrets, req, params, ctx);
             }));
  router.Add("GET", base + "/secret-versions/{*path}",
             Authed(rc, "secret.versions",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto versions,
                                       secrets.ListVersions(ctx, Param(params, "vault_id"),
                                                            Param(params, "path")));
                      boost::json::array items;
                      for (const SecretVersion& v : versions) {
                        items.push_back(RenderVersionEntry(v));
                      }
                      boost::json::object o;
                      o["id"] = versions.empty() ? "" : versions.front().secret_id;
                      o["path"] = Param(params, "path");
                      o["versions"] = std::move(items);
                      return JsonResponse(200, o);
                    }));
  router.Add("GET", base + "/secret-version/{*path}/{version}",
             Authed(rc, "secret.read",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(
                          SecretValue secret,
                          secrets.GetVersion(ctx, Param(params, "vault_id"), Param(params, "path"),
                                             Param(params, "version")));
                      return ValueResponse(secret);
                    }),
             kReadOnIoThread);
  router.Add("POST", base + "/secret-version/{*path}/{version}/disable",
             Authed(rc, "secret.disable", DisableVersion(secrets, /*answer_metadata=*/true)));
  router.Add("POST", base + "/secret-version-disable/{*path}/{version}",
             Authed(rc, "secret.disable", DisableVersion(secrets, /*answer_metadata=*/false)));
}

}  // namespace coffer::api
