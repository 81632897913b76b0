// ReencryptAll: batched decrypt-and-seal of old blobs under the active data key, each batch one
// compare-and-swap transaction.
#include "service/reencrypt.h"

#include <algorithm>

#include "crypto/aead.h"
#include "service/webhook_service.h"

namespace coffer {

namespace {

// Versions whose blob does not name `key_id`, from CountCiphertextsByKey.
int64_t CountNotUnder(const std::map<int64_t, int64_t>& counts, uint32_t key_id) {
  int64_t n = 0;
  for (const auto& [id, count] : counts) {
    if (id != static_cast<int64_t>(key_id)) {
      n += count;
    }
  }
  return n;
}

}  // namespace

StatusOr<ReencryptProgress> ReencryptAll(Store& store, const Keyring& keyring,
                                         const ReencryptOptions& options) {
  ReencryptProgress progress;
  progress.target_key_id = keyring.active_data_key_id();
  ASSIGN_OR_RETURN(auto counts, store.CountCiphertextsByKey());
  progress.left = CountNotUnder(counts, progress.target_key_id);
  const int64_t initial_left = progress.left;
  int64_t processed = 0;
  const size_t batch_size = std::max<size_t>(options.batch_size, 1);
  std::string after_secret_id;
  int64_t after_version = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<StoredCiphertext> rows,
                     store.ListCiphertextsNotUnderKey(progress.target_key_id, after_secret_id,
                                                      after_version, batch_size));
    if (rows.empty()) {
      break;
    }
    after_secret_id = rows.back().secret_id;
    after_version = rows.back().version;
    std::vector<CiphertextSwap> swaps;
    swaps.reserve(rows.size());
    for (StoredCiphertext& row : rows) {
      const std::vector<uint8_t> aad = SecretAad(row.vault_id, row.secret_id, row.version);
      StatusOr<SecretBuffer> value = keyring.Decrypt(row.ciphertext, aad);
      if (!value.has_value()) {
        ++progress.failed;
        if (options.on_damaged) {
          const auto key_id = AeadBlobKeyId(row.ciphertext);
          options.on_damaged(
              DamagedVersion{row.vault_id, row.path, row.version,
                             key_id.has_value() ? int64_t{*key_id} : kUnreadableKeyId, ""});
        }
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, keyring.Encrypt(value->span(), aad));
      swaps.push_back(
          CiphertextSwap{row.secret_id, row.version, std::move(row.ciphertext), std::move(sealed)});
    }
    if (!swaps.empty()) {
      ASSIGN_OR_RETURN(const int64_t swapped, store.SwapCiphertexts(swaps));
      progress.moved += swapped;
      progress.skipped += static_cast<int64_t>(swaps.size()) - swapped;
    }
    // Damaged rows stay behind, so they stay counted as left.
    processed += static_cast<int64_t>(rows.size());
    progress.left = std::max<int64_t>(initial_left - processed, 0) + progress.failed;
    if (options.on_batch) {
      options.on_batch(progress);
    }
  }
  // Webhook endpoints' signing secrets, the same way, each bound to its vault and endpoint id.
  std::string after_webhook_id;
  while (true) {
    ASSIGN_OR_RETURN(
        std::vector<StoredWebhookSecret> rows,
        store.ListWebhookSecretsNotUnderKey(progress.target_key_id, after_webhook_id, batch_size));
    if (rows.empty()) {
      break;
    }
    after_webhook_id = rows.back().webhook_id;
    std::vector<WebhookSecretSwap> swaps;
    swaps.reserve(rows.size());
    for (StoredWebhookSecret& row : rows) {
      const std::vector<uint8_t> aad = WebhookSecretAad(row.vault_id, row.webhook_id);
      StatusOr<SecretBuffer> value = keyring.Decrypt(row.sealed_secret, aad);
      if (!value.has_value()) {
        ++progress.failed;
        if (options.on_damaged) {
          const auto key_id = AeadBlobKeyId(row.sealed_secret);
          DamagedVersion damaged;
          damaged.vault_id = row.vault_id;
          damaged.webhook_id = row.webhook_id;
          damaged.key_id = key_id.has_value() ? int64_t{*key_id} : kUnreadableKeyId;
          options.on_damaged(damaged);
        }
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, keyring.Encrypt(value->span(), aad));
      swaps.push_back(
          WebhookSecretSwap{row.webhook_id, std::move(row.sealed_secret), std::move(sealed)});
    }
    if (!swaps.empty()) {
      ASSIGN_OR_RETURN(const int64_t swapped, store.SwapWebhookSecrets(swaps));
      progress.moved += swapped;
      progress.skipped += static_cast<int64_t>(swaps.size()) - swapped;
    }
    processed += static_cast<int64_t>(rows.size());
    progress.left = std::max<int64_t>(initial_left - processed, 0) + progress.failed;
    if (options.on_batch) {
      options.on_batch(progress);
    }
  }
  ASSIGN_OR_RETURN(counts, store.CountCiphertextsByKey());
  progress.left = CountNotUnder(counts, progress.target_key_id);
  return progress;
}

}  // namespace coffer
