// Long polls: the query is checked, a watch is registered before the store is looked at (so a
// change in between is not missed), and when nothing newer exists yet the answer is deferred to
// the HTTP server, which holds no worker thread while it waits.
#include "api/watch_routes.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <memory>
#include <span>
#include <utility>

#include "common/sha256.h"
#include "http/problem_json.h"

namespace coffer::api {

namespace {

// A whole number in [min, max], or kInvalidArgument naming the parameter.
StatusOr<int64_t> BoundedQueryInteger(const http::Request& request, std::string_view name,
                                      int64_t min, int64_t max, std::string_view what) {
  const std::string_view text = request.Query(name).value_or("");
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return Err(InvalidArgumentError(fmt::format("query parameter {} must be {}", name, what)));
  }
  return v;
}

StatusOr<int64_t> WaitSeconds(const http::Request& request) {
  return BoundedQueryInteger(
      request, "wait", 1, kMaxWaitSeconds,
      fmt::format("a whole number of seconds from 1 to {}", kMaxWaitSeconds));
}

Status AllowOnly(const http::Request& request, std::initializer_list<std::string_view> allowed,
                 std::string_view listed) {
  for (const auto& [name, value] : request.query) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return InvalidArgumentError(fmt::format("unknown query parameter (allowed: {})", listed));
    }
  }
  return OkStatus();
}

// A context for work done after the handler returned: audited on its own (a new request's worth
// of audit), synchronously (the worker thread may wait for it).
RequestContext LaterContext(const RequestContext& ctx) {
  RequestContext later = ctx;
  later.audited = false;
  later.defer_audit = false;
  later.audit_receipt = nullptr;
  return later;
}

http::Response ProblemOrValue(const StatusOr<SecretValue>& value) {
  return value.has_value() ? ValueResponse(*value) : http::ProblemFromStatus(value.error());
}

// The cursor of a listing: what it shows (each secret's path, latest version, its times), hashed.
// Equal cursors, equal listings; any change a listing shows (a new version, a disabled latest
// version, a secret deleted or created) gives another cursor.
std::string ListCursor(const SecretListPage& page) {
  std::string text;
  for (const SecretSummary& s : page.secrets) {
    text += fmt::format("{}\n{}\n{}\n{}\n", s.path, s.version, s.created_at,
                        s.disabled_at.has_value() ? *s.disabled_at : -1);
  }
  text += page.next_after;
  const Sha256Digest digest =
      Sha256({std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())});
  return HexEncode(std::span(digest).first(16));
}

// The deferred answer: waits until `wake` fires, then `resume` decides.
http::Response Defer(std::shared_ptr<http::WakeSignal> wake, std::shared_ptr<void> watch,
                     int64_t wait_seconds,
                     std::function<std::optional<http::Response>(bool)> resume) {
  auto deferred = std::make_shared<http::Deferred>();
  deferred->wake = std::move(wake);
  deferred->timeout = std::chrono::seconds(wait_seconds);
  deferred->hold = std::move(watch);
  deferred->resume = std::move(resume);
  http::Response r;
  r.deferred = std::move(deferred);
  return r;
}

}  // namespace

bool AsksToWait(const http::Request& request) { return request.Query("wait").has_value(); }

StatusOr<http::Response> WatchSecret(SecretService& secrets, AuditLog& audit,
                                     const http::Request& request, const http::RouteParams& params,
                                     const RequestContext& ctx) {
  RETURN_IF_ERROR(AllowOnly(request, {"wait", "after_version"}, "wait, after_version"));
  ASSIGN_OR_RETURN(const int64_t wait_seconds, WaitSeconds(request));
  int64_t after = 0;
  if (request.Query("after_version").has_value()) {
    ASSIGN_OR_RETURN(
        after, BoundedQueryInteger(request, "after_version", 0, std::numeric_limits<int64_t>::max(),
                                   "a non-negative integer"));
  }
  const std::string& vault_id = Param(params, "vault_id");
  const std::string& path = Param(params, "path");

  auto wake = std::make_shared<http::WakeSignal>();
  std::shared_ptr<void> watch =
      secrets.watchers().Watch(vault_id, path, /*prefix=*/false, [wake] { wake->Fire(); });
  ASSIGN_OR_RETURN(const int64_t latest, secrets.LatestReadableVersion(ctx, vault_id, path));
  if (latest != 0 && latest != after) {
    ASSIGN_OR_RETURN(SecretValue value, secrets.Get(ctx, vault_id, path));
    return ValueResponse(value);
  }
  // Nothing newer yet: the request's event says it waited; a read that follows has its own.
  AuditEvent event = audit.NewEvent(ctx, "secret.watch");
  AuditLog::SetTarget(event, vault_id, path);
  event.version = after;
  RequestContext now = LaterContext(ctx);
  RETURN_IF_ERROR(audit.Record(now, std::move(event), OkStatus()));
  ctx.audited = true;
  if (!request.before_send_honoured) {
    http::Response r;  // a caller that cannot wait (a test, a fuzzer): the time is up at once
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  RequestContext later = LaterContext(ctx);
  return Defer(
      std::move(wake), std::move(watch), wait_seconds,
      [&secrets, later, vault_id, path, after](bool woken) -> std::optional<http::Response> {
        if (!woken) return std::nullopt;  // 304
        auto latest = secrets.LatestReadableVersion(later, vault_id, path);
        if (latest.has_value() && (*latest == 0 || *latest == after)) return std::nullopt;
        // Another version (newer, or older after a rollback), or refused now (a policy changed):
        // Get audits either as a read.
        RequestContext read = LaterContext(later);
        return ProblemOrValue(secrets.Get(read, vault_id, path));
      });
}

StatusOr<http::Response> WatchSecretList(SecretService& secrets, const http::Request& request,
                                         const http::RouteParams& params,
                                         const RequestContext& ctx) {
  RETURN_IF_ERROR(AllowOnly(request, {"prefix", "wait", "since"}, "prefix, wait, since"));
  ASSIGN_OR_RETURN(const int64_t wait_seconds, WaitSeconds(request));
  const std::string& vault_id = Param(params, "vault_id");
  const std::string prefix(request.Query("prefix").value_or(""));
  const std::optional<std::string_view> since = request.Query("since");

  auto wake = std::make_shared<http::WakeSignal>();
  std::shared_ptr<void> watch =
      secrets.watchers().Watch(vault_id, prefix, /*prefix=*/true, [wake] { wake->Fire(); });
  // Audited as secret.list, like every listing (each look after a wake too).
  ASSIGN_OR_RETURN(SecretListPage page, secrets.List(ctx, vault_id, prefix, "", std::nullopt));
  std::string cursor = ListCursor(page);
  if (!since.has_value() || *since != cursor) {
    return ListPageResponse(page, std::move(cursor));
  }
  if (!request.before_send_honoured) {
    http::Response r;
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  RequestContext later = LaterContext(ctx);
  return Defer(
      std::move(wake), std::move(watch), wait_seconds,
      [&secrets, later, vault_id, prefix, cursor](bool woken) -> std::optional<http::Response> {
        if (!woken) return std::nullopt;  // 304
        RequestContext look = LaterContext(later);
        auto page = secrets.List(look, vault_id, prefix, "", std::nullopt);
        if (!page.has_value()) return http::ProblemFromStatus(page.error());
        std::string now = ListCursor(*page);
        if (now == cursor) return std::nullopt;  // wait on
        return ListPageResponse(*page, std::move(now));
      });
}

}  // namespace coffer::api
