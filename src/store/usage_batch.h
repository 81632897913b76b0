// How both stores apply a UsageBatch (Store::ApplyUsage): the batch folded into one row per
// secret, version and agent, each list sorted so that concurrent flushes from several servers
// lock rows in one order (secrets, then versions, then agents) and cannot deadlock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "store/store.h"

namespace coffer::store_internal {

struct SecretReads {
  std::string secret_id;
  int64_t reads = 0;
  UnixMicros last_read_at = 0;
  std::string last_read_by;
};

struct FoldedUsage {
  std::vector<SecretReads> secrets;    // by secret id
  std::vector<VersionReads> versions;  // by (secret id, version)
  std::vector<AgentUse> agents;        // by agent id
};

// Folds entries naming one row into one: reads summed, the latest read (and its reader) kept.
inline FoldedUsage FoldUsage(const UsageBatch& batch) {
  std::map<std::pair<std::string, int64_t>, VersionReads> versions;
  std::map<std::string, SecretReads> secrets;
  std::map<std::string, UnixMicros> agents;
  for (const VersionReads& r : batch.reads) {
    VersionReads& v = versions[{r.secret_id, r.version}];
    if (v.secret_id.empty() || r.last_read_at >= v.last_read_at) {
      v.last_read_at = r.last_read_at;
      v.last_read_by = r.last_read_by;
    }
    v.secret_id = r.secret_id;
    v.version = r.version;
    v.reads += r.reads;
    SecretReads& s = secrets[r.secret_id];
    if (s.secret_id.empty() || r.last_read_at >= s.last_read_at) {
      s.last_read_at = r.last_read_at;
      s.last_read_by = r.last_read_by;
    }
    s.secret_id = r.secret_id;
    s.reads += r.reads;
  }
  for (const AgentUse& a : batch.agents) {
    auto [it, inserted] = agents.emplace(a.agent_id, a.last_used_at);
    if (!inserted) {
      it->second = std::max(it->second, a.last_used_at);
    }
  }
  FoldedUsage out;
  for (auto& [key, s] : secrets) {
    out.secrets.push_back(std::move(s));
  }
  for (auto& [key, v] : versions) {
    out.versions.push_back(std::move(v));
  }
  for (const auto& [id, at] : agents) {
    out.agents.push_back(AgentUse{id, at});
  }
  return out;
}

}  // namespace coffer::store_internal
