// SecretBuffer: owns secret bytes (plaintext values, keys), wipes them on release and never
// prints them. Move-only, so a secret is never silently copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coffer {

// Overwrites memory in a way the compiler may not elide.
void SecureWipe(void* data, size_t size);
inline void SecureWipe(std::string& s) {
  SecureWipe(s.data(), s.size());
  s.clear();
}

class SecretBuffer {
 public:
  SecretBuffer() = default;
  explicit SecretBuffer(size_t size) : bytes_(size) {}
  explicit SecretBuffer(std::string_view data) : bytes_(data.begin(), data.end()) {}
  SecretBuffer(const uint8_t* data, size_t size) : bytes_(data, data + size) {}
  ~SecretBuffer() { Wipe(); }

  SecretBuffer(SecretBuffer&& other) noexcept
      : bytes_(std::move(other.bytes_)), locked_(other.locked_) {
    other.bytes_.clear();
    other.locked_ = false;
  }
  SecretBuffer& operator=(SecretBuffer&& other) noexcept {
    if (this != &other) {
      Wipe();
      bytes_ = std::move(other.bytes_);
      locked_ = other.locked_;
      other.bytes_.clear();
      other.locked_ = false;
    }
    return *this;
  }
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;

  // An explicit copy, for the rare place that needs two owners.
  SecretBuffer Clone() const { return SecretBuffer(bytes_.data(), bytes_.size()); }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<const uint8_t> span() const { return {bytes_.data(), bytes_.size()}; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }
  // Shrinks without reallocating (the wiped tail stays owned until destruction).
  void Truncate(size_t n);

  // Constant-time equality.
  bool Equals(std::span<const uint8_t> other) const;

  // Wipes the bytes, and lets go of the lock on their memory (Lock).
  void Wipe();

  // Locks the bytes' memory into RAM (mlock), so they are never written to swap, until they are
  // wiped or destroyed; for long-lived keys (the keyring's), not per-request values. Pages are
  // counted, so buffers sharing one stay locked while any of them is. False when the system
  // refused (RLIMIT_MEMLOCK): the bytes are then kept as before, unlocked. Idempotent.
  bool Lock();
  bool locked() const { return locked_; }

 private:
  std::vector<uint8_t> bytes_;
  bool locked_ = false;
};

inline std::ostream& operator<<(std::ostream& os, const SecretBuffer&) {
  return os << "[redacted]";
}

// Constant-time comparison of two byte ranges (length is not secret).
bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace coffer
