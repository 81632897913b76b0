// A service-level test environment: a real SQLite store in a temp dir, a fresh keyring, fake
// clocks, a seeded random source, and the admin principal from InitializeStore.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/ids.h"
#include "common/monotonic_clock.h"
#include "common/random.h"
#include "common/secret_buffer.h"
#include "crypto/keyring.h"
#include "service/agent_service.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/policy_service.h"
#include "service/secret_service.h"
#include "service/share_service.h"
#include "service/user_service.h"
#include "service/vault_service.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer {

class ServiceTestEnv {
 public:
  // 2026-01-01T00:00:00Z
  static constexpr UnixMicros kStart = 1'767'225'600LL * kMicrosPerSecond;
  // Every environment draws the same keys, tokens and ids.
  static constexpr uint64_t kSeed = 20260101;

  ServiceTestEnv() : clock_(kStart) {
    // A directory of its own (mkdtemp): the ids are the same in every environment.
    std::string dir = (std::filesystem::temp_directory_path() / "coffer-svc-XXXXXX").string();
    EXPECT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    store_ = std::move(OpenSqliteStore(SqliteStoreOptions{.path = (dir_ / "db").string(),
                                                          .clock = &monotonic_clock_,
                                                          .random = &random_})
                           .value());
    root_key_ = SecretBuffer(32);
    EXPECT_TRUE(random_.Fill({root_key_.data(), root_key_.size()}).ok());
    auto boot = InitializeStore(*store_, root_key_, random_, clock_);
    EXPECT_TRUE(boot.has_value());
    admin_key_ = std::move(boot->api_key);
    admin_ = {PrincipalKind::kUser, boot->admin.id, "admin", true, ""};
    keyring_ = std::move(Keyring::Unwrap(store_->LoadKeys().value(), root_key_, random_).value());
    cache_ = std::make_unique<AccessCache>(*store_);
    authorizer_ = std::make_unique<Authorizer>(*cache_, clock_);
    audit_ = std::make_unique<AuditLog>(*store_, clock_);
    deps_ = std::make_unique<ServiceDeps>(
        ServiceDeps{*store_, clock_, *cache_, *authorizer_, *audit_, random_, monotonic_clock_});
    auth_ = std::make_unique<AuthService>(*deps_, *keyring_,
                                          AuthService::Options{std::chrono::seconds(60)});
    vaults_ = std::make_unique<VaultService>(*deps_);
    secrets_ = std::make_unique<SecretService>(*deps_, *keyring_);
    users_ = std::make_unique<UserService>(*deps_, *keyring_);
    agents_ = std::make_unique<AgentService>(*deps_, *auth_, *keyring_);
    policies_ = std::make_unique<PolicyService>(*deps_);
    audit_service_ = std::make_unique<AuditService>(*deps_);
    shares_ = std::make_unique<ShareService>(*deps_, *keyring_, *auth_,
                                             ShareService::Options{.public_base_url = [] {
                                               return std::string("https://coffer.test");
                                             }});
  }
  ~ServiceTestEnv() {
    shares_.reset();
    audit_service_.reset();
    policies_.reset();
    agents_.reset();
    users_.reset();
    secrets_.reset();
    vaults_.reset();
    auth_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  RequestContext AdminCtx() const { return {admin_, "req-test", "127.0.0.1"}; }
  // Makes every audit append fail (with an error that is no storage fault), as a broken audit
  // table would.
  void BreakAuditTable() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TRIGGER break_audit BEFORE INSERT ON audit_events "
                           "BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  std::string NewVault(const std::string& name = "v") {
    return vaults_->Create(AdminCtx(), {name, ""}).value().id;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  FakeMonotonicClock monotonic_clock_;
  DeterministicRandom random_{kSeed};
  SecretBuffer root_key_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Keyring> keyring_;
  SecretBuffer admin_key_;
  Principal admin_;
  std::unique_ptr<AccessCache> cache_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<ServiceDeps> deps_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<VaultService> vaults_;
  std::unique_ptr<SecretService> secrets_;
  std::unique_ptr<UserService> users_;
  std::unique_ptr<AgentService> agents_;
  std::unique_ptr<PolicyService> policies_;
  std::unique_ptr<AuditService> audit_service_;
  std::unique_ptr<ShareService> shares_;
};

// The Authorization header value that carries `token`.
inline std::string Bearer(std::string_view token) { return "Bearer " + std::string(token); }
inline std::string Bearer(const SecretBuffer& token) { return Bearer(token.view()); }

}  // namespace coffer
