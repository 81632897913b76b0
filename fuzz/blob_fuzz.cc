// The ciphertext blob decoder: Keyring::Decrypt (header parsing, key lookup, AES-256-GCM open)
// and AeadBlobKeyId on arbitrary blobs with arbitrary associated data. Checks, per input:
//  - an arbitrary blob never opens (it would need a forged tag) and fails as kDataLoss, and
//    AeadBlobKeyId reads a key id exactly from blobs of at least the overhead with format 1;
//  - the input sealed as plaintext under the input's AAD opens to exactly the plaintext, names
//    the active key id, and has the documented size;
//  - that blob does NOT open with a different AAD (another row), with any one bit flipped, when
//    truncated, with its key id relabelled to another key the keyring holds, or under another
//    keyring (wrong root key) — each fails as kDataLoss, never returning plaintext.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "crypto/aead.h"
#include "crypto/keyring.h"
#include "fuzz_env.h"

namespace {

using coffer::fuzz::Check;

constexpr uint32_t kSecondDataKeyId = 9;

struct Keyrings {
  std::unique_ptr<coffer::Random> random = coffer::NewDeterministicRandom(8);
  std::unique_ptr<coffer::Keyring> main;
  std::unique_ptr<coffer::Keyring> other;  // same key ids, different root key
};

std::unique_ptr<coffer::Keyring> MakeKeyring(coffer::Random& random) {
  coffer::SecretBuffer root(32);
  Check(random.Fill({root.data(), root.size()}).ok(), "root key");
  auto keys = coffer::Keyring::CreateInitialKeys(root, random, 1);
  Check(keys.has_value(), "initial keys");
  auto second =
      coffer::Keyring::CreateKey(root, kSecondDataKeyId, coffer::kKeyPurposeData, random, 1);
  Check(second.has_value(), "second data key");
  second->active = false;  // an older data key: still opens what it sealed
  keys->push_back(std::move(*second));
  auto keyring = coffer::Keyring::Unwrap(*keys, root, random);
  Check(keyring.has_value(), "unwrap");
  return std::move(*keyring);
}

Keyrings& Get() {
  static Keyrings* k = [] {
    auto* keyrings = new Keyrings();
    keyrings->main = MakeKeyring(*keyrings->random);
    keyrings->other = MakeKeyring(*keyrings->random);
    return keyrings;
  }();
  return *k;
}

void CheckRefused(const coffer::StatusOr<coffer::SecretBuffer>& opened, const char* what) {
  Check(!opened.has_value(), what);
  Check(opened.error().code() == coffer::StatusCode::kDataLoss, "a refusal is not kDataLoss");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) {
    return 0;
  }
  Keyrings& k = Get();
  // Layout: [aad length][flip position (2 bytes)][aad][rest = blob / plaintext].
  const size_t aad_size = std::min<size_t>(data[0], size - 3);
  const size_t flip = static_cast<size_t>(data[1]) << 8 | data[2];
  const std::span<const uint8_t> aad(data + 3, aad_size);
  const std::span<const uint8_t> rest(data + 3 + aad_size, size - 3 - aad_size);

  // Arbitrary bytes as a blob.
  CheckRefused(k.main->Decrypt(rest, aad), "an arbitrary blob opened");
  const auto key_id = coffer::AeadBlobKeyId(rest);
  Check(key_id.has_value() ==
            (rest.size() >= coffer::kBlobOverhead && rest[0] == coffer::kBlobFormatV1),
        "AeadBlobKeyId disagrees with the documented header");
  if (key_id.has_value()) {
    Check(*key_id == (uint32_t{rest[1]} << 24 | uint32_t{rest[2]} << 16 | uint32_t{rest[3]} << 8 |
                      uint32_t{rest[4]}),
          "AeadBlobKeyId does not read the big-endian key id");
  }

  // Round trip of the rest as plaintext.
  auto blob = k.main->Encrypt(rest, aad);
  Check(blob.has_value(), "Encrypt failed");
  Check(blob->size() == rest.size() + coffer::kBlobOverhead, "blob size is not plaintext+overhead");
  const auto named = coffer::AeadBlobKeyId(*blob);
  Check(named.has_value() && *named == k.main->active_data_key_id(),
        "a new blob does not name the active data key");
  {
    auto opened = k.main->Decrypt(*blob, aad);
    Check(opened.has_value() && opened->Equals(rest), "a blob did not open to its plaintext");
  }

  // Another row's associated data: one byte more, one byte less, or one byte changed.
  std::vector<uint8_t> other_aad(aad.begin(), aad.end());
  other_aad.push_back(static_cast<uint8_t>(flip));
  CheckRefused(k.main->Decrypt(*blob, other_aad), "a blob opened with a longer AAD");
  if (!aad.empty()) {
    CheckRefused(k.main->Decrypt(*blob, aad.first(aad.size() - 1)),
                 "a blob opened with a shorter AAD");
    std::vector<uint8_t> changed(aad.begin(), aad.end());
    changed[flip % changed.size()] ^= static_cast<uint8_t>(1u << (flip >> 13));
    CheckRefused(k.main->Decrypt(*blob, changed), "a blob opened with a changed AAD");
  }

  // One flipped bit anywhere in the blob.
  {
    std::vector<uint8_t> tampered = *blob;
    tampered[flip % tampered.size()] ^= static_cast<uint8_t>(1u << (flip >> 13));
    CheckRefused(k.main->Decrypt(tampered, aad), "a blob with a flipped bit opened");
  }
  // Truncated at any length.
  CheckRefused(k.main->Decrypt(std::span<const uint8_t>(*blob).first(flip % blob->size()), aad),
               "a truncated blob opened");
  // Relabelled to the other data key this keyring holds.
  {
    std::vector<uint8_t> relabelled = *blob;
    relabelled[1] = 0;
    relabelled[2] = 0;
    relabelled[3] = 0;
    relabelled[4] = kSecondDataKeyId;
    CheckRefused(k.main->Decrypt(relabelled, aad), "a blob relabelled to another key opened");
  }
  // Another data directory's keyring (same key ids, different keys).
  CheckRefused(k.other->Decrypt(*blob, aad), "a blob opened under another root key");
  return 0;
}
