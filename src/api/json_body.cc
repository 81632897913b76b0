// Strict JSON body parsing with wiped storage.
#include "api/json_body.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstddef>
#include <new>
#include <unordered_set>

#include "common/secret_buffer.h"

namespace coffer::api {
namespace {

constexpr size_t kMaxDepth = 32;

bool IsJsonMediaType(std::string_view ct) {
  const size_t semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lower(type);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" ||
         (lower.starts_with("application/") && lower.ends_with("+json"));
}

std::string_view KindName(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "a number";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
  }
  return "a value";
}

// A basic_parser handler that builds nothing and fails on the first object holding the same
// key twice (after unescaping). Boost.JSON keeps the last of duplicate keys, while a proxy or
// another parser may act on the first, so such bodies are refused rather than guessed at.
// Keys may be secret-bearing (metadata), so every copy is wiped before it is freed.
class DuplicateKeyCheck {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  DuplicateKeyCheck() = default;
  DuplicateKeyCheck(const DuplicateKeyCheck&) = delete;
  DuplicateKeyCheck& operator=(const DuplicateKeyCheck&) = delete;
  ~DuplicateKeyCheck() {
    WipeString(key_);
    while (!objects_.empty()) PopObject();
  }

  bool duplicate() const { return duplicate_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    objects_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    PopObject();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) {
    return true;
  }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    key_.append(s.data(), s.size());
    std::string key;
    key.swap(key_);
    auto [it, inserted] = objects_.back().insert(std::move(key));
    if (!inserted) {
      WipeString(key);  // not moved from when the insert did not happen
      duplicate_ = true;
      ec = boost::json::error::syntax;
      return false;
    }
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  static void WipeString(std::string& s) {
    SecureWipe(s.data(), s.capacity());
    s.clear();
  }
  void PopObject() {
    auto& keys = objects_.back();
    while (!keys.empty()) {
      auto node = keys.extract(keys.begin());
      WipeString(node.value());
    }
    objects_.pop_back();
  }

  std::vector<std::unordered_set<std::string>> objects_;
  std::string key_;
  bool duplicate_ = false;
};

// Whether some object in `text` (already known to be valid JSON) repeats a key.
bool HasDuplicateKey(std::string_view text, const boost::json::parse_options& options) {
  boost::json::basic_parser<DuplicateKeyCheck> parser(options);
  boost::system::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().duplicate();
}

// A field name as shown in an error: bounded, control and non-ASCII bytes masked. Keys are not
// secret (metadata keys are listed with the metadata), but they are the client's bytes.
std::string ShownKey(std::string_view key) {
  std::string name(key.substr(0, 64));
  for (char& c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return name;
}

// Whether `v` holds a number that is not finite, and then its path (".metadata.n", "[2]")
// in `path`: Boost.JSON parses a number beyond double's range (1e400) as an infinity, which no
// JSON can carry back (it was stored as "Infinity", and the object then failed to render). Only
// the offending field's path is built (keys may be sensitive; no copy of the others is made).
bool FindNonFiniteNumber(const boost::json::value& v, std::string& path) {
  if (v.is_double()) return !std::isfinite(v.get_double());
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (FindNonFiniteNumber(kv.value(), path)) {
        path = "." + ShownKey(kv.key()) + path;
        return true;
      }
    }
  } else if (v.is_array()) {
    const auto& items = v.get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (FindNonFiniteNumber(items[i], path)) {
        path = fmt::format("[{}]{}", i, path);
        return true;
      }
    }
  }
  return false;
}

// Boost.JSON 1.81 does not always free a block with the alignment it allocated it with (an
// object key is allocated with alignment 1 and, when parsing fails after it, freed with 16).
// Aligned new/delete must match, so every block uses at least the default alignment: both calls
// then agree whatever Boost.JSON passes.
std::size_t BlockAlignment(std::size_t align) { return std::max(align, alignof(std::max_align_t)); }

}  // namespace

void* WipingResource::do_allocate(std::size_t bytes, std::size_t align) {
  return ::operator new(bytes, std::align_val_t(BlockAlignment(align)));
}

void WipingResource::do_deallocate(void* p, std::size_t bytes, std::size_t align) {
  SecureWipe(p, bytes);
  ::operator delete(p, std::align_val_t(BlockAlignment(align)));
}

JsonBody::~JsonBody() {
  // Release the value (wiping each block) before the resource it came from.
  value_ = boost::json::value();
}

std::expected<JsonBody, BodyError> JsonBody::Parse(const http::Request& request, bool optional) {
  JsonBody body;
  body.resource_ = std::make_unique<WipingResource>();
  if (request.body.empty()) {
    if (!optional) {
      return std::unexpected(BodyError{false, InvalidArgumentError("request body is required")});
    }
    body.value_ = boost::json::object(body.resource_.get());
    return body;
  }
  const auto content_type = request.Header("content-type");
  if (!content_type.has_value() || !IsJsonMediaType(*content_type)) {
    return std::unexpected(
        BodyError{true, InvalidArgumentError("Content-Type must be application/json")});
  }
  boost::json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code ec;
  boost::json::storage_ptr sp(body.resource_.get());
  body.value_ = boost::json::parse(request.body, ec, sp, options);
  if (ec) {
    std::string why = ec == boost::json::error::too_deep
                          ? fmt::format("nested deeper than {} levels", kMaxDepth)
                          : ec.message();
    return std::unexpected(BodyError{
        false, InvalidArgumentError(fmt::format("request body is not valid JSON: {}", why))});
  }
  if (!body.value_.is_object()) {
    return std::unexpected(
        BodyError{false, InvalidArgumentError("request body must be a JSON object")});
  }
  if (HasDuplicateKey(request.body, options)) {
    return std::unexpected(BodyError{
        false, InvalidArgumentError("request body is not valid JSON: duplicate key in an object")});
  }
  if (std::string path; FindNonFiniteNumber(body.value_, path)) {
    if (path.starts_with('.')) path.erase(0, 1);
    return std::unexpected(BodyError{
        false, InvalidArgumentError(fmt::format(
                   "{} is a number out of range (JSON numbers must fit a 64-bit double)", path))});
  }
  return body;
}

const boost::json::value* JsonBody::Find(std::string_view field) const {
  const auto& obj = value_.get_object();
  auto it = obj.find(field);
  if (it == obj.end()) return nullptr;
  return &it->value();
}

bool JsonBody::Has(std::string_view field) const {
  const boost::json::value* v = Find(field);
  return v != nullptr && !v->is_null();
}

Status JsonBody::AllowOnly(std::initializer_list<std::string_view> allowed) const {
  for (const auto& kv : value_.get_object()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || kv.key() == a;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      const std::string name = ShownKey(kv.key());
      return InvalidArgumentError(fmt::format("unknown field \"{}\" (allowed: {})", name, list));
    }
  }
  return OkStatus();
}

StatusOr<std::optional<std::string_view>> JsonBody::String(std::string_view field) const {
  const boost::json::value* v = Find(field);
  if (v == nullptr || v->is_null()) return std::optional<std::string_view>();
  if (!v->is_string()) {
    return Err(
        InvalidArgumentError(fmt::format("{} must be a string, not {}", field, KindName(*v))));
  }
  const auto& s = v->get_string();
  return std::optional<std::string_view>(std::string_view(s.data(), s.size()));
}

StatusOr<std::string_view> JsonBody::RequiredString(std::string_view field) const {
  ASSIGN_OR_RETURN(auto s, String(field));
  if (!s.has_value()) return Err(InvalidArgumentError(fmt::format("{} is required", field)));
  return *s;
}

StatusOr<std::vector<std::string>> JsonBody::StringList(std::string_view field) const {
  const boost::json::value* v = Find(field);
  if (v == nullptr || v->is_null()) {
    return Err(InvalidArgumentError(fmt::format("{} is required", field)));
  }
  if (!v->is_array()) {
    return Err(InvalidArgumentError(fmt::format("{} must be an array of strings", field)));
  }
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) {
      return Err(InvalidArgumentError(fmt::format("{} must be an array of strings", field)));
    }
    out.emplace_back(item.get_string().data(), item.get_string().size());
  }
  return out;
}

StatusOr<std::optional<int64_t>> JsonBody::Integer(std::string_view field) const {
  const boost::json::value* v = Find(field);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64()) {
    return Err(InvalidArgumentError(fmt::format("{} is out of range", field)));
  }
  if (v->is_double()) {
    const double d = v->get_double();
    // The range check comes first: converting a double outside int64's range (1e19, inf, NaN)
    // to an integer is undefined behaviour.
    if (d > -9.0e15 && d < 9.0e15 && d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
    return Err(InvalidArgumentError(fmt::format("{} must be a whole number in range", field)));
  }
  return Err(
      InvalidArgumentError(fmt::format("{} must be an integer, not {}", field, KindName(*v))));
}

std::optional<std::string> JsonBody::FirstFieldNotIn(
    std::span<const std::string_view> allowed) const {
  for (const auto& kv : value_.get_object()) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(kv.key())) == allowed.end()) {
      return ShownKey(kv.key());
    }
  }
  return std::nullopt;
}

StatusOr<std::optional<bool>> JsonBody::Bool(std::string_view field) const {
  const boost::json::value* v = Find(field);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) {
    return Err(
        InvalidArgumentError(fmt::format("{} must be a boolean, not {}", field, KindName(*v))));
  }
  return std::optional<bool>(v->get_bool());
}

StatusOr<std::optional<std::string>> JsonBody::ObjectJson(std::string_view field) const {
  const boost::json::value* v = Find(field);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_object()) {
    return Err(
        InvalidArgumentError(fmt::format("{} must be an object, not {}", field, KindName(*v))));
  }
  return std::optional<std::string>(boost::json::serialize(*v));
}

}  // namespace coffer::api
