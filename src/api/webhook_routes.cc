// Routes for a vault's webhook endpoints (docs/webhooks.md): create (the signing secret in the
// answer, once), list, get, delete, the delivery log, and a test event.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>

#include "api/handler.h"
#include "api/routes.h"
#include "common/time_format.h"

namespace coffer::api {
namespace {

boost::json::object RenderWebhook(const WebhookEndpoint& w) {
  boost::json::object o;
  o["id"] = w.id;
  o["vault_id"] = w.vault_id;
  o["url"] = w.url;
  o["description"] = w.description;
  boost::json::array events;
  for (const std::string& e : w.events) events.push_back(boost::json::string(e));
  o["events"] = std::move(events);
  o["created_by"] = w.created_by;
  o["created_at"] = FormatRfc3339(w.created_at);
  return o;
}

boost::json::object RenderDelivery(const WebhookDelivery& d) {
  boost::json::object o;
  o["id"] = d.id;
  o["webhook_id"] = d.webhook_id;
  o["event_type"] = d.event_type;
  o["state"] = WebhookDeliveryStateName(d.state);
  o["attempts"] = d.attempts;
  o["created_at"] = FormatRfc3339(d.created_at);
  if (d.last_attempt_at.has_value()) {
    o["last_attempt_at"] = FormatRfc3339(*d.last_attempt_at);
  } else {
    o["last_attempt_at"] = nullptr;
  }
  if (d.last_status_code != 0) {
    o["last_status_code"] = d.last_status_code;
  } else {
    o["last_status_code"] = nullptr;
  }
  if (!d.last_error.empty()) {
    o["last_error"] = d.last_error;
  } else {
    o["last_error"] = nullptr;
  }
  if (d.state == WebhookDeliveryState::kPending) {
    o["next_attempt_at"] = FormatRfc3339(d.next_attempt_at);
  } else {
    o["next_attempt_at"] = nullptr;
  }
  return o;
}

StatusOr<CreateWebhookRequest> ParseCreate(const JsonBody& body) {
  RETURN_IF_ERROR(body.AllowOnly({"url", "events", "description"}));
  CreateWebhookRequest create;
  ASSIGN_OR_RETURN(std::string_view url, body.RequiredString("url"));
  create.url = std::string(url);
  if (!body.Has("events")) return Err(InvalidArgumentError("events is required"));
  ASSIGN_OR_RETURN(create.events, body.StringList("events"));
  ASSIGN_OR_RETURN(std::optional<std::string_view> description, body.String("description"));
  if (description.has_value()) create.description = std::string(*description);
  return create;
}

StatusOr<size_t> Limit(const http::Request& req) {
  auto text = req.Query("limit");
  if (!text.has_value()) return size_t{50};
  size_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || ptr != text->data() + text->size() || v < 1 ||
      v > 500) {
    return Err(InvalidArgumentError("query parameter limit must be a whole number from 1 to 500"));
  }
  return v;
}

}  // namespace

void RegisterWebhookRoutes(http::Router& router, const ApiServices& api) {
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  WebhookService& webhooks = api.webhooks;
  const std::string base = "/v1/vaults/{vault_id}/webhooks";
  router.Add("POST", base,
             Authed(rc, "webhook.create",
                    [&webhooks](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      ASSIGN_OR_RETURN(CreateWebhookRequest create, ParseCreate(*body));
                      ASSIGN_OR_RETURN(
                          CreatedWebhook created,
                          webhooks.Create(ctx, Param(params, "vault_id"), std::move(create)));
                      boost::json::object o = RenderWebhook(created.endpoint);
                      o["secret"] = created.secret.view();
                      return JsonResponse(201, o);
                    }));
  router.Add("GET", base,
             Authed(rc, "webhook.list",
                    [&webhooks](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto list, webhooks.List(ctx, Param(params, "vault_id")));
                      boost::json::array items;
                      for (const WebhookEndpoint& w : list) items.push_back(RenderWebhook(w));
                      boost::json::object o;
                      o["webhooks"] = std::move(items);
                      return JsonResponse(200, o);
                    }));
  router.Add("GET", base + "/{webhook_id}",
             Authed(rc, "webhook.read",
                    [&webhooks](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(WebhookEndpoint w,
                                       webhooks.Get(ctx, Param(params, "vault_id"),
                                                    Param(params, "webhook_id")));
                      return JsonResponse(200, RenderWebhook(w));
                    }));
  router.Add("DELETE", base + "/{webhook_id}",
             Authed(rc, "webhook.delete",
                    [&webhooks](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(webhooks.Delete(ctx, Param(params, "vault_id"),
                                                      Param(params, "webhook_id")));
                      return NoContent();
                    }));
  router.Add("GET", base + "/{webhook_id}/deliveries",
             Authed(rc, "webhook.deliveries",
                    [&webhooks](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(size_t limit, Limit(req));
                      ASSIGN_OR_RETURN(auto list,
                                       webhooks.Deliveries(ctx, Param(params, "vault_id"),
                                                           Param(params, "webhook_id"), limit));
                      boost::json::array items;
                      for (const WebhookDelivery& d : list) items.push_back(RenderDelivery(d));
                      boost::json::object o;
                      o["deliveries"] = std::move(items);
                      return JsonResponse(200, o);
                    }));
  router.Add("POST", base + "/{webhook_id}/test",
             Authed(rc, "webhook.test",
                    [&webhooks](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(WebhookDelivery d,
                                       webhooks.SendTest(ctx, Param(params, "vault_id"),
                                                         Param(params, "webhook_id")));
                      return JsonResponse(202, RenderDelivery(d));
                    }));
}

}  // namespace coffer::api
