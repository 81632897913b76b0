// What the SqliteStore tests share: SqliteStoreTest, a fixture that opens stores on a file in a
// fresh directory, and raw access to that file through connections of their own.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {

// Runs one statement on the file through a connection of its own, outside the store.
inline void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// Runs `sql` on the file through a connection of its own and returns SQLite's result code.
inline int RawExecCode(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

// The rows of `sql` as "a|b" strings.
inline std::vector<std::string> RawQuery(const std::string& path, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      if (i > 0) {
        row += "|";
      }
      const auto* text = sqlite3_column_text(st, i);
      row += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "coffer-sqlite-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/coffer.db";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteStore> MustOpen(SqliteStoreOptions options = {}) {
    options.path = path_;
    auto store = SqliteStore::Open(options);
    EXPECT_THAT(store, IsOk());
    return store.has_value() ? std::move(store).value() : nullptr;
  }

  static Vault AddVault(Store& store, std::string name = "v") {
    Vault v{NewUuid(), std::move(name), "", "owner-1", kT0};
    EXPECT_THAT(store.InsertVault(v, nullptr), IsOk());
    return v;
  }

  // Every audit event in seq order.
  static std::vector<AuditEvent> AllAudit(Store& store) {
    std::vector<AuditEvent> events;
    EXPECT_THAT(store.ScanAudit([&](const AuditEvent& e) {
      events.push_back(e);
      return true;
    }),
                IsOk());
    return events;
  }

  static NewSecretVersion NewVersion(const Vault& v, std::string path) {
    NewSecretVersion n;
    n.vault_id = v.id;
    n.path = std::move(path);
    n.created_at = kT0;
    return n;
  }

  // Waits until `n` write operations are queued behind the (blocked) writer.
  static void WaitForPending(const SqliteStore& store, uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (store.Stats().pending_ops < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(store.Stats().pending_ops, n);
  }

  std::string dir_;
  std::string path_;
};

}  // namespace coffer::store_testing
