// Keyring: creates, wraps and unwraps the data, pepper and token signing keys under the root
// key, encrypts and decrypts stored values with the data keys, computes (chained) HMACs under
// the peppers, and signs and verifies tokens.
#include "crypto/keyring.h"

#include <fmt/format.h>

#include <algorithm>

#include "crypto/aead.h"

namespace coffer {
namespace {

// The wrapped blobs name key id 0: the root key.
constexpr uint32_t kRootKeyId = 0;
constexpr std::string_view kRootKeyMismatch =
    "root key does not match this data directory (the keyring cannot be unwrapped)";

// Binds a wrapped key to its purpose and id, so a stored row cannot be relabelled (for
// example a data key presented as the JWT key) without failing to unwrap.
std::vector<uint8_t> KeyAad(std::string_view purpose, uint32_t id) {
  static constexpr std::string_view kLabel = "coffer/keyring/v1";
  std::vector<uint8_t> aad(kLabel.size() + 4 + purpose.size() + 4);
  uint8_t* p = std::copy(kLabel.begin(), kLabel.end(), aad.data());
  const auto put_u32 = [](uint8_t* out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  put_u32(p, static_cast<uint32_t>(purpose.size()));
  p = std::copy(purpose.begin(), purpose.end(), p + 4);
  put_u32(p, id);
  return aad;
}

// The key `wrapped` holds, unwrapped under `root_key`. kFailedPrecondition when the root key is
// not the one it was wrapped under, or the key has the wrong size; kUnavailable (as the root key
// said it) when the root key cannot be reached.
StatusOr<SecretBuffer> UnwrapKey(RootKey& root_key, const WrappedKey& wrapped) {
  StatusOr<SecretBuffer> key = root_key.Open(wrapped.wrapped, KeyAad(wrapped.purpose, wrapped.id));
  if (!key.has_value()) {
    if (key.error().code() == StatusCode::kUnavailable) return Err(key.error());
    if (SealedRootKind(wrapped.wrapped) != root_key.kind()) {
      return Err(FailedPreconditionError(
          fmt::format("{}: key id {} is sealed by a {} root key, and the root key given is {}",
                      kRootKeyMismatch, wrapped.id,
                      RootKeyKindName(SealedRootKind(wrapped.wrapped)), root_key.Describe())));
    }
    return Err(FailedPreconditionError(std::string(kRootKeyMismatch)));
  }
  if (key->size() != kAeadKeySize) {
    return Err(FailedPreconditionError(
        fmt::format("keyring is inconsistent: key id {} has the wrong size", wrapped.id)));
  }
  return key;
}

// A key the keyring keeps for its life: locked into RAM (never swapped out), wiped when dropped.
// Best effort: where RLIMIT_MEMLOCK refuses, the key is kept unlocked (core dumps are off).
SecretBuffer Held(SecretBuffer key) {
  (void)key.Lock();
  return key;
}

bool IsKnownPurpose(std::string_view purpose) {
  return purpose == kKeyPurposeData || purpose == kKeyPurposePepper || purpose == kKeyPurposeJwt ||
         purpose == kKeyPurposeTokenSigning;
}

// A root key held as bytes, for the SecretBuffer overloads. The bytes are copied and wiped
// with it.
StatusOr<std::unique_ptr<RootKey>> BytesRoot(const SecretBuffer& root_key, Random& random) {
  if (root_key.size() != kAeadKeySize) {
    return Err(FailedPreconditionError("root key must be 32 bytes"));
  }
  return NewBytesRootKey(root_key.Clone(), random, "the root key");
}

// Whether `held` (keys by id) holds exactly the keys of `purpose` in `keys`, and `held_active` is
// the newest active one of them.
template <typename Map>
bool HoldsExactly(const std::vector<WrappedKey>& keys, std::string_view purpose, const Map& held,
                  uint32_t held_active) {
  size_t stored = 0;
  uint32_t active = 0;
  for (const WrappedKey& wrapped : keys) {
    if (wrapped.purpose != purpose) {
      continue;
    }
    ++stored;
    if (!held.contains(wrapped.id)) {
      return false;
    }
    if (wrapped.active && wrapped.id > active) {
      active = wrapped.id;
    }
  }
  return stored == held.size() && active == held_active;
}

}  // namespace

StatusOr<std::vector<WrappedKey>> Keyring::CreateInitialKeys(const SecretBuffer& root_key,
                                                             Random& random, UnixMicros now) {
  ASSIGN_OR_RETURN(std::unique_ptr<RootKey> root, BytesRoot(root_key, random));
  return CreateInitialKeys(*root, random, now);
}

StatusOr<WrappedKey> Keyring::CreateKey(const SecretBuffer& root_key, uint32_t id,
                                        std::string_view purpose, Random& random, UnixMicros now) {
  if (root_key.size() != kAeadKeySize) {
    return Err(InvalidArgumentError("root key must be 32 bytes"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RootKey> root, BytesRoot(root_key, random));
  return CreateKey(*root, id, purpose, random, now);
}

StatusOr<std::unique_ptr<Keyring>> Keyring::Unwrap(const std::vector<WrappedKey>& keys,
                                                   const SecretBuffer& root_key, Random& random) {
  ASSIGN_OR_RETURN(std::unique_ptr<RootKey> root, BytesRoot(root_key, random));
  return Unwrap(keys, *root, random);
}

StatusOr<bool> Keyring::RefreshDataKeys(const std::vector<WrappedKey>& keys,
                                        const SecretBuffer& root_key) {
  if (DataKeysMatch(keys)) {
    return false;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RootKey> root, BytesRoot(root_key, random_));
  return RefreshDataKeys(keys, *root);
}

StatusOr<WrappedKey> Keyring::Reseal(const WrappedKey& wrapped, RootKey& from, RootKey& to) {
  ASSIGN_OR_RETURN(SecretBuffer key, UnwrapKey(from, wrapped));
  WrappedKey out = wrapped;
  ASSIGN_OR_RETURN(out.wrapped, to.Seal(key, KeyAad(wrapped.purpose, wrapped.id)));
  return out;
}

Status Keyring::Verify(const WrappedKey& wrapped, RootKey& root_key) {
  ASSIGN_OR_RETURN(SecretBuffer key, UnwrapKey(root_key, wrapped));
  return OkStatus();
}

StatusOr<std::vector<WrappedKey>> Keyring::CreateInitialKeys(RootKey& root_key, Random& random,
                                                             UnixMicros now) {
  std::vector<WrappedKey> keys;
  uint32_t id = 1;
  for (const std::string_view purpose :
       {kKeyPurposeData, kKeyPurposePepper, kKeyPurposeTokenSigning}) {
    ASSIGN_OR_RETURN(WrappedKey key, CreateKey(root_key, id++, purpose, random, now));
    keys.push_back(std::move(key));
  }
  return keys;
}

StatusOr<WrappedKey> Keyring::CreateKey(RootKey& root_key, uint32_t id, std::string_view purpose,
                                        Random& random, UnixMicros now) {
  if (id == kRootKeyId) return Err(InvalidArgumentError("key id 0 is reserved for the root key"));
  if (!IsKnownPurpose(purpose)) {
    return Err(InvalidArgumentError(fmt::format("unknown key purpose \"{}\"", purpose)));
  }
  SecretBuffer key(kAeadKeySize);
  RETURN_IF_ERROR(random.Fill({key.data(), key.size()}));
  ASSIGN_OR_RETURN(std::vector<uint8_t> wrapped, root_key.Seal(key, KeyAad(purpose, id)));
  WrappedKey out;
  out.id = id;
  out.purpose = std::string(purpose);
  out.wrapped = std::move(wrapped);
  out.created_at = now;
  out.active = true;
  return out;
}

StatusOr<std::unique_ptr<Keyring>> Keyring::Unwrap(const std::vector<WrappedKey>& keys,
                                                   RootKey& root_key, Random& random) {
  std::unique_ptr<Keyring> ring(new Keyring(random));
  WriterMutexLock lock(ring->mu_);  // for the analysis only: no other thread sees `ring` yet
  // Among several active keys of one purpose (a rotation half done), the newest id wins.
  uint32_t pepper_id = 0;
  std::vector<uint32_t> seen;
  for (const WrappedKey& wrapped : keys) {
    if (std::find(seen.begin(), seen.end(), wrapped.id) != seen.end()) {
      return Err(FailedPreconditionError(
          fmt::format("keyring is inconsistent: key id {} appears twice", wrapped.id)));
    }
    seen.push_back(wrapped.id);
    // Every key is unwrapped, whatever its purpose, so a wrong root key is caught here and not
    // at the first read of a value.
    ASSIGN_OR_RETURN(SecretBuffer key, UnwrapKey(root_key, wrapped));
    if (wrapped.purpose == kKeyPurposeData) {
      if (wrapped.active && wrapped.id > ring->active_data_key_id_) {
        ring->active_data_key_id_ = wrapped.id;
      }
      ring->data_keys_.emplace(wrapped.id, Held(std::move(key)));
    } else if (wrapped.purpose == kKeyPurposePepper) {
      if (wrapped.active && wrapped.id > pepper_id) {
        pepper_id = wrapped.id;
      }
      ring->peppers_.emplace(
          wrapped.id, std::make_shared<const Pepper>(Held(std::move(key)), wrapped.created_at));
    } else if (wrapped.purpose == kKeyPurposeTokenSigning) {
      ASSIGN_OR_RETURN(TokenKey token_key, UnwrapTokenKey(root_key, wrapped));
      if (wrapped.active && wrapped.id > ring->current_token_key_id_) {
        ring->current_token_key_id_ = wrapped.id;
      }
      ring->token_keys_.emplace(wrapped.id, std::move(token_key));
    }
    // Keys of purposes this version does not know are checked above and otherwise ignored.
  }
  for (const auto& [purpose, id] : {std::pair{kKeyPurposeData, ring->active_data_key_id_},
                                    std::pair{kKeyPurposePepper, pepper_id}}) {
    if (id == 0) {
      return Err(FailedPreconditionError(fmt::format("keyring has no active \"{}\" key", purpose)));
    }
  }
  ring->active_pepper_id_ = pepper_id;
  for (auto& [id, token_key] : ring->token_keys_) {
    token_key.published.current = id == ring->current_token_key_id_;
  }
  return ring;
}

bool Keyring::PeppersMatch(const std::vector<WrappedKey>& keys) const {
  ReaderMutexLock lock(mu_);
  return HoldsExactly(keys, kKeyPurposePepper, peppers_, active_pepper_id_);
}

StatusOr<bool> Keyring::RefreshPeppers(const std::vector<WrappedKey>& keys,
                                       const SecretBuffer& root_key) {
  if (PeppersMatch(keys)) {
    return false;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RootKey> root, BytesRoot(root_key, random_));
  return RefreshPeppers(keys, *root);
}

StatusOr<bool> Keyring::RefreshPeppers(const std::vector<WrappedKey>& keys, RootKey& root_key) {
  if (PeppersMatch(keys)) {
    return false;
  }
  std::map<uint32_t, std::shared_ptr<const Pepper>> fresh;
  uint32_t active = 0;
  for (const WrappedKey& wrapped : keys) {
    if (wrapped.purpose != kKeyPurposePepper) {
      continue;
    }
    if (wrapped.active && wrapped.id > active) {
      active = wrapped.id;
    }
    {
      ReaderMutexLock lock(mu_);
      const auto held = peppers_.find(wrapped.id);
      if (held != peppers_.end()) {
        fresh.emplace(wrapped.id, held->second);
        continue;
      }
    }
    ASSIGN_OR_RETURN(SecretBuffer key, UnwrapKey(root_key, wrapped));
    fresh.emplace(wrapped.id,
                  std::make_shared<const Pepper>(Held(std::move(key)), wrapped.created_at));
  }
  if (active == 0) {
    return Err(FailedPreconditionError("keyring has no active \"hmac-pepper\" key"));
  }
  WriterMutexLock lock(mu_);
  peppers_.swap(fresh);
  active_pepper_id_ = active;
  return true;
}

StatusOr<std::vector<uint8_t>> Keyring::PepperMac(std::span<const uint32_t> pepper_ids,
                                                  std::string_view data) const {
  if (pepper_ids.empty()) {
    return Err(InvalidArgumentError("an HMAC names no pepper"));
  }
  std::vector<std::shared_ptr<const Pepper>> chain;
  {
    ReaderMutexLock lock(mu_);
    for (const uint32_t id : pepper_ids) {
      const auto it = peppers_.find(id);
      if (it == peppers_.end()) {
        return Err(NotFoundError(fmt::format("the keyring holds no pepper {}", id)));
      }
      chain.push_back(it->second);
    }
  }
  std::vector<uint8_t> mac = chain.front()->mac.Mac(data);
  for (size_t i = 1; i < chain.size(); ++i) {
    mac =
        chain[i]->mac.Mac(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  }
  return mac;
}

uint32_t Keyring::WritingPepperId(UnixMicros now) const {
  ReaderMutexLock lock(mu_);
  for (auto it = peppers_.rbegin(); it != peppers_.rend(); ++it) {
    if (it->first <= active_pepper_id_ && it->second->created_at + kPepperSettle <= now) {
      return it->first;
    }
  }
  return peppers_.empty() ? 0 : peppers_.begin()->first;
}

SecretBuffer Keyring::PepperKey(uint32_t id) const {
  ReaderMutexLock lock(mu_);
  const auto it = peppers_.find(id);
  return it == peppers_.end() ? SecretBuffer() : it->second->key.Clone();
}

std::vector<uint32_t> Keyring::PepperIds() const {
  ReaderMutexLock lock(mu_);
  std::vector<uint32_t> ids;
  for (const auto& [id, pepper] : peppers_) {
    ids.push_back(id);
  }
  return ids;
}

StatusOr<Keyring::TokenKey> Keyring::UnwrapTokenKey(RootKey& root_key, const WrappedKey& wrapped) {
  ASSIGN_OR_RETURN(SecretBuffer seed, UnwrapKey(root_key, wrapped));
  ASSIGN_OR_RETURN(std::vector<uint8_t> public_key, Ed25519PublicKey(seed));
  TokenKey key;
  key.seed = Held(std::move(seed));
  key.published.id = wrapped.id;
  key.published.kid = Ed25519Thumbprint(public_key);
  key.published.public_key = std::move(public_key);
  key.created_at = wrapped.created_at;
  return key;
}

bool Keyring::TokenKeysMatch(const std::vector<WrappedKey>& keys) const {
  ReaderMutexLock lock(mu_);
  return HoldsExactly(keys, kKeyPurposeTokenSigning, token_keys_, current_token_key_id_);
}

StatusOr<bool> Keyring::RefreshTokenKeys(const std::vector<WrappedKey>& keys,
                                         const SecretBuffer& root_key) {
  if (TokenKeysMatch(keys)) {
    return false;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RootKey> root, BytesRoot(root_key, random_));
  return RefreshTokenKeys(keys, *root);
}

StatusOr<bool> Keyring::RefreshTokenKeys(const std::vector<WrappedKey>& keys, RootKey& root_key) {
  if (TokenKeysMatch(keys)) {
    return false;
  }
  std::map<uint32_t, TokenKey> fresh;
  uint32_t current = 0;
  for (const WrappedKey& wrapped : keys) {
    if (wrapped.purpose != kKeyPurposeTokenSigning) {
      continue;
    }
    if (wrapped.active && wrapped.id > current) {
      current = wrapped.id;
    }
    {
      ReaderMutexLock lock(mu_);
      const auto held = token_keys_.find(wrapped.id);
      if (held != token_keys_.end()) {
        TokenKey copy;
        copy.seed = Held(held->second.seed.Clone());
        copy.published = held->second.published;
        copy.created_at = held->second.created_at;
        fresh.emplace(wrapped.id, std::move(copy));
        continue;
      }
    }
    ASSIGN_OR_RETURN(TokenKey key, UnwrapTokenKey(root_key, wrapped));
    fresh.emplace(wrapped.id, std::move(key));
  }
  for (auto& [id, token_key] : fresh) {
    token_key.published.current = id == current;
  }
  WriterMutexLock lock(mu_);
  token_keys_.swap(fresh);
  current_token_key_id_ = current;
  return true;
}

std::vector<JwtVerificationKey> Keyring::AcceptedLocked(UnixMicros now,
                                                        UnixMicros token_lifetime) const {
  std::vector<JwtVerificationKey> accepted;
  for (auto it = token_keys_.begin(); it != token_keys_.end(); ++it) {
    const auto next = std::next(it);
    if (it->first != current_token_key_id_) {
      // Replaced when the next newer key was made: good for one token lifetime after that.
      if (next == token_keys_.end() || next->second.created_at + token_lifetime <= now) {
        continue;
      }
    }
    JwtVerificationKey key{it->second.published.kid, it->second.published.public_key};
    if (it->first == current_token_key_id_) {
      accepted.insert(accepted.begin(), std::move(key));
    } else {
      accepted.push_back(std::move(key));
    }
  }
  return accepted;
}

StatusOr<std::string> Keyring::SignToken(const JwtClaims& claims) const {
  ReaderMutexLock lock(mu_);
  const auto it = token_keys_.find(current_token_key_id_);
  if (it == token_keys_.end()) {
    return Err(FailedPreconditionError("the keyring has no token signing key"));
  }
  return SignJwt(claims, it->second.published.kid, it->second.seed);
}

StatusOr<JwtClaims> Keyring::VerifyToken(std::string_view token, UnixMicros now,
                                         UnixMicros token_lifetime) const {
  std::vector<JwtVerificationKey> accepted;
  {
    ReaderMutexLock lock(mu_);
    accepted = AcceptedLocked(now, token_lifetime);
  }
  return VerifyJwt(token, accepted, now);
}

std::vector<PublicTokenKey> Keyring::TokenPublicKeys(UnixMicros now,
                                                     UnixMicros token_lifetime) const {
  ReaderMutexLock lock(mu_);
  std::vector<PublicTokenKey> out;
  for (const JwtVerificationKey& key : AcceptedLocked(now, token_lifetime)) {
    for (const auto& [id, token_key] : token_keys_) {
      if (token_key.published.kid == key.kid) {
        out.push_back(token_key.published);
      }
    }
  }
  return out;
}

bool Keyring::DataKeysMatch(const std::vector<WrappedKey>& keys) const {
  ReaderMutexLock lock(mu_);
  return HoldsExactly(keys, kKeyPurposeData, data_keys_, active_data_key_id_);
}

StatusOr<bool> Keyring::RefreshDataKeys(const std::vector<WrappedKey>& keys, RootKey& root_key) {
  if (DataKeysMatch(keys)) {
    return false;
  }
  // Unwrapped outside the lock (into a new map), so readers never wait on the unwrapping.
  std::map<uint32_t, SecretBuffer> fresh;
  uint32_t active = 0;
  for (const WrappedKey& wrapped : keys) {
    if (wrapped.purpose != kKeyPurposeData) {
      continue;
    }
    if (wrapped.active && wrapped.id > active) {
      active = wrapped.id;
    }
    {
      ReaderMutexLock lock(mu_);
      const auto held = data_keys_.find(wrapped.id);
      if (held != data_keys_.end()) {
        fresh.emplace(wrapped.id, Held(held->second.Clone()));
        continue;
      }
    }
    ASSIGN_OR_RETURN(SecretBuffer key, UnwrapKey(root_key, wrapped));
    fresh.emplace(wrapped.id, Held(std::move(key)));
  }
  if (active == 0) return Err(FailedPreconditionError("keyring has no active \"data\" key"));
  WriterMutexLock lock(mu_);
  data_keys_.swap(fresh);
  active_data_key_id_ = active;
  return true;  // `fresh`, now the old keys, is wiped as it goes out of scope
}

bool Keyring::HoldsDataKey(uint32_t id) const {
  ReaderMutexLock lock(mu_);
  return data_keys_.contains(id);
}

StatusOr<std::vector<uint8_t>> Keyring::Encrypt(std::span<const uint8_t> plaintext,
                                                std::span<const uint8_t> aad) const {
  ReaderMutexLock lock(mu_);
  const auto it = data_keys_.find(active_data_key_id_);
  if (it == data_keys_.end()) return Err(InternalError("keyring has no active data key"));
  return AeadSeal(it->second, active_data_key_id_, plaintext, aad, random_);
}

StatusOr<SecretBuffer> Keyring::Decrypt(std::span<const uint8_t> blob,
                                        std::span<const uint8_t> aad) const {
  ASSIGN_OR_RETURN(const uint32_t key_id, AeadBlobKeyId(blob));
  ReaderMutexLock lock(mu_);
  const auto it = data_keys_.find(key_id);
  if (it == data_keys_.end()) {
    return Err(DataLossError(
        fmt::format("encrypted value names data key {}, which the keyring does not hold", key_id)));
  }
  return AeadOpen(it->second, blob, aad);
}

}  // namespace coffer
