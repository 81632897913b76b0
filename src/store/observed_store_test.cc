// ObservedStore: each call is reported with its name and outcome, and takes as long as the clock
// the wrapper was given says.
#include "store/observed_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer {
namespace {

struct Call {
  std::string operation;
  std::chrono::nanoseconds elapsed;
  bool ok;
  bool operator==(const Call&) const = default;
};

class RecordingObserver final : public StoreObserver {
 public:
  void OnStoreCall(std::string_view operation, std::chrono::nanoseconds elapsed, bool ok) override {
    MutexLock lock(mu_);
    calls_.push_back({std::string(operation), elapsed, ok});
  }
  void OnRateLimitRefused(std::string_view) override {}
  void OnAuditWriteFailed() override {}
  std::vector<Call> calls() {
    MutexLock lock(mu_);
    return calls_;
  }

 private:
  Mutex mu_;
  std::vector<Call> calls_ COFFER_GUARDED_BY(mu_);
};

TEST(ObservedStoreTest, EachCallIsTimedOnTheClockItWasGiven) {
  std::string dir = (std::filesystem::path(::testing::TempDir()) / "coffer-observed-XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  {
    auto inner = OpenSqliteStore({.path = dir + "/db"});
    ASSERT_TRUE(inner.has_value());
    FakeMonotonicClock clock;
    RecordingObserver observer;
    std::unique_ptr<Store> store = NewObservedStore(**inner, observer, clock);

    const Vault vault{NewUuid(), "v", "", "owner-1", 1};
    ASSERT_TRUE(store->InsertVault(vault, nullptr).ok());
    NewSecretVersion version;
    version.vault_id = vault.id;
    version.path = "db/password";
    version.created_at = 1;
    version.created_by = "owner-1";
    // The seal runs inside the call: the time it takes is the call's.
    auto put = store->PutSecretVersion(
        version,
        [&](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
          clock.Advance(std::chrono::milliseconds(7));
          return std::vector<uint8_t>{1, 2, 3};
        },
        nullptr);
    ASSERT_TRUE(put.has_value());
    EXPECT_FALSE(store->GetVault(NewUuid()).has_value());
    EXPECT_EQ(observer.calls(), (std::vector<Call>{
                                    {"InsertVault", std::chrono::nanoseconds(0), true},
                                    {"PutSecretVersion", std::chrono::milliseconds(7), true},
                                    {"GetVault", std::chrono::nanoseconds(0), false},
                                }));
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace coffer
