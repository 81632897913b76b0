// The tools of a secret's lifecycle in `coffer mcp`: usage (docs/usage.md), aliases with promote
// and rollback (docs/secret-versions.md) and rotation schedules (docs/rotation.md). Each calls one
// route of the API under the session's token; none returns a secret value.
#include <boost/json/serialize.hpp>

#include "agent/mcp_tools.h"

namespace coffer::agent::mcp {
namespace {

// Each secret's reads (docs/usage.md): path, latest version, its reads and the secret's usage;
// with unused_since only those not read since then.
Status ListUsage(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, args));
  ASSIGN_OR_RETURN(std::string prefix, args.String("prefix", false));
  ASSIGN_OR_RETURN(std::string unused_since, args.String("unused_since", false));
  ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(vault_id, prefix, unused_since));
  json::array items(doc.storage());
  for (const client::SecretMeta& s : secrets) {
    json::object o(doc.storage());
    for (std::string_view key : {"path", "version", "access_count", "last_read_at", "last_read_by",
                                 "secret_usage", "created_at"}) {
      if (const json::value* v = s.json.if_contains(key)) o[key] = *v;
    }
    items.push_back(std::move(o));
  }
  json::object out(doc.storage());
  out["secrets"] = std::move(items);
  doc.value() = std::move(out);
  return OkStatus();
}

Status SetAlias(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(std::string alias, args.String("alias", true));
  ASSIGN_OR_RETURN(auto version, args.Integer("version", true));
  ASSIGN_OR_RETURN(json::object aliases, c.SetAlias(t.vault_id, t.path, alias, *version));
  return SetPlain(doc, aliases);
}

Status Promote(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(json::object aliases, c.Promote(t.vault_id, t.path));
  return SetPlain(doc, aliases);
}

Status Rollback(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(json::object aliases, c.Rollback(t.vault_id, t.path));
  return SetPlain(doc, aliases);
}

// Sets the secret's rotation schedule from a rotation_policy object, or removes it when the
// policy is null.
Status ScheduleRotation(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  const json::value* policy = args.Raw("rotation_policy");
  if (policy == nullptr) return InvalidArgumentError("'rotation_policy' is required");
  if (policy->is_null()) {
    RETURN_IF_ERROR(c.UnscheduleSecret(t.vault_id, t.path));
    return SetPlain(doc, json::object{{"path", t.path}, {"scheduled", false}});
  }
  if (!policy->is_object()) {
    return InvalidArgumentError("'rotation_policy' must be an object (or null to unschedule)");
  }
  ASSIGN_OR_RETURN(json::object schedule,
                   c.ScheduleSecret(t.vault_id, t.path, json::serialize(*policy)));
  return SetPlain(doc, schedule);
}

}  // namespace

const std::vector<Tool>& LifecycleTools() {
  static const std::vector<Tool> kTools = {
      {"list_usage", "List secrets' usage",
       "Reads of each secret of a vault: count, last read time and reader, per latest version "
       "and over all versions; with unused_since only secrets not read since then. Counts lag "
       "by the server's usage flush interval.",
       true, false,
       ObjectSchema(
           std::string(kVaultProp) +
               R"j(,"prefix":{"type":"string","description":"Only paths starting with this"},)j"
               R"j("unused_since":{"type":"string","format":"date-time",)j"
               R"j("description":"Only secrets not read since this RFC 3339 time"})j",
           R"j("vault")j"),
       ListUsage},
      {"set_alias", "Point an alias at a version",
       "Point an alias of a secret (current, pending, previous, or a name of your own) at one of "
       "its versions. Setting current changes what plain reads return. Returns the secret's "
       "aliases.",
       false, false,
       ObjectSchema(
           SecretProps(R"j(,"alias":{"type":"string","pattern":"^[a-z][a-z0-9_-]{0,31}$",)j"
                       R"j("description":"current, pending, previous or your own name"},)j"
                       R"j("version":{"type":"integer","minimum":1,)j"
                       R"j("description":"The version the alias names"})j"),
           R"j("vault","path","alias","version")j"),
       SetAlias},
      {"promote", "Promote the pending version",
       "Make the version `pending` names current (the old current becomes previous), in one "
       "step. Plain reads return it from then on. Returns the secret's aliases.",
       false, false, ObjectSchema(SecretProps(), R"j("vault","path")j"), Promote},
      {"rollback", "Roll back to the previous version",
       "Make the version `previous` names current again (the one rolled back from becomes "
       "pending), in one step. Returns the secret's aliases.",
       false, false, ObjectSchema(SecretProps(), R"j("vault","path")j"), Rollback},
      {"schedule_rotation", "Schedule a secret's rotation",
       "Have the server rotate a secret on a schedule (or notify when it is due): "
       "rotation_policy as docs/rotation.md describes it, e.g. {\"interval\":\"30d\"} or "
       "{\"cron\":\"0 3 * * 1\",\"action\":\"notify\"}; null removes the schedule. "
       "Returns the schedule with its next due time.",
       false, false,
       ObjectSchema(SecretProps(R"j(,"rotation_policy":{"type":["object","null"],)j"
                                R"j("description":"The schedule, or null to remove it"})j"),
                    R"j("vault","path","rotation_policy")j"),
       ScheduleRotation},
  };
  return kTools;
}

}  // namespace coffer::agent::mcp
