// One libpq connection with its cache of prepared statements, typed parameters (sent in binary
// where the type has one: integers, booleans, bytea) and a result wrapper that reads binary
// columns. Not thread-safe: a connection is used by one thread at a time (a pool lease).
// libpq's own types stay in pg_connection.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace coffer {

// Parameters of one statement, $1 first. Values are copied; each carries its type, so a
// statement is prepared with exact parameter types.
class PgParams {
 public:
  PgParams& Text(std::string_view value);
  PgParams& Int(int64_t value);
  PgParams& OptionalInt(std::optional<int64_t> value);  // nullopt: NULL
  PgParams& Bool(bool value);
  PgParams& Bytes(std::span<const uint8_t> value);
  PgParams& Null(uint32_t type_oid);

  int size() const { return static_cast<int>(types_.size()); }
  // A short signature of the parameter types ("25,20,17"), part of a prepared statement's key.
  std::string TypeSignature() const;

 private:
  friend class PgConnection;
  std::vector<uint32_t> types_;
  std::vector<std::string> values_;  // binary or text encoding, as formats_ says
  std::vector<bool> nulls_;
  std::vector<int> formats_;  // 0 text, 1 binary
};

// A query's result: every column in binary format. Move-only; frees the PGresult.
class PgResult {
 public:
  explicit PgResult(pg_result* result);
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  // Rows an INSERT/UPDATE/DELETE changed (without RETURNING, or with it).
  int64_t affected() const;

  // 0-based row and column. A NULL reads as 0, "", false or empty. Integers of any width
  // (int2/int4/int8) and booleans read through Int(). A column of an unexpected type reads as
  // 0 / empty: the schema is ours, so that is a bug the conformance tests catch.
  bool IsNull(int row, int column) const;
  int64_t Int(int row, int column) const;
  std::optional<int64_t> OptionalInt(int row, int column) const;
  bool Bool(int row, int column) const;
  std::string Text(int row, int column) const;
  std::vector<uint8_t> Bytes(int row, int column) const;

 private:
  pg_result* result_;
};

// A notification that arrived on a connection that LISTENs.
struct PgNotification {
  std::string channel;
  std::string payload;
};

// What a failed statement said, for callers that decide by SQLSTATE or constraint name.
struct PgError {
  std::string sqlstate;    // e.g. "23505"; empty when the connection failed
  std::string constraint;  // the violated constraint, when there is one
};

class PgConnection {
 public:
  // Connects with a libpq connection string or URI and sets the session up: UTC, UTF8,
  // synchronous_commit on (a commit returns once durable), application_name coffer.
  // kUnavailable when the server cannot be reached; kInvalidArgument for a malformed URL.
  // Messages never contain the password. `connect_timeout_seconds` applies unless the URL sets
  // connect_timeout itself.
  static StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo,
                                                         int connect_timeout_seconds = 10);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs `sql` ($1, $2 … placeholders) as a prepared statement (prepared on this connection's
  // first use of that text and parameter types), results in binary. On failure: kAlreadyExists
  // for a unique violation, kNotFound for a foreign-key violation, kAborted for a
  // serialization failure or deadlock (see retryable()), kUnavailable when the connection
  // broke, kInternal otherwise; last_error() says more. Messages never contain a parameter.
  StatusOr<PgResult> Exec(std::string_view sql, const PgParams& params = PgParams());
  // Exec for statements whose rows (if any) do not matter.
  Status Run(std::string_view sql, const PgParams& params = PgParams());

  // Runs statements without parameters (transaction control, DDL) with the simple protocol.
  // Same errors as Exec.
  Status ExecScript(std::string_view sql);

  // The last failure's SQLSTATE and constraint.
  const PgError& last_error() const { return last_error_; }
  // True when the last failure was a serialization failure or deadlock: the transaction was
  // rolled back by the server and may be run again from the start.
  bool retryable() const;
  // False once the connection is unusable (the pool then drops it).
  bool healthy() const;
  // True when the last failure was the connection's loss (the server closed it, a restart or
  // failover, the network), so nothing of an open transaction survives on the server.
  bool lost() const;
  // True while a transaction block is open (or failed and not yet rolled back).
  bool InTransaction() const;

  // --- without blocking (a connection that LISTENs: pg_change_listener.h) ----------------------
  // The socket to wait on for input; -1 once the connection is gone.
  int socket() const;
  // Sends `sql` (one statement, no parameters; results in binary) and returns at once; then
  // wait for the socket, ConsumeInput(), and TakeResult() while !Busy(). kUnavailable when it
  // cannot be sent.
  Status SendQuery(std::string_view sql);
  // Reads what has arrived on the socket, without blocking. kUnavailable when the connection
  // broke.
  Status ConsumeInput();
  // True while the next result of SendQuery has not fully arrived (TakeResult would block).
  bool Busy() const;
  // The next result of SendQuery, or nullopt once there are no more (the query is done).
  // REQUIRES: !Busy(). Same errors as Exec for a failed statement.
  StatusOr<std::optional<PgResult>> TakeResult();
  // The next notification ConsumeInput (or any other call) has read, if any.
  std::optional<PgNotification> TakeNotification();

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  // The Status for a failed result (or a null one), recording last_error_.
  Status Failure(pg_result* result, std::string_view what);

  pg_conn* conn_;
  int64_t next_statement_ = 0;
  // Key: type signature + '\n' + SQL text; value: the prepared statement's name.
  std::unordered_map<std::string, std::string> prepared_;
  PgError last_error_;
};

}  // namespace coffer
