// The part of the Store interface that keeps dashboard sessions (model/ui_session.h). Kept in the
// store, not in a server's memory, so every server of a deployment knows a session and signing
// out ends it on all of them at once. Thread-safe, as Store is.
#pragma once

#include <string_view>

#include "common/status.h"
#include "model/identity.h"
#include "model/ui_session.h"

namespace coffer {

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Stores `session` and, in the same transaction, `audit` when not null (both kept or neither).
  // Sessions that ended before session.created_at are deleted meanwhile. kAlreadyExists when the
  // token hash is taken.
  virtual Status InsertUiSession(const UiSession& session, const AuditEvent* audit) = 0;
  // The session whose cookie hashes to `token_hash`, expired or not; kNotFound when there is none
  // (never created, signed out, or swept once ended).
  virtual StatusOr<UiSession> GetUiSession(std::string_view token_hash) = 0;
  // Deletes the session and appends `audit` when not null, in one transaction. kNotFound when
  // there is no such session (nothing is appended then).
  virtual Status DeleteUiSession(std::string_view token_hash, const AuditEvent* audit) = 0;
};

}  // namespace coffer
