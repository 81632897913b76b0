// Wiping, locking into RAM and constant-time comparison for secret bytes.
#include "common/secret_buffer.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>

#include "common/mutex.h"

namespace coffer {
namespace {

// mlock is per page and not counted: a page is unlocked once no locked buffer lies on it.
class PageLocks {
 public:
  static PageLocks& Get() {
    static PageLocks* locks = new PageLocks();
    return *locks;
  }

  bool Lock(const void* data, size_t size) {
    const auto [first, last] = Pages(data, size);
    MutexLock lock(mu_);
    for (uintptr_t page = first; page <= last; page += page_) {
      if (counts_[page] == 0 && ::mlock(reinterpret_cast<void*>(page), page_) != 0) {
        counts_.erase(page);
        for (uintptr_t undo = first; undo < page; undo += page_) Release(undo);
        return false;
      }
      ++counts_[page];
    }
    return true;
  }

  void Unlock(const void* data, size_t size) {
    const auto [first, last] = Pages(data, size);
    MutexLock lock(mu_);
    for (uintptr_t page = first; page <= last; page += page_) Release(page);
  }

 private:
  PageLocks() : page_(static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE))) {}

  std::pair<uintptr_t, uintptr_t> Pages(const void* data, size_t size) const {
    const auto begin = reinterpret_cast<uintptr_t>(data);
    return {begin & ~(page_ - 1), (begin + size - 1) & ~(page_ - 1)};
  }

  void Release(uintptr_t page) COFFER_REQUIRES(mu_) {
    const auto it = counts_.find(page);
    if (it == counts_.end()) return;
    if (--it->second == 0) {
      ::munlock(reinterpret_cast<void*>(page), page_);
      counts_.erase(it);
    }
  }

  const uintptr_t page_;
  Mutex mu_;
  std::map<uintptr_t, size_t> counts_ COFFER_GUARDED_BY(mu_);
};

}  // namespace

void SecureWipe(void* data, size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

void SecretBuffer::Wipe() {
  SecureWipe(bytes_.data(), bytes_.size());
  if (locked_) {
    PageLocks::Get().Unlock(bytes_.data(), bytes_.capacity());
    locked_ = false;
  }
  bytes_.clear();
}

bool SecretBuffer::Lock() {
  if (locked_) return true;
  if (bytes_.capacity() == 0) return false;
  locked_ = PageLocks::Get().Lock(bytes_.data(), bytes_.capacity());
  return locked_;
}

void SecretBuffer::Truncate(size_t n) {
  if (n >= bytes_.size()) return;
  SecureWipe(bytes_.data() + n, bytes_.size() - n);
  bytes_.resize(n);
}

bool SecretBuffer::Equals(std::span<const uint8_t> other) const {
  return ConstantTimeEquals(span(), other);
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace coffer
