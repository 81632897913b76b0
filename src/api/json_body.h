// Strict JSON request bodies: Content-Type checks (415), parse errors and wrong field types
// (400 naming the field), unknown fields refused (a mistyped "expires_at" must not be silently
// ignored). Parsed bodies live in memory that is wiped when they go away, since they may hold
// secret values.
#pragma once

#include <boost/container/pmr/memory_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/message.h"

namespace coffer::api {

// A memory resource that wipes every block before freeing it. Not thread-safe (one per body).
class WipingResource final : public boost::container::pmr::memory_resource {
 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override;
  bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }
};

// Why a body was refused: 415 for the media type, else a Status (400).
struct BodyError {
  bool unsupported_media_type = false;
  Status status;
};

// A parsed JSON object body. Move-only; wipes its memory on destruction.
class JsonBody {
 public:
  // Parses the request body. An empty body is an empty object when `optional`; otherwise
  // 400 "request body is required". A non-empty body needs Content-Type application/json (415).
  static std::expected<JsonBody, BodyError> Parse(const http::Request& request, bool optional);

  JsonBody(JsonBody&&) noexcept = default;
  JsonBody& operator=(JsonBody&&) noexcept = default;
  ~JsonBody();

  // kInvalidArgument naming the first field not in `allowed`.
  Status AllowOnly(std::initializer_list<std::string_view> allowed) const;

  // Field readers: absent (or null, unless stated) gives nullopt; a wrong type is
  // kInvalidArgument "<field> must be a string" etc.
  StatusOr<std::optional<std::string_view>> String(std::string_view field) const;
  StatusOr<std::optional<int64_t>> Integer(std::string_view field) const;
  StatusOr<std::optional<bool>> Bool(std::string_view field) const;
  // The first field not in `allowed`, as it may be shown in a message (control characters
  // escaped, cut short); nullopt when every field is allowed.
  std::optional<std::string> FirstFieldNotIn(std::span<const std::string_view> allowed) const;
  // An object field, serialized back to compact JSON.
  StatusOr<std::optional<std::string>> ObjectJson(std::string_view field) const;
  // Required array of strings: kInvalidArgument when absent or not an array of strings.
  StatusOr<std::vector<std::string>> StringList(std::string_view field) const;
  // Whether the field is present and not null.
  bool Has(std::string_view field) const;
  // Required string: kInvalidArgument "<field> is required" when absent.
  StatusOr<std::string_view> RequiredString(std::string_view field) const;

 private:
  JsonBody() = default;
  const boost::json::value* Find(std::string_view field) const;

  std::unique_ptr<WipingResource> resource_;
  boost::json::value value_;
};

}  // namespace coffer::api
