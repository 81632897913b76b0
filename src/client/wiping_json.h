// JSON documents that may hold secrets (values, API keys): parsed and built in memory that is
// wiped when released, so a secret read from or sent to the server does not linger on the heap.
#pragma once

#include <boost/container/pmr/memory_resource.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::client {

// A memory resource that wipes every block it hands back. Thread-compatible.
class WipingMemoryResource final : public boost::container::pmr::memory_resource {
 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override;
  bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }
};

// A JSON value living in wiped memory. Move-only; the value is released before its resource.
class WipedJson {
 public:
  WipedJson();
  WipedJson(WipedJson&&) noexcept = default;
  WipedJson& operator=(WipedJson&&) noexcept;
  ~WipedJson();

  // Parses `text`. kInternal "the server sent malformed JSON" (never the text itself).
  static StatusOr<WipedJson> Parse(std::string_view text);

  boost::json::storage_ptr storage() const;
  boost::json::value& value() { return value_; }
  const boost::json::value& value() const { return value_; }

  // Serializes into a SecretBuffer (for request bodies holding a secret).
  SecretBuffer Serialize() const;

 private:
  std::unique_ptr<WipingMemoryResource> resource_;
  boost::json::value value_;
};

// An append-only byte buffer for response bodies: growing copies into a new SecretBuffer and
// wipes the old one, so no unwiped copy of a body is left behind. Thread-compatible.
class GrowingSecretBuffer {
 public:
  void Append(const char* data, size_t size);
  std::string_view view() const { return {reinterpret_cast<const char*>(buffer_.data()), size_}; }
  size_t size() const { return size_; }
  void Clear();

 private:
  SecretBuffer buffer_;
  size_t size_ = 0;
};

}  // namespace coffer::client
