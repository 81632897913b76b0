// Re-encryption of stored values under the active data key (`coffer keys reencrypt`): moves every
// secret version sealed under an older data key to the active one, in batches, so the older
// key can be retired. Safe to interrupt (kill -9 included) and run again, and to run while
// servers write: each batch is one transaction of compare-and-swaps on the old blobs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace coffer {

struct ReencryptProgress {
  uint32_t target_key_id = 0;  // the active data key values are moved to
  int64_t moved = 0;           // versions re-encrypted by this run
  int64_t skipped = 0;         // versions changed or deleted meanwhile (left as they are)
  int64_t failed = 0;          // versions that did not decrypt (left as they are; see `damaged`)
  int64_t left = 0;            // versions not yet under the target key (estimate while running)
};

// A version (or a webhook endpoint's signing secret) that failed to decrypt: where it is, never
// any of its bytes.
struct DamagedVersion {
  std::string vault_id;
  std::string path;
  int64_t version = 0;
  int64_t key_id = 0;      // kUnreadableKeyId when the blob is too short to name one
  std::string webhook_id;  // set for a webhook signing secret (path empty, version 0)
};

struct ReencryptOptions {
  size_t batch_size = 100;  // versions per transaction (>= 1)
  // Called after each batch is committed. May be empty.
  std::function<void(const ReencryptProgress&)> on_batch;
  // Called for each version that does not decrypt. May be empty.
  std::function<void(const DamagedVersion&)> on_damaged;
};

// Re-encrypts, under `keyring`'s active data key, every version whose blob names another key:
// decrypt with the associated data of its row (vault id, secret id, version), seal again with the
// same associated data, and swap the blob only if it is still the one read. Then the same for
// webhook endpoints' signing secrets (associated data: WebhookSecretAad(vault id, webhook id));
// the counts of ReencryptProgress include them. Nothing else in the
// row changes. Returns the final counts (`left` recounted from the store at the end: versions
// written meanwhile by a server that had not yet seen the rotation, or damaged ones); the
// store's error if a read or a batch fails (what was committed stays; a rerun resumes).
// Not thread-safe against itself on one store (two runs waste work but stay correct).
StatusOr<ReencryptProgress> ReencryptAll(Store& store, const Keyring& keyring,
                                         const ReencryptOptions& options);

}  // namespace coffer
