// PgConnection over libpq: prepared statements keyed by text and parameter types, binary
// parameters and results, and SQLSTATEs turned into Status codes.
#include "store/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <bit>
#include <cstring>
#include <utility>

#include "common/storage_fault.h"

namespace coffer {

namespace {

// Built-in type OIDs (pg_type.dat); stable across PostgreSQL versions.
constexpr uint32_t kBoolOid = 16;
constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kInt2Oid = 21;
constexpr uint32_t kInt4Oid = 23;
constexpr uint32_t kTextOid = 25;
static_assert(sizeof(Oid) == sizeof(uint32_t));

template <typename T>
T ReadBigEndian(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::little) {
    value = std::byteswap(value);
  }
  return value;
}

std::string BigEndianInt64(int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  if constexpr (std::endian::native == std::endian::little) {
    u = std::byteswap(u);
  }
  std::string out(sizeof(u), '\0');
  std::memcpy(out.data(), &u, sizeof(u));
  return out;
}

std::string Trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

}  // namespace

// --- PgParams ---------------------------------------------------------------------------------

PgParams& PgParams::Text(std::string_view value) {
  types_.push_back(kTextOid);
  values_.emplace_back(value);
  nulls_.push_back(false);
  formats_.push_back(1);  // text's binary form is its bytes
  return *this;
}

PgParams& PgParams::Int(int64_t value) {
  types_.push_back(kInt8Oid);
  values_.push_back(BigEndianInt64(value));
  nulls_.push_back(false);
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::OptionalInt(std::optional<int64_t> value) {
  if (!value.has_value()) {
    return Null(kInt8Oid);
  }
  return Int(*value);
}

PgParams& PgParams::Bool(bool value) {
  types_.push_back(kBoolOid);
  values_.emplace_back(1, value ? '\1' : '\0');
  nulls_.push_back(false);
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Bytes(std::span<const uint8_t> value) {
  types_.push_back(kByteaOid);
  values_.emplace_back(reinterpret_cast<const char*>(value.data()), value.size());
  nulls_.push_back(false);
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Null(uint32_t type_oid) {
  types_.push_back(type_oid);
  values_.emplace_back();
  nulls_.push_back(true);
  formats_.push_back(1);
  return *this;
}

std::string PgParams::TypeSignature() const {
  std::string sig;
  for (const uint32_t t : types_) {
    sig += std::to_string(t);
    sig += ',';
  }
  return sig;
}

// --- PgResult ---------------------------------------------------------------------------------

PgResult::PgResult(pg_result* result) : result_(result) {}

PgResult::PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

PgResult::~PgResult() { PQclear(result_); }

int PgResult::rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }

int64_t PgResult::affected() const {
  const char* n = result_ == nullptr ? nullptr : PQcmdTuples(result_);
  if (n == nullptr || *n == '\0') {
    return 0;
  }
  return std::strtoll(n, nullptr, 10);
}

bool PgResult::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

int64_t PgResult::Int(int row, int column) const {
  if (IsNull(row, column)) {
    return 0;
  }
  const char* p = PQgetvalue(result_, row, column);
  const int length = PQgetlength(result_, row, column);
  switch (PQftype(result_, column)) {
    case kInt8Oid:
      return length == 8 ? ReadBigEndian<int64_t>(p) : 0;
    case kInt4Oid:
      return length == 4 ? ReadBigEndian<int32_t>(p) : 0;
    case kInt2Oid:
      return length == 2 ? ReadBigEndian<int16_t>(p) : 0;
    case kBoolOid:
      return length == 1 && p[0] != 0 ? 1 : 0;
    default:
      return 0;
  }
}

std::optional<int64_t> PgResult::OptionalInt(int row, int column) const {
  if (IsNull(row, column)) {
    return std::nullopt;
  }
  return Int(row, column);
}

bool PgResult::Bool(int row, int column) const { return Int(row, column) != 0; }

std::string PgResult::Text(int row, int column) const {
  if (IsNull(row, column)) {
    return "";
  }
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

std::vector<uint8_t> PgResult::Bytes(int row, int column) const {
  if (IsNull(row, column)) {
    return {};
  }
  const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(result_, row, column));
  return std::vector<uint8_t>(p, p + PQgetlength(result_, row, column));
}

// --- PgConnection -----------------------------------------------------------------------------

StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo,
                                                              int connect_timeout_seconds) {
  // Defaults first: what the URL itself says (expanded from dbname) overrides them.
  const std::string timeout = std::to_string(connect_timeout_seconds);
  const char* const keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* const values[] = {timeout.c_str(), "coffer", conninfo.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return Err(UnavailableError("store: out of memory connecting to PostgreSQL"));
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    if (message.find("invalid") != std::string::npos && message.find("URI") != std::string::npos) {
      return Err(InvalidArgumentError("store: " + message));
    }
    return Err(UnavailableError("store: cannot connect to PostgreSQL: " + message));
  }
  // Notices (e.g. "already exists, skipping") are not for the user's terminal.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConnection> connection(new PgConnection(conn));
  if (PQsetClientEncoding(conn, "UTF8") != 0) {
    return Err(UnavailableError("store: PostgreSQL refused client_encoding UTF8"));
  }
  RETURN_IF_ERROR(connection->ExecScript(
      "SET TIME ZONE 'UTC'; SET synchronous_commit = on; SET default_transaction_isolation = "
      "'read committed'; SET client_min_messages = warning"));
  return connection;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::healthy() const {
  return PQstatus(conn_) == CONNECTION_OK && !last_error_.sqlstate.starts_with("57P") &&
         !last_error_.sqlstate.starts_with("08");
}

bool PgConnection::InTransaction() const {
  const PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

int PgConnection::socket() const { return PQsocket(conn_); }

Status PgConnection::SendQuery(std::string_view sql) {
  last_error_ = PgError{};
  const std::string text(sql);
  if (PQsendQueryParams(conn_, text.c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                        /*resultFormat=*/1) == 0) {
    return UnavailableError("store: cannot send a query: " + Trimmed(PQerrorMessage(conn_)));
  }
  return OkStatus();
}

Status PgConnection::ConsumeInput() {
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    return UnavailableError("store: the connection broke: " + Trimmed(PQerrorMessage(conn_)));
  }
  return OkStatus();
}

bool PgConnection::Busy() const { return PQisBusy(conn_) != 0; }

StatusOr<std::optional<PgResult>> PgConnection::TakeResult() {
  pg_result* raw = PQgetResult(conn_);
  if (raw == nullptr) {
    return std::optional<PgResult>();
  }
  PgResult result(raw);
  const ExecStatusType status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Err(Failure(raw, "query"));
  }
  return std::optional<PgResult>(std::move(result));
}

std::optional<PgNotification> PgConnection::TakeNotification() {
  PGnotify* notify = PQnotifies(conn_);
  if (notify == nullptr) {
    return std::nullopt;
  }
  PgNotification out{notify->relname != nullptr ? notify->relname : "",
                     notify->extra != nullptr ? notify->extra : ""};
  PQfreemem(notify);
  return out;
}

bool PgConnection::lost() const {
  return !healthy() || last_error_.sqlstate.starts_with("08") ||
         last_error_.sqlstate.starts_with("57P");
}

bool PgConnection::retryable() const {
  return last_error_.sqlstate == "40001" || last_error_.sqlstate == "40P01";
}

Status PgConnection::Failure(pg_result* result, std::string_view what) {
  last_error_ = PgError{};
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* constraint =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  // The primary message only: DETAIL may quote the row's values.
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  last_error_.sqlstate = state != nullptr ? state : "";
  last_error_.constraint = constraint != nullptr ? constraint : "";
  std::string message = "store: ";
  message += what;
  message += ": ";
  message += primary != nullptr ? Trimmed(primary) : Trimmed(PQerrorMessage(conn_));
  if (!healthy() || last_error_.sqlstate.starts_with("08") ||
      last_error_.sqlstate.starts_with("57P")) {
    return UnavailableError(std::move(message));
  }
  const std::string& s = last_error_.sqlstate;
  if (s == "23505") {
    return AlreadyExistsError(std::move(message));
  }
  if (s == "23503") {
    return NotFoundError(std::move(message));
  }
  if (s == "40001" || s == "40P01") {
    return AbortedError(std::move(message));
  }
  if (s == "53300" || s == "53400") {  // too many connections, configuration limit
    return UnavailableError(std::move(message));
  }
  // The database cannot write: disk full, a read-only (standby) server, an I/O error. Named so
  // the API answers 503 storage-full / storage-read-only / storage-io-error.
  const StorageFault fault = s == "53100"   ? StorageFault::kFull
                             : s == "25006" ? StorageFault::kReadOnly
                             : s == "58030" ? StorageFault::kIoError
                                            : StorageFault::kNone;
  if (fault != StorageFault::kNone) {
    return StorageFaultError(fault, std::move(message));
  }
  return InternalError(std::move(message));
}

StatusOr<PgResult> PgConnection::Exec(std::string_view sql, const PgParams& params) {
  last_error_ = PgError{};
  std::string key = params.TypeSignature();
  key += '\n';
  key += sql;
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "coffer_" + std::to_string(++next_statement_);
    const std::string text(sql);
    pg_result* raw = PQprepare(conn_, name.c_str(), text.c_str(), params.size(),
                               reinterpret_cast<const Oid*>(params.types_.data()));
    PgResult prepared(raw);
    if (raw == nullptr || PQresultStatus(raw) != PGRES_COMMAND_OK) {
      return Err(Failure(raw, "prepare"));
    }
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values(static_cast<size_t>(params.size()));
  std::vector<int> lengths(static_cast<size_t>(params.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = params.nulls_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  pg_result* raw = PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(),
                                  lengths.data(), params.formats_.data(), /*resultFormat=*/1);
  PgResult result(raw);
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Err(Failure(raw, "query"));
  }
  return result;
}

Status PgConnection::Run(std::string_view sql, const PgParams& params) {
  auto result = Exec(sql, params);
  return result.has_value() ? OkStatus() : result.error();
}

Status PgConnection::ExecScript(std::string_view sql) {
  last_error_ = PgError{};
  const std::string text(sql);
  pg_result* raw = PQexec(conn_, text.c_str());
  PgResult result(raw);
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Failure(raw, "statement");
  }
  return OkStatus();
}

}  // namespace coffer
