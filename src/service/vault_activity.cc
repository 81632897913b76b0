// AuditService::Activity: a vault's reads, writes and refusals per hour, counted from its audit
// trail, for the dashboard's activity chart.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "service/audit_service.h"
#include "service/authorizer.h"
#include "service/vault_service.h"

namespace coffer {

namespace {

constexpr UnixMicros kHour = 3600 * kMicrosPerSecond;
constexpr size_t kAuditPage = 1000;

// The actions that change a secret (a value, a version's state, an alias, a schedule).
constexpr std::array<std::string_view, 12> kWriteActions = {
    "secret.write",   "secret.rotate",          "secret.rotated",         "secret.delete",
    "secret.disable", "secret.disable_version", "secret.destroy_version", "secret.alias",
    "secret.promote", "secret.rollback",        "secret.schedule",        "secret.unschedule"};

void CountInto(const AuditEvent& e, ActivityBucket& bucket) {
  if (e.outcome == "denied") {
    ++bucket.refusals;
    return;
  }
  if (e.outcome != "success") return;
  if (e.action == "secret.read") {
    ++bucket.reads;
  } else if (std::find(kWriteActions.begin(), kWriteActions.end(), e.action) !=
             kWriteActions.end()) {
    ++bucket.writes;
  }
}

}  // namespace

StatusOr<VaultActivity> AuditService::Activity(const RequestContext& ctx, std::string_view vault_id,
                                               int64_t hours) {
  return deps_.audit.Audited<VaultActivity>(
      ctx, "vault.activity", [&](AuditEvent& event) -> StatusOr<VaultActivity> {
        AuditLog::SetTarget(event, vault_id, "");
        if (hours < 1 || hours > kMaxActivityHours) {
          return Err(InvalidArgumentError(
              fmt::format("hours must be between 1 and {}", kMaxActivityHours)));
        }
        RETURN_IF_ERROR(ValidateVaultId(vault_id));
        auto vault = deps_.cache.GetVault(vault_id);
        if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
        const bool everything = Authorizer::IsOwner(ctx.principal, *vault);
        Authorizer::ListFilter listable;
        if (!everything) {
          RETURN_IF_ERROR(deps_.authorizer.AuthorizeListing(ctx, *vault, ""));
          ASSIGN_OR_RETURN(listable, deps_.authorizer.ListablePaths(ctx, *vault));
        }
        VaultActivity activity;
        activity.hours = hours;
        const UnixMicros now = deps_.clock.Now();
        const UnixMicros first = (now / kHour - (hours - 1)) * kHour;
        activity.buckets.resize(static_cast<size_t>(hours));
        for (int64_t i = 0; i < hours; ++i) {
          activity.buckets[static_cast<size_t>(i)].start = first + i * kHour;
        }
        AuditQuery query;
        query.vault_id = vault->id;
        query.since = first;
        query.limit = kAuditPage;
        while (true) {
          ASSIGN_OR_RETURN(std::vector<AuditEvent> events, deps_.audit.List(query));
          for (const AuditEvent& e : events) {
            if (e.at < first) continue;
            const auto index = static_cast<size_t>((e.at - first) / kHour);
            if (index >= activity.buckets.size()) continue;
            // Those who may list only some paths see only the events of those paths.
            if (!everything && (e.path.empty() || !listable.Matches(e.path))) continue;
            CountInto(e, activity.buckets[index]);
          }
          if (events.size() < kAuditPage) return activity;
          query.after_seq = events.back().seq;
        }
      });
}

}  // namespace coffer
