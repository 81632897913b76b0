// Routes of share links: POST /v1/secrets/{secret_id}/share (create), GET /v1/share/{share_id}
// (redeem, public), DELETE /v1/share/{share_id} (revoke), GET /v1/shares/outbound and
// /v1/shares/inbound (listings). A body that holds a link or a value is built in wiped memory
// and marked sensitive.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/handler.h"
#include "api/routes.h"
#include "common/time_format.h"

namespace coffer::api {
namespace {

StatusOr<CreateShareRequest> ParseCreateShare(const JsonBody& body) {
  RETURN_IF_ERROR(body.AllowOnly({"recipient_type", "recipient_id", "email", "permissions",
                                  "max_access_count", "expires_at", "passphrase", "ip_allowlist"}));
  CreateShareRequest create;
  ASSIGN_OR_RETURN(std::string_view recipient_type, body.RequiredString("recipient_type"));
  create.recipient_type = std::string(recipient_type);
  ASSIGN_OR_RETURN(auto recipient_id, body.String("recipient_id"));
  create.has_recipient_id = recipient_id.has_value();
  ASSIGN_OR_RETURN(auto email, body.String("email"));
  create.has_email = email.has_value();
  if (body.Has("permissions")) {
    ASSIGN_OR_RETURN(create.permissions, body.StringList("permissions"));
  }
  ASSIGN_OR_RETURN(create.max_access_count, body.Integer("max_access_count"));
  ASSIGN_OR_RETURN(std::string_view expires, body.RequiredString("expires_at"));
  auto expires_at = ParseRfc3339(expires);
  if (!expires_at.has_value()) {
    return Err(InvalidArgumentError(fmt::format("expires_at {}", expires_at.error().message())));
  }
  create.expires_at = *expires_at;
  ASSIGN_OR_RETURN(auto passphrase, body.String("passphrase"));
  create.has_passphrase = passphrase.has_value() && !passphrase->empty();
  if (body.Has("ip_allowlist")) {
    ASSIGN_OR_RETURN(std::vector<std::string> allowlist, body.StringList("ip_allowlist"));
    create.has_ip_allowlist = !allowlist.empty();
  }
  return create;
}

// The seeds' ShareResponse, and what else Coffer knows of the new share.
http::Response CreatedShareResponse(const CreatedShare& created) {
  const Share& share = created.share;
  WipingResource resource;
  http::Response r;
  {
    boost::json::object o(&resource);
    o["id"] = share.id;
    o["share_url"] = boost::json::string(created.share_url.view(), &resource);
    o["recipient_type"] = share.recipient_type;
    o["expires_at"] = FormatRfc3339(share.expires_at);
    o["max_access_count"] = share.max_access_count;
    o["access_count"] = share.access_count;
    o["secret_id"] = share.secret_id;
    o["version"] = share.version;
    o["created_at"] = FormatRfc3339(share.created_at);
    r = JsonResponse(201, o);
  }
  r.sensitive = true;
  return r;
}

// The seeds' SharedSecretResponse: the pinned version's value, and the link's counts.
http::Response RedeemedShareResponse(const RedeemedShare& redeemed) {
  const SecretVersion& meta = redeemed.secret.meta;
  WipingResource resource;
  http::Response r;
  {
    boost::json::object o(&resource);
    o["id"] = meta.secret_id;
    o["path"] = meta.path;
    o["type"] = SecretTypeName(meta.type);
    o["value"] = boost::json::string(redeemed.secret.value.view(), &resource);
    o["version"] = meta.version;
    o["access_count"] = redeemed.share.access_count;
    o["max_access_count"] = redeemed.share.max_access_count;
    o["share_id"] = redeemed.share.id;
    o["expires_at"] = FormatRfc3339(redeemed.share.expires_at);
    r = JsonResponse(200, o);
  }
  r.sensitive = true;
  return r;
}

// The seeds' ShareListItem, with Coffer's extras; never the link.
boost::json::object RenderShareItem(const Share& share, UnixMicros now) {
  boost::json::object o;
  o["id"] = share.id;
  o["secret_id"] = share.secret_id;
  o["secret_path"] = share.path;
  o["vault_id"] = share.vault_id;
  o["version"] = share.version;
  o["recipient_type"] = share.recipient_type;
  o["access_count"] = share.access_count;
  o["max_access_count"] = share.max_access_count;
  o["expires_at"] = FormatRfc3339(share.expires_at);
  o["created_at"] = FormatRfc3339(share.created_at);
  o["is_expired"] = share.expires_at <= now;
  o["is_revoked"] = share.is_revoked();
  o["revoked_at"] = share.revoked_at.has_value()
                        ? boost::json::value(FormatRfc3339(*share.revoked_at))
                        : boost::json::value(nullptr);
  return o;
}

}  // namespace

void RegisterShareRoutes(http::Router& router, const ApiServices& api) {
  ShareService& shares = api.shares;
  const http::TrustedProxies& proxies = api.trusted_proxies;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};

  router.Add("POST", "/v1/secrets/{secret_id}/share",
             Authed(rc, "share.create",
                    [&shares](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      ASSIGN_OR_RETURN(CreateShareRequest create, ParseCreateShare(*body));
                      ASSIGN_OR_RETURN(
                          CreatedShare created,
                          shares.Create(ctx, Param(params, "secret_id"), std::move(create)));
                      return CreatedShareResponse(created);
                    }));
  // Public: the link is the credential. Limited per client address like a credential.
  router.Add("GET", "/v1/share/{share_id}",
             Public([&shares, &proxies](auto& req, auto& params) -> StatusOr<http::Response> {
               RequestContext anonymous = AnonymousContext(req, proxies);
               ASSIGN_OR_RETURN(RedeemedShare redeemed,
                                shares.Redeem(anonymous, Param(params, "share_id")));
               return RedeemedShareResponse(redeemed);
             }));
  router.Add("DELETE", "/v1/share/{share_id}",
             Authed(rc, "share.revoke",
                    [&shares](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(shares.Revoke(ctx, Param(params, "share_id")));
                      return NoContent();
                    }));
  router.Add(
      "GET", "/v1/shares/outbound",
      Authed(rc, "share.list", [&shares](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
        ASSIGN_OR_RETURN(std::vector<Share> list, shares.ListOutbound(ctx));
        const UnixMicros now = shares.clock().Now();
        boost::json::array items;
        for (const Share& s : list) items.push_back(RenderShareItem(s, now));
        boost::json::object o;
        o["shares"] = std::move(items);
        return JsonResponse(200, o);
      }));
  // Coffer makes links only (anyone_with_link), never shares addressed to a user or an agent:
  // nobody has inbound shares.
  router.Add("GET", "/v1/shares/inbound",
             Authed(rc, "share.list", [](auto&, auto&, auto&) -> StatusOr<http::Response> {
               boost::json::object o;
               o["shares"] = boost::json::array();
               return JsonResponse(200, o);
             }));
}

}  // namespace coffer::api
