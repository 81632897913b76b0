// Wiped JSON memory and the growing response buffer.
#include "client/wiping_json.h"

#include <boost/json/parse.hpp>
#include <boost/json/serializer.hpp>
#include <cstring>
#include <memory>
#include <new>

namespace coffer::client {

void* WipingMemoryResource::do_allocate(std::size_t bytes, std::size_t align) {
  return ::operator new(bytes, std::align_val_t(align));
}

void WipingMemoryResource::do_deallocate(void* p, std::size_t bytes, std::size_t align) {
  SecureWipe(p, bytes);
  ::operator delete(p, std::align_val_t(align));
}

WipedJson::WipedJson()
    : resource_(std::make_unique<WipingMemoryResource>()), value_(resource_.get()) {}

WipedJson& WipedJson::operator=(WipedJson&& other) noexcept {
  if (this != &other) {
    // A json::value keeps the storage it was built with, even across assignment: rebuild it on
    // the other's storage, then let the old resource go.
    std::destroy_at(&value_);
    std::construct_at(&value_, std::move(other.value_));
    resource_ = std::move(other.resource_);
  }
  return *this;
}

WipedJson::~WipedJson() { value_ = boost::json::value(); }

boost::json::storage_ptr WipedJson::storage() const { return resource_.get(); }

StatusOr<WipedJson> WipedJson::Parse(std::string_view text) {
  WipedJson out;
  boost::system::error_code ec;
  out.value_ = boost::json::parse(text, ec, out.storage());
  if (ec) {
    return Err(InternalError("the server sent malformed JSON"));
  }
  return out;
}

SecretBuffer WipedJson::Serialize() const {
  // Serialized in chunks through a stack buffer, so no growing std::string holds the secret.
  boost::json::serializer sr;
  sr.reset(&value_);
  GrowingSecretBuffer text;
  char chunk[4096];
  while (!sr.done()) {
    std::string_view part = sr.read(chunk);
    text.Append(part.data(), part.size());
  }
  SecureWipe(chunk, sizeof(chunk));
  return SecretBuffer(text.view());
}

void GrowingSecretBuffer::Append(const char* data, size_t size) {
  if (size == 0) {
    return;  // `data` may be null then, and memcpy from null is undefined even for 0 bytes
  }
  if (size_ + size > buffer_.size()) {
    size_t capacity = buffer_.size() < 4096 ? 4096 : buffer_.size();
    while (capacity < size_ + size) {
      capacity *= 2;
    }
    SecretBuffer bigger(capacity);
    if (size_ > 0) {
      std::memcpy(bigger.data(), buffer_.data(), size_);
    }
    buffer_ = std::move(bigger);  // the old buffer is wiped by the move assignment
  }
  std::memcpy(buffer_.data() + size_, data, size);
  size_ += size;
}

void GrowingSecretBuffer::Clear() {
  buffer_.Wipe();
  buffer_ = SecretBuffer();
  size_ = 0;
}

}  // namespace coffer::client
