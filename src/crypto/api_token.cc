// Minting and parsing of `cfr_<kind>_<public id>_<secret>_<crc>` credentials and of
// `ocv_<public id>_<secret>_<crc>` agent API keys, and the HMAC the store keeps in place of the
// secret.
#include "crypto/api_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace coffer {
namespace {

constexpr std::string_view kPrefix = "cfr_";
constexpr std::string_view kAgentKeyPrefix = "ocv_";
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kPublicIdLength = 12;
constexpr size_t kSecretLength = 43;  // 43 * log2(62) = 256.03 bits
constexpr size_t kCrcLength = 6;      // 62^6 > 2^32
constexpr size_t kMinKindLength = 2;
constexpr size_t kMaxKindLength = 8;
constexpr std::string_view kMalformed = "malformed credential";

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool IsValidKind(std::string_view kind) {
  if (kind.size() < kMinKindLength || kind.size() > kMaxKindLength) return false;
  for (const char c : kind) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

bool AllBase62(std::string_view s) {
  for (const char c : s) {
    if (!IsBase62(c)) return false;
  }
  return true;
}

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

// CRC-32 (IEEE 802.3, as in zlib and PNG).
uint32_t Crc32(std::string_view data) {
  static constexpr std::array<uint32_t, 256> kTable = MakeCrcTable();
  uint32_t crc = 0xffffffffu;
  for (const char c : data) crc = kTable[(crc ^ static_cast<uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

// The checksum as exactly kCrcLength base62 digits, most significant first.
std::array<char, kCrcLength> EncodeCrc(uint32_t crc) {
  std::array<char, kCrcLength> out{};
  uint64_t v = crc;
  for (size_t i = kCrcLength; i-- > 0;) {
    out[i] = kBase62[v % 62];
    v /= 62;
  }
  return out;
}

// Fills `out` with base62 characters drawn uniformly: bytes >= 248 (= 4 * 62) are rejected so
// that `b % 62` carries no bias.
Status FillBase62(std::span<uint8_t> out, Random& random) {
  constexpr uint8_t kLimit = 248;
  SecretBuffer pool(64);
  size_t used = pool.size();
  for (size_t i = 0; i < out.size();) {
    if (used == pool.size()) {
      RETURN_IF_ERROR(random.Fill({pool.data(), pool.size()}));
      used = 0;
    }
    const uint8_t b = pool.data()[used++];
    if (b < kLimit) out[i++] = static_cast<uint8_t>(kBase62[b % 62]);
  }
  return OkStatus();
}

// A token `<head><public id>_<secret>_<crc>`, where `head` ends with its separator.
StatusOr<MintedToken> MintWithHead(std::string_view head, const SecretBuffer& pepper,
                                   Random& random) {
  const size_t public_at = head.size();
  const size_t secret_at = public_at + kPublicIdLength + 1;
  const size_t crc_sep_at = secret_at + kSecretLength;
  SecretBuffer token(crc_sep_at + 1 + kCrcLength);
  uint8_t* p = token.data();
  std::copy(head.begin(), head.end(), p);
  RETURN_IF_ERROR(FillBase62({p + public_at, kPublicIdLength}, random));
  p[secret_at - 1] = '_';
  RETURN_IF_ERROR(FillBase62({p + secret_at, kSecretLength}, random));
  p[crc_sep_at] = '_';
  const std::array<char, kCrcLength> crc = EncodeCrc(Crc32(token.view().substr(0, crc_sep_at)));
  std::copy(crc.begin(), crc.end(), p + crc_sep_at + 1);

  MintedToken minted;
  minted.public_id = std::string(token.view().substr(public_at, kPublicIdLength));
  minted.secret_hmac = HmacSecret(pepper, token.view().substr(secret_at, kSecretLength));
  if (minted.secret_hmac.empty()) return Err(InternalError("HMAC-SHA256 failed"));
  minted.token = std::move(token);
  return minted;
}

}  // namespace

StatusOr<MintedToken> MintToken(std::string_view kind, const SecretBuffer& pepper, Random& random) {
  if (!IsValidKind(kind)) {
    return Err(InvalidArgumentError("token kind must be 2 to 8 lowercase letters"));
  }
  std::string head;
  head.reserve(kPrefix.size() + kind.size() + 1);
  head.append(kPrefix).append(kind).push_back('_');
  return MintWithHead(head, pepper, random);
}

StatusOr<MintedToken> MintAgentApiKey(const SecretBuffer& pepper, Random& random) {
  return MintWithHead(kAgentKeyPrefix, pepper, random);
}

StatusOr<ParsedToken> ParseToken(std::string_view token) {
  const auto malformed = [] { return Err(UnauthenticatedError(std::string(kMalformed))); };
  ParsedToken parsed;
  size_t public_at = 0;
  if (token.starts_with(kAgentKeyPrefix)) {
    parsed.kind = std::string(kTokenKindApiKey);
    parsed.agent_key_form = true;
    public_at = kAgentKeyPrefix.size();
  } else {
    if (!token.starts_with(kPrefix)) return malformed();
    const size_t kind_end = token.find('_', kPrefix.size());
    if (kind_end == std::string_view::npos) return malformed();
    const std::string_view kind = token.substr(kPrefix.size(), kind_end - kPrefix.size());
    if (!IsValidKind(kind)) return malformed();
    parsed.kind = std::string(kind);
    public_at = kind_end + 1;
  }
  const size_t secret_at = public_at + kPublicIdLength + 1;
  const size_t crc_sep_at = secret_at + kSecretLength;
  if (token.size() != crc_sep_at + 1 + kCrcLength || token[secret_at - 1] != '_' ||
      token[crc_sep_at] != '_') {
    return malformed();
  }
  const std::string_view public_id = token.substr(public_at, kPublicIdLength);
  const std::string_view secret = token.substr(secret_at, kSecretLength);
  const std::string_view crc = token.substr(crc_sep_at + 1);
  if (!AllBase62(public_id) || !AllBase62(secret) || !AllBase62(crc)) return malformed();
  const std::array<char, kCrcLength> expected = EncodeCrc(Crc32(token.substr(0, crc_sep_at)));
  if (crc != std::string_view(expected.data(), expected.size())) return malformed();

  parsed.public_id = std::string(public_id);
  parsed.secret = SecretBuffer(secret);
  return parsed;
}

bool LooksLikeToken(std::string_view token) {
  return token.starts_with(kPrefix) || token.starts_with(kAgentKeyPrefix);
}

std::vector<uint8_t> HmacSecret(const SecretBuffer& pepper, std::string_view secret) {
  // OpenSSL wants non-null pointers even for empty inputs.
  static constexpr uint8_t kEmpty = 0;
  const uint8_t* key = pepper.empty() ? &kEmpty : pepper.data();
  const uint8_t* data = secret.empty() ? &kEmpty : reinterpret_cast<const uint8_t*>(secret.data());
  std::vector<uint8_t> mac(EVP_MAX_MD_SIZE);
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key, static_cast<int>(pepper.size()), data, secret.size(), mac.data(),
           &mac_len) == nullptr) {
    return {};
  }
  mac.resize(mac_len);
  return mac;
}

}  // namespace coffer
