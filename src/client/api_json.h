// The JSON of the Coffer API, for the coffer_client*.cc files only: answers read into api_types.h
// structs by field readers that take a missing or mistyped field as empty, never copying a secret
// field out of wiped memory; and plain request bodies as text.
#pragma once

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "client/api_types.h"
#include "client/wiping_json.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::client {

// A copy in ordinary memory, without secret fields.
boost::json::object PlainCopy(const boost::json::object& o);

// The field `key` of `o` as a string, an integer or a bool: "", 0 or false (nullopt for the Opt
// forms) when it is missing or of another type.
std::string Str(const boost::json::object& o, std::string_view key);
std::optional<std::string> OptStr(const boost::json::object& o, std::string_view key);
int64_t Int(const boost::json::object& o, std::string_view key);
std::optional<int64_t> OptInt(const boost::json::object& o, std::string_view key);
bool Bool(const boost::json::object& o, std::string_view key);
// A secret string field, copied from wiped memory into a SecretBuffer; empty when missing.
SecretBuffer SecretField(const boost::json::object& o, std::string_view key);

// kInternal "unexpected answer from the server: <what>".
Status Unexpected(std::string_view what);
// The answer as an object; kInternal when it is something else.
StatusOr<const boost::json::object*> ObjectOf(const WipedJson& doc);
// The list `key` of `o`; kInternal when it is missing or not a list.
StatusOr<const boost::json::array*> ArrayField(const boost::json::object& o, std::string_view key);

// The api_types.h struct read from its object in an answer (fields missing from it stay empty).
Vault ToVault(const boost::json::object& o);
SecretMeta ToSecretMeta(const boost::json::object& o);
VersionInfo ToVersion(const boost::json::object& o);
User ToUser(const boost::json::object& o);
ApiKeyInfo ToApiKey(const boost::json::object& o);
Agent ToAgent(const boost::json::object& o);
Policy ToPolicy(const boost::json::object& o);
AuditEvent ToAuditEvent(const boost::json::object& o);

// The items of the answer's list `key`, each converted by `convert`; kInternal when the answer is
// not an object, the list is missing, or an item is not an object.
template <typename T, typename Convert>
StatusOr<std::vector<T>> ListOf(const WipedJson& doc, std::string_view key, Convert convert) {
  ASSIGN_OR_RETURN(const boost::json::object* o, ObjectOf(doc));
  ASSIGN_OR_RETURN(const boost::json::array* items, ArrayField(*o, key));
  std::vector<T> out;
  for (const boost::json::value& item : *items) {
    if (!item.is_object()) {
      return Err(Unexpected(fmt::format("'{}' holds a non-object", key)));
    }
    out.push_back(convert(item.as_object()));
  }
  return out;
}

// The object of a call's answer read by `convert`: the call's own error, or kInternal when the
// answer is not a JSON object.
template <typename Convert>
auto AnswerAs(StatusOr<WipedJson> answer, Convert convert)
    -> StatusOr<std::invoke_result_t<Convert, const boost::json::object&>> {
  ASSIGN_OR_RETURN(WipedJson doc, std::move(answer));
  ASSIGN_OR_RETURN(const boost::json::object* o, ObjectOf(doc));
  return convert(*o);
}

// JSON text of a body without secrets (one with secrets is built in a WipedJson).
std::string Serialize(const boost::json::object& o);

}  // namespace coffer::client
