// Sealing and opening listing cursors: base64url of an AEAD blob whose plaintext is the path
// padded with NULs to a fixed size.
#include "service/list_cursor.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/aead.h"
#include "model/secret_path.h"

namespace coffer {
namespace {

// A path and at least one NUL: the blob is then kBlobOverhead + 513 = 546 bytes, a multiple of
// 3, so its base64url form has no partial group.
constexpr size_t kPaddedPath = kMaxSecretPathLength + 1;
static_assert((kPaddedPath + kBlobOverhead) % 3 == 0);

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::span<const uint8_t> in) {
  std::string out;
  out.reserve(1 + in.size() / 3 * 4);
  out.push_back(kListCursorMark);
  for (size_t i = 0; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  return out;
}

std::optional<std::vector<uint8_t>> Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::array<int8_t, 256> value{};
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    value[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const int8_t d = value[static_cast<uint8_t>(text[i + j])];
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

// "coffer/list-cursor/v1" | vault id | principal kind | principal id, each NUL-terminated (none of
// them holds a NUL).
std::vector<uint8_t> CursorAad(std::string_view vault_id, const Principal& principal) {
  std::vector<uint8_t> aad;
  for (std::string_view part :
       {std::string_view("coffer/list-cursor/v1"), vault_id, PrincipalKindName(principal.kind),
        std::string_view(principal.id)}) {
    aad.insert(aad.end(), part.begin(), part.end());
    aad.push_back(0);
  }
  return aad;
}

Status Refused() {
  return InvalidArgumentError(
      "after is not a cursor issued to you for this vault (list again from the start)");
}

}  // namespace

StatusOr<std::string> SealListCursor(const Keyring& keyring, std::string_view vault_id,
                                     const Principal& principal, std::string_view path) {
  if (path.size() >= kPaddedPath) return Err(InternalError("list cursor: path too long"));
  std::vector<uint8_t> padded(kPaddedPath, 0);
  std::copy(path.begin(), path.end(), padded.begin());
  ASSIGN_OR_RETURN(std::vector<uint8_t> blob,
                   keyring.Encrypt(padded, CursorAad(vault_id, principal)));
  return Encode(blob);
}

StatusOr<std::string> OpenListCursor(const Keyring& keyring, std::string_view vault_id,
                                     const Principal& principal, std::string_view cursor) {
  if (!IsListCursor(cursor)) return Err(Refused());
  auto blob = Decode(cursor.substr(1));
  if (!blob.has_value() || blob->size() != kPaddedPath + kBlobOverhead) return Err(Refused());
  auto padded = keyring.Decrypt(*blob, CursorAad(vault_id, principal));
  if (!padded.has_value()) return Err(Refused());
  const std::string_view text = padded->view();
  std::string path(text.substr(0, text.find('\0')));
  if (!ValidateSecretPath(path).ok()) return Err(Refused());
  return path;
}

}  // namespace coffer
