// `coffer keys rotate-pepper`, `rewrap-pepper`, `pepper-status` and `retire-pepper`: rotation of
// the pepper that API keys, agent rotation secrets and share-link tokens are hashed under
// (docs/operations.md, "Rotating the pepper"; the scheme is described in crypto/keyring.h). They
// run against the store while servers run; servers hold a new pepper within one keyring refresh
// and hash under it once it is kPepperSettle old.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "admin/keys_support.h"
#include "common/exit_codes.h"
#include "common/option_bounds.h"
#include "common/time_format.h"
#include "service/keyring_refresher.h"

namespace coffer::admin {

using server::InitializedStore;
using server::OpenInitializedStore;

namespace {

// How long after a rotation an old pepper may be retired: servers write under the new one once
// it is kPepperSettle old, and hear of it within a refresh interval or two more.
constexpr UnixMicros kPepperRetireGrace =
    kPepperSettle +
    3 * std::chrono::duration_cast<std::chrono::microseconds>(kKeyringRefreshInterval).count();

std::string_view KindName(PepperHashKind kind) {
  return kind == PepperHashKind::kCredential ? "credentials" : "share links";
}

// The active pepper of `keys`, or null.
const WrappedKey* ActivePepper(const std::vector<WrappedKey>& keys) {
  const WrappedKey* active = nullptr;
  for (const WrappedKey& key : keys) {
    if (key.purpose == kKeyPurposePepper && key.active &&
        (active == nullptr || key.id > active->id)) {
      active = &key;
    }
  }
  return active;
}

// How many stored hashes of each kind name pepper `id` anywhere in their chain.
struct Naming {
  int64_t credentials = 0;
  int64_t shares = 0;
};
Naming CountNaming(const std::vector<PepperHashCount>& counts, uint32_t id) {
  Naming n;
  for (const PepperHashCount& c : counts) {
    if (std::find(c.pepper_ids.begin(), c.pepper_ids.end(), id) == c.pepper_ids.end()) continue;
    (c.kind == PepperHashKind::kCredential ? n.credentials : n.shares) += c.count;
  }
  return n;
}

// A chain as the operator reads it: "2" or "2>5" (HMAC under 5 of the HMAC under 2).
std::string ChainText(const std::vector<uint32_t>& ids) {
  if (ids.empty()) return "-";
  std::string out;
  for (const uint32_t id : ids) {
    if (!out.empty()) out.push_back('>');
    out += std::to_string(id);
  }
  return out;
}

int RunRotatePepper(const ServerConfig& config) {
  SystemRandom random;
  auto unlocked = OpenUnlocked(config, random);
  if (std::holds_alternative<int>(unlocked)) return std::get<int>(unlocked);
  auto& [o, ring, root_key] = std::get<UnlockedStore>(unlocked);
  uint32_t next_id = 1;
  for (const WrappedKey& key : o.keys) next_id = std::max(next_id, key.id + 1);
  const uint32_t previous = ring->active_pepper_id();
  auto key =
      Keyring::CreateKey(*root_key, next_id, kKeyPurposePepper, random, o.store.clock->Now());
  root_key.reset();
  if (!key.has_value()) {
    fmt::print(stderr, "error: {}\n", key.error().message());
    return kExitError;
  }
  if (Status s = o.store.store->InsertKey(*key); !s.ok()) {
    fmt::print(stderr, "error: cannot store the new pepper: {}{}\n", s.message(),
               s.code() == StatusCode::kAlreadyExists ? " (another rotation ran; try again)" : "");
    return kExitError;
  }
  Audit(*o.store.store, *o.store.clock, "keys.rotate_pepper", KeyPath(next_id, kKeyPurposePepper));
  fmt::print(
      "Pepper {} is now active (pepper {} still verifies). Running servers hold it within {} s\n"
      "and hash new keys under it after {} s; each key moves to it when next used.\n"
      "Next, after {} s: `coffer keys rewrap-pepper` to chain every other stored hash under it.\n",
      next_id, previous, kKeyringRefreshInterval.count(), kPepperSettle / kMicrosPerSecond,
      kPepperSettle / kMicrosPerSecond);
  return kExitOk;
}

// What a rewrap did, per kind.
struct RewrapCount {
  int64_t chained = 0;  // [p] became [p, active]
  int64_t already = 0;  // under the active pepper already (last in the chain)
  int64_t changed = 0;  // rehashed by a server meanwhile (the conditional write lost)
  int64_t left = 0;     // chained under an older pepper: moves only when next used
};

Status RewrapKind(Store& store, const Keyring& ring, PepperHashKind kind, uint32_t active,
                  size_t batch_size, RewrapCount& count) {
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<PepperHash> rows, store.ListPepperHashes(kind, after, batch_size));
    if (rows.empty()) return OkStatus();
    for (const PepperHash& row : rows) {
      after = row.id;
      if (!row.pepper_ids.empty() && row.pepper_ids.back() == active) {
        ++count.already;
        continue;
      }
      if (row.pepper_ids.size() != 1) {
        ++count.left;
        continue;
      }
      const std::vector<uint32_t> outer{active};
      ASSIGN_OR_RETURN(
          std::vector<uint8_t> chained,
          ring.PepperMac(outer, std::string_view(reinterpret_cast<const char*>(row.hmac.data()),
                                                 row.hmac.size())));
      const std::vector<uint32_t> chain{row.pepper_ids.front(), active};
      Status s = store.ReplacePepperHash(kind, row.id, row.hmac, chained, chain);
      if (s.code() == StatusCode::kAborted || s.code() == StatusCode::kNotFound) {
        ++count.changed;  // rehashed on use, or deleted, meanwhile
        continue;
      }
      RETURN_IF_ERROR(s);
      ++count.chained;
    }
  }
}

int RunRewrapPepper(const ServerConfig& config, size_t batch_size) {
  if (const int bad = CheckBatchSize(batch_size); bad != kExitOk) return bad;
  SystemRandom random;
  auto unlocked = OpenUnlocked(config, random);
  if (std::holds_alternative<int>(unlocked)) return std::get<int>(unlocked);
  auto& [o, ring, root_key] = std::get<UnlockedStore>(unlocked);
  root_key.reset();
  const WrappedKey* active = ActivePepper(o.keys);
  if (active == nullptr) {
    fmt::print(stderr, "error: the keyring has no active pepper\n");
    return kExitError;
  }
  // A chained hash needs the active pepper to verify: every server must hold it first.
  const UnixMicros since = o.store.clock->Now() - active->created_at;
  if (since < kPepperSettle) {
    fmt::print(stderr,
               "error: pepper {} is {} ms old; running servers may not hold it yet: try again in "
               "{} ms\n",
               active->id, since / 1000, (kPepperSettle - since) / 1000 + 1);
    return kExitError;
  }
  int exit_code = kExitOk;
  for (const PepperHashKind kind : {PepperHashKind::kCredential, PepperHashKind::kShare}) {
    RewrapCount count;
    if (Status s = RewrapKind(*o.store.store, *ring, kind, active->id, batch_size, count);
        !s.ok()) {
      fmt::print(stderr, "error: rewrapping {} stopped: {} (what was done is kept; run it again)\n",
                 KindName(kind), s.message());
      exit_code = kExitError;
    }
    fmt::print(
        "{}: {} chained under pepper {}, {} were already, {} moved meanwhile, {} chained under "
        "an older pepper (they move when next used)\n",
        KindName(kind), count.chained, active->id, count.already, count.changed, count.left);
  }
  Audit(*o.store.store, *o.store.clock, "keys.rewrap_pepper",
        KeyPath(active->id, kKeyPurposePepper));
  return exit_code;
}

int RunPepperStatus(const ServerConfig& config) {
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  InitializedStore& o = std::get<InitializedStore>(opened);
  auto counts = o.store.store->CountPepperHashes(o.store.clock->Now());
  if (!counts.has_value()) {
    fmt::print(stderr, "error: {}\n", counts.error().ToString());
    return kExitError;
  }
  const WrappedKey* active = ActivePepper(o.keys);
  fmt::print("{:<8} {:<8} {:<28} {:<12} {}\n", "PEPPER", "STATE", "CREATED", "CREDENTIALS",
             "SHARE LINKS");
  for (const WrappedKey& key : o.keys) {
    if (key.purpose != kKeyPurposePepper) continue;
    const Naming n = CountNaming(*counts, key.id);
    fmt::print("{:<8} {:<8} {:<28} {:<12} {}\n", key.id, &key == active ? "active" : "old",
               FormatRfc3339(key.created_at), n.credentials, n.shares);
  }
  fmt::print("\n{:<12} {:<12} {}\n", "KIND", "CHAIN", "HASHES");
  for (const PepperHashCount& c : *counts) {
    fmt::print("{:<12} {:<12} {}\n", c.kind == PepperHashKind::kCredential ? "credential" : "share",
               ChainText(c.pepper_ids), c.count);
  }
  return kExitOk;
}

int RunRetirePepper(const ServerConfig& config, uint32_t key_id, bool force) {
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  InitializedStore& o = std::get<InitializedStore>(opened);
  const WrappedKey* active = ActivePepper(o.keys);
  const auto it = std::find_if(o.keys.begin(), o.keys.end(), [&](const WrappedKey& k) {
    return k.purpose == kKeyPurposePepper && k.id == key_id;
  });
  if (it == o.keys.end()) {
    fmt::print(stderr, "error: there is no pepper {}\n", key_id);
    return kExitError;
  }
  if (&*it == active) {
    fmt::print(stderr, "error: pepper {} is the active pepper; run `coffer keys rotate-pepper`\n",
               key_id);
    return kExitError;
  }
  auto counts = o.store.store->CountPepperHashes(o.store.clock->Now());
  if (!counts.has_value()) {
    fmt::print(stderr, "error: {}\n", counts.error().ToString());
    return kExitError;
  }
  const Naming n = CountNaming(*counts, key_id);
  if (n.credentials + n.shares > 0) {
    fmt::print(stderr,
               "{}: {} credentials (API keys, rotation secrets) and {} share links still need "
               "pepper {} (`coffer keys pepper-status`); each moves off it when next used.\n",
               force ? "warning" : "error", n.credentials, n.shares, key_id);
    if (!force) {
      fmt::print(stderr, "Retire it anyway with --force: those keys and links stop working.\n");
      return kExitError;
    }
  }
  const UnixMicros since = o.store.clock->Now() - (active == nullptr ? 0 : active->created_at);
  if (since < kPepperRetireGrace) {
    fmt::print(stderr,
               "error: the rotation is {} ms old; a running server may still hash new keys under "
               "pepper {}: try again in {} ms\n",
               since / 1000, key_id, (kPepperRetireGrace - since) / 1000 + 1);
    return kExitError;
  }
  if (Status s = o.store.store->DeleteInactiveKey(key_id, kKeyPurposePepper); !s.ok()) {
    fmt::print(stderr, "error: cannot retire pepper {}: {}\n", key_id, s.message());
    return kExitError;
  }
  Audit(*o.store.store, *o.store.clock, "keys.retire_pepper", KeyPath(key_id, kKeyPurposePepper));
  fmt::print(
      "Pepper {} is retired (deleted from the keyring); running servers drop it within {} s.\n",
      key_id, kKeyringRefreshInterval.count());
  return kExitOk;
}

}  // namespace

void AddPepperCommands(CLI::App& keys, OfflineRegistry& registry) {
  struct Options {
    size_t batch_size = 100;
    uint32_t key_id = 0;
    bool force = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* rotate = keys.add_subcommand(
      "rotate-pepper",
      "Add a new pepper for API-key and share-link hashes and make it active (the old one "
      "verifies until no hash needs it)");
  registry.add_store_options(*rotate);
  rotate->footer("Example:\n  coffer keys rotate-pepper --data-dir /var/lib/coffer");
  rotate->callback([&registry] { registry.action = RunRotatePepper; });
  CLI::App* rewrap = keys.add_subcommand(
      "rewrap-pepper",
      "Chain every stored hash not under the active pepper under it, without the keys "
      "(resumable)");
  registry.add_store_options(*rewrap);
  rewrap->add_option("--batch-size", o->batch_size, "Hashes read per batch")
      ->check(IntegerOption("batch_size"))
      ->capture_default_str();
  rewrap->footer("Example:\n  coffer keys rewrap-pepper --data-dir /var/lib/coffer");
  rewrap->callback([&registry, o] {
    registry.action = [o](const ServerConfig& config) {
      return RunRewrapPepper(config, o->batch_size);
    };
  });
  CLI::App* status =
      keys.add_subcommand("pepper-status", "List the peppers and how many stored hashes need each");
  registry.add_store_options(*status);
  status->callback([&registry] { registry.action = RunPepperStatus; });
  CLI::App* retire =
      keys.add_subcommand("retire-pepper", "Delete an old pepper once no stored hash needs it");
  registry.add_store_options(*retire);
  retire->add_option("--key-id", o->key_id, "The pepper to retire")->required();
  retire->add_flag("--force", o->force,
                   "Retire it even though hashes need it (those keys and links stop working)");
  retire->footer("Example:\n  coffer keys retire-pepper --data-dir /var/lib/coffer --key-id 2");
  retire->callback([&registry, o] {
    registry.action = [o](const ServerConfig& config) {
      return RunRetirePepper(config, o->key_id, o->force);
    };
  });
}

}  // namespace coffer::admin
