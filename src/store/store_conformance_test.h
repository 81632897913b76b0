// The conformance suite every Store backend must pass: one value-parameterized GoogleTest
// fixture, instantiated per backend with a factory (see sqlite/sqlite_store_test.cc), so the
// SQLite and PostgreSQL stores are held to exactly the same contract.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/status_matchers.h"
#include "model/identity.h"
#include "store/store.h"

namespace coffer::store_testing {

// Makes a store whose data lives in `scratch_dir`, an empty directory that exists for the whole
// test. Called again with the same directory after the previous store was destroyed, it must
// reopen the same data. Returns null on failure (the test then fails), or null after
// GTEST_SKIP() when the backend is not available in this environment (the test is skipped).
using StoreFactory = std::function<std::unique_ptr<Store>(const std::string& scratch_dir)>;

struct StoreBackend {
  std::string name;  // becomes the test-name suffix: letters, digits and '_' only
  StoreFactory factory;
};

// For INSTANTIATE_TEST_SUITE_P(…, StoreConformanceTest, ::testing::Values(backend), BackendName).
std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info);

// A fixed point in time; tests never read the wall clock.
constexpr UnixMicros kT0 = 1'700'000'000'000'000;

// A stand-in for AEAD sealing: "<secret_id>|<version>|<value>", so a test can check that the
// ciphertext was bound to the header the store passed in.
SealFunction FakeSeal(std::string value);
std::vector<uint8_t> FakeCiphertext(std::string_view secret_id, int64_t version,
                                    std::string_view value);

// An audit event as the service layer hands it over: every field but seq and the hashes.
AuditEvent MakeEvent(std::string_view action, std::string_view vault_id = "",
                     std::string_view actor_id = "user-1", UnixMicros at = kT0);
// Succeeds when `events` are seqs 1..n in order, the first chained to 32 zero bytes and each
// other to its predecessor's hash, and every hash recomputes with AuditChainHash.
::testing::AssertionResult ChainIsIntact(const std::vector<AuditEvent>& events);

// A credential of agent `agent_id`, with a made-up HMAC.
Credential AgentCredential(std::string_view agent_id, std::string public_id,
                           std::string kind = "key", UnixMicros created_at = kT0);

// The tests are in store_conformance_test.cc (keyring, users, vaults),
// store_conformance_secrets_test.cc (secrets, versions, listing, counted reads, import, reopen),
// store_conformance_concurrency_test.cc (concurrent writers and readers),
// store_conformance_identity_test.cc (credentials, agents, policies),
// store_conformance_audit_test.cc (audit chain, rate limits), store_conformance_keys_test.cc
// (data key rotation), store_conformance_changes_test.cc (published changes) and
// store_conformance_shares_test.cc (share links), store_conformance_versions_test.cc
// (check-and-set writes), store_conformance_lifecycle_test.cc (aliases, destroy, retention)
// and store_conformance_bindings_test.cc (gateway bindings, executions, use counters); a
// backend's
// test binary links all.
class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;     // a fresh scratch directory and store
  void TearDown() override;  // closes the store, removes the directory

  // Closes the store and opens it again on the same data.
  void Reopen();

  // Inserts a vault (a new UUID) and returns it; adds a test failure if that fails.
  Vault AddVault(std::string_view name, std::string_view owner_id = "owner-1",
                 UnixMicros created_at = kT0);
  // A new version for (vault, path) with the value's type and metadata defaulted.
  static NewSecretVersion NewVersion(std::string_view vault_id, std::string_view path,
                                     UnixMicros created_at = kT0);
  // Puts `value` (FakeSeal) at (vault, path).
  StatusOr<SecretVersion> Put(std::string_view vault_id, std::string_view path,
                              std::string value = "value");
  // Inserts an agent (a new UUID) with one API key whose public id is "<name>-key"; adds a test
  // failure if that fails.
  Agent AddAgent(std::string_view name, std::string_view owner_id = "owner-1",
                 UnixMicros created_at = kT0);
  // Every audit event in seq order, read through ScanAudit; adds a test failure if that fails.
  std::vector<AuditEvent> AllAudit();
  // Paths of ListSecrets(vault, prefix, after, limit), and its next_after in `next_after`.
  std::vector<std::string> ListPaths(std::string_view vault_id, std::string_view prefix,
                                     std::string_view after = "", size_t limit = 1000,
                                     std::string* next_after = nullptr);

  Store& store() { return *store_; }
  const std::string& scratch_dir() const { return scratch_dir_; }

 private:
  std::string scratch_dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace coffer::store_testing
