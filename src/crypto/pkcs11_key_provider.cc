// PKCS#11 root key: loads the module named by the URI (dlopen), logs in with the PIN from a file
// or an environment variable, finds (or generates) a non-extractable AES-256 key and seals keyring
// keys with it inside the token — AES key wrap with padding when the token has it, else AES-GCM.
// A failure closes the session; the next attempt, rate-limited, opens it again. Every call into
// the module runs on one worker thread that owns the session, within a deadline.
#define CRYPTOKI_GNU 1  // the header's own names (no compatibility macros such as `value`)
#include "crypto/pkcs11_key_provider.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "common/deadline_worker.h"
#include "common/file_mode.h"
#include "common/mutex.h"
#include "common/regular_file.h"

namespace coffer {
namespace {

// PKCS#11 booleans (the header defines kTrue only in its compatibility mode).
constexpr unsigned char kTrue = 1;
constexpr unsigned char kFalse = 0;
constexpr uint8_t kMechWrapPad = 0x01;
constexpr uint8_t kMechGcm = 0x02;
constexpr size_t kGcmIvSize = 12;
constexpr size_t kGcmTagSize = 16;
constexpr size_t kBindTagSize = 32;
constexpr size_t kMaxPinSize = 256;

Status Unavailable(std::string message) {
  StatusPayload payload;
  payload.key_provider_unavailable = true;
  return Status(StatusCode::kUnavailable, std::move(message), payload);
}

Status OkOrError(const StatusOr<bool>& result) {
  return result.has_value() ? OkStatus() : result.error();
}

std::string RvText(ck_rv_t rv) { return fmt::format("PKCS#11 error 0x{:x}", rv); }

// A loaded, initialized module; one per module path for the life of the process (C_Initialize
// is once per process, and several providers may share a module).
struct Module {
  void* handle = nullptr;
  ck_function_list* f = nullptr;
};

Mutex& ModulesMutex() {
  static Mutex* mu = new Mutex();
  return *mu;
}

ck_rv_t InitializeModule(ck_function_list* f) {
  ck_c_initialize_args args{};
  args.flags = CKF_OS_LOCKING_OK;
  return f->C_Initialize(&args);
}

// Finalizes and initializes `module` again, so it scans its slots afresh: a token that went away
// (its store unreadable, a device unplugged) is found again only then. Every session of the
// module is closed by it; their owners open new ones on their next attempt.
Status ReinitializeModule(Module& module) {
  MutexLock lock(ModulesMutex());
  (void)module.f->C_Finalize(nullptr);  // not initialized any more is fine too
  const ck_rv_t rv = InitializeModule(module.f);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return Unavailable("the PKCS#11 module failed to initialize again: " + RvText(rv));
  }
  return OkStatus();
}

StatusOr<Module*> LoadModule(const std::string& path) {
  static std::map<std::string, Module>* modules = new std::map<std::string, Module>();
  MutexLock lock(ModulesMutex());
  if (const auto it = modules->find(path); it != modules->end()) return &it->second;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Err(Unavailable(fmt::format("cannot load PKCS#11 module {}", path)));
  }
  using GetList = ck_rv_t (*)(ck_function_list**);
  auto get_list = reinterpret_cast<GetList>(::dlsym(handle, "C_GetFunctionList"));
  ck_function_list* f = nullptr;
  if (get_list == nullptr || get_list(&f) != CKR_OK || f == nullptr) {
    ::dlclose(handle);
    return Err(Unavailable(fmt::format("{} is not a PKCS#11 module", path)));
  }
  const ck_rv_t rv = InitializeModule(f);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    ::dlclose(handle);
    return Err(
        Unavailable(fmt::format("PKCS#11 module {} failed to initialize: {}", path, RvText(rv))));
  }
  return &modules->emplace(path, Module{handle, f}).first->second;
}

// A PKCS#11 label field: blank-padded to 32 bytes, not NUL-terminated.
std::string TrimLabel(const unsigned char* label, size_t size) {
  std::string s(reinterpret_cast<const char*>(label), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

ck_attribute Attr(ck_attribute_type_t type, void* value, size_t size) {
  ck_attribute a{};
  a.type = type;
  a.value = value;
  a.value_len = size;
  return a;
}

class Pkcs11RootKey final : public RootKey, public std::enable_shared_from_this<Pkcs11RootKey> {
 public:
  Pkcs11RootKey(Pkcs11Uri uri, Pkcs11Options options)
      : uri_(std::move(uri)),
        options_(std::move(options)),
        worker_(options_.call_timeout,
                options_.clock != nullptr ? *options_.clock : DefaultMonotonicClock(),
                // The module (SoftHSM2 among others) uses OpenSSL on this thread: its per-thread
                // state (error queue, random generators) is freed here, before the thread ends,
                // not by a thread-exit hook that OpenSSL's own cleanup at exit may have removed.
                [] { OPENSSL_thread_stop(); }) {}
  // Runs when no call is queued or running (each holds a reference), on the worker thread when
  // the last reference was a call's.
  ~Pkcs11RootKey() override {
    MutexLock lock(mu_);
    CloseSession();
  }

  // Opens the session now (or reports why it cannot).
  Status Check() {
    return OkOrError(OnWorker<bool>([](Pkcs11RootKey& k) -> StatusOr<bool> {
      MutexLock lock(k.mu_);
      RETURN_IF_ERROR(k.EnsureSession());
      return true;
    }));
  }

  // Checks an open session still reaches the key (closing it when not), then as Check.
  Status CheckReachable() {
    return OkOrError(OnWorker<bool>([](Pkcs11RootKey& k) -> StatusOr<bool> {
      MutexLock lock(k.mu_);
      if (k.session_ != 0 && !k.SessionAlive()) {
        return Err(k.Failed(UnavailableError("the session no longer reaches the key")));
      }
      RETURN_IF_ERROR(k.EnsureSession());
      return true;
    }));
  }

  uint64_t failure_count() const { return failures_.load(std::memory_order_relaxed); }

  StatusOr<std::vector<uint8_t>> Seal(const SecretBuffer& key,
                                      std::span<const uint8_t> aad) override {
    // The job owns copies: a caller that timed out is gone by the time it runs.
    return OnWorker<std::vector<uint8_t>>([key = std::make_shared<SecretBuffer>(key.Clone()),
                                           aad = std::vector<uint8_t>(aad.begin(), aad.end())](
                                              Pkcs11RootKey& k) -> StatusOr<std::vector<uint8_t>> {
      MutexLock lock(k.mu_);
      RETURN_IF_ERROR(k.EnsureSession());
      StatusOr<std::vector<uint8_t>> sealed =
          k.mech_ == kMechWrapPad ? k.SealWrapPad(*key, aad) : k.SealGcm(*key, aad);
      if (!sealed.has_value()) return Err(k.Failed(sealed.error()));
      return sealed;
    });
  }

  StatusOr<SecretBuffer> Open(std::span<const uint8_t> sealed,
                              std::span<const uint8_t> aad) override {
    if (sealed.size() < 2 || sealed[0] != kSealedByPkcs11 ||
        (sealed[1] != kMechWrapPad && sealed[1] != kMechGcm)) {
      return Err(NotSealedHere());
    }
    return OnWorker<SecretBuffer>([sealed = std::vector<uint8_t>(sealed.begin(), sealed.end()),
                                   aad = std::vector<uint8_t>(aad.begin(), aad.end())](
                                      Pkcs11RootKey& k) -> StatusOr<SecretBuffer> {
      MutexLock lock(k.mu_);
      RETURN_IF_ERROR(k.EnsureSession());
      StatusOr<SecretBuffer> key =
          sealed[1] == kMechWrapPad ? k.OpenWrapPad(sealed, aad) : k.OpenGcm(sealed, aad);
      if (key.has_value()) return key;
      if (key.error().code() == StatusCode::kFailedPrecondition && k.SessionAlive()) {
        return Err(key.error());
      }
      return Err(k.Failed(key.error()));
    });
  }

  RootKeyKind kind() const override { return RootKeyKind::kPkcs11; }
  std::string Describe() const override {
    return fmt::format("PKCS#11 token {}, object {}", uri_.token, uri_.object);
  }

 private:
  using Clock = std::chrono::steady_clock;

  Clock::time_point Now() const { return options_.now ? options_.now() : Clock::now(); }

  // Runs `body` on the worker thread that owns the session and waits for it at most
  // call_timeout: kUnavailable (key_provider_unavailable) when it does not answer in time, or
  // at once while an earlier call still overruns. `body` owns what it touches.
  template <typename T, typename Body>
  StatusOr<T> OnWorker(Body body) {
    auto result = std::make_shared<std::optional<StatusOr<T>>>();
    const DeadlineWorker::Outcome outcome =
        worker_.Run([self = shared_from_this(), result, body = std::move(body)]() mutable {
          if (self->options_.before_call) self->options_.before_call();
          result->emplace(body(*self));
        });
    if (outcome == DeadlineWorker::Outcome::kDone) return std::move(**result);
    failures_.fetch_add(1, std::memory_order_relaxed);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(worker_.timeout());
    if (outcome == DeadlineWorker::Outcome::kTimedOut) {
      return Err(Unavailable(
          fmt::format("the root key's {} did not answer within {} ms", Describe(), ms.count())));
    }
    return Err(Unavailable(fmt::format(
        "the root key's {} cannot be reached: a call to it has not returned after {} ms",
        Describe(), ms.count())));
  }

  Status NotSealedHere() const {
    return FailedPreconditionError(
        fmt::format("a keyring key does not open under the root key of {}", Describe()));
  }

  // A failed operation: the session is closed, to be opened again by the next attempt.
  Status Failed(const Status& cause) COFFER_REQUIRES(mu_) {
    if (cause.code() == StatusCode::kFailedPrecondition || cause.code() == StatusCode::kInternal) {
      if (SessionAlive()) return cause;
    }
    CloseSession();
    last_failure_ = Now();
    failed_ = true;
    failures_.fetch_add(1, std::memory_order_relaxed);
    return Unavailable(
        fmt::format("the root key's {} cannot be reached: {}", Describe(), cause.message()));
  }

  bool SessionAlive() COFFER_REQUIRES(mu_) {
    if (session_ == 0 || module_ == nullptr) return false;
    ck_session_info info{};
    if (module_->f->C_GetSessionInfo(session_, &info) != CKR_OK) return false;
    // The key object must still be readable (a token whose store became unreadable may keep
    // the session but lose its objects).
    ck_key_type_t type = 0;
    ck_attribute a = Attr(CKA_KEY_TYPE, &type, sizeof(type));
    return module_->f->C_GetAttributeValue(session_, key_, &a, 1) == CKR_OK;
  }

  void CloseSession() COFFER_REQUIRES(mu_) {
    if (session_ != 0 && module_ != nullptr) {
      module_->f->C_CloseSession(session_);
    }
    session_ = 0;
    key_ = 0;
  }

  Status EnsureSession() COFFER_REQUIRES(mu_) {
    if (session_ != 0) return OkStatus();
    if (failed_ && Now() - last_failure_ < options_.reopen_interval) {
      return Unavailable(fmt::format(
          "the root key's {} could not be reached; the next attempt is due within {} ms",
          Describe(), options_.reopen_interval.count()));
    }
    Status opened = OpenSession();
    if (!opened.ok()) {
      CloseSession();
      last_failure_ = Now();
      failed_ = true;
      failures_.fetch_add(1, std::memory_order_relaxed);
      if (opened.code() == StatusCode::kUnavailable) return opened;
      return Unavailable(opened.message());
    }
    failed_ = false;
    return OkStatus();
  }

  StatusOr<SecretBuffer> ReadPin() const {
    if (!uri_.pin_env.empty()) {
      const char* v = std::getenv(uri_.pin_env.c_str());
      if (v == nullptr) {
        return Err(FailedPreconditionError(
            fmt::format("PIN environment variable {} is not set", uri_.pin_env)));
      }
      return SecretBuffer(std::string_view(v));
    }
    struct stat st {};
    ASSIGN_OR_RETURN(const int fd, OpenRegularFile(uri_.pin_file, "PIN file", &st));
    FdCloser closer(fd);
    RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "PIN file", uri_.pin_file));
    SecretBuffer buf(kMaxPinSize + 1);
    ASSIGN_OR_RETURN(size_t got, ReadUpTo(fd, {buf.data(), buf.size()}, "PIN file", uri_.pin_file));
    if (got > kMaxPinSize) {
      return Err(FailedPreconditionError(fmt::format("PIN file {} is too long", uri_.pin_file)));
    }
    while (got > 0 && (buf.data()[got - 1] == '\n' || buf.data()[got - 1] == '\r')) --got;
    return SecretBuffer(buf.data(), got);
  }

  StatusOr<ck_slot_id_t> FindSlot() COFFER_REQUIRES(mu_) {
    unsigned long count = 0;
    ck_rv_t rv = module_->f->C_GetSlotList(1, nullptr, &count);
    if (rv != CKR_OK) return Err(Unavailable("cannot list PKCS#11 slots: " + RvText(rv)));
    std::vector<ck_slot_id_t> slots(count);
    rv = module_->f->C_GetSlotList(1, slots.data(), &count);
    if (rv != CKR_OK) return Err(Unavailable("cannot list PKCS#11 slots: " + RvText(rv)));
    slots.resize(count);
    for (const ck_slot_id_t slot : slots) {
      ck_token_info info{};
      if (module_->f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      if (TrimLabel(info.label, sizeof(info.label)) != uri_.token) continue;
      if (!uri_.serial.empty() &&
          TrimLabel(info.serial_number, sizeof(info.serial_number)) != uri_.serial) {
        continue;
      }
      return slot;
    }
    return Err(Unavailable(fmt::format("no PKCS#11 token labelled {} is present", uri_.token)));
  }

  StatusOr<uint8_t> ChooseMechanism(ck_slot_id_t slot) COFFER_REQUIRES(mu_) {
    unsigned long count = 0;
    ck_rv_t rv = module_->f->C_GetMechanismList(slot, nullptr, &count);
    std::vector<ck_mechanism_type_t> mechs(count);
    if (rv == CKR_OK) rv = module_->f->C_GetMechanismList(slot, mechs.data(), &count);
    if (rv != CKR_OK) return Err(Unavailable("cannot list the token's mechanisms: " + RvText(rv)));
    mechs.resize(count);
    const bool wrap_pad =
        std::find(mechs.begin(), mechs.end(), CKM_AES_KEY_WRAP_PAD) != mechs.end();
    const bool gcm = std::find(mechs.begin(), mechs.end(), CKM_AES_GCM) != mechs.end();
    switch (options_.mechanism) {
      case Pkcs11Mechanism::kKeyWrapPad:
        if (wrap_pad) return kMechWrapPad;
        break;
      case Pkcs11Mechanism::kGcm:
        if (gcm) return kMechGcm;
        break;
      case Pkcs11Mechanism::kAuto:
        if (wrap_pad) return kMechWrapPad;
        if (gcm) return kMechGcm;
        break;
    }
    return Err(FailedPreconditionError(fmt::format(
        "PKCS#11 token {} offers neither AES key wrap with padding nor AES-GCM", uri_.token)));
  }

  // The key object of label uri_.object (0: none). kFailedPrecondition when several exist or the
  // one found is not a sensitive, non-extractable AES-256 key.
  StatusOr<ck_object_handle_t> FindKey() COFFER_REQUIRES(mu_) {
    ck_object_class_t cls = CKO_SECRET_KEY;
    ck_attribute find[] = {
        Attr(CKA_CLASS, &cls, sizeof(cls)),
        Attr(CKA_LABEL, const_cast<char*>(uri_.object.data()), uri_.object.size())};
    ck_rv_t rv = module_->f->C_FindObjectsInit(session_, find, 2);
    if (rv != CKR_OK) return Err(Unavailable("cannot search the token: " + RvText(rv)));
    ck_object_handle_t found[2] = {0, 0};
    unsigned long n = 0;
    rv = module_->f->C_FindObjects(session_, found, 2, &n);
    module_->f->C_FindObjectsFinal(session_);
    if (rv != CKR_OK) return Err(Unavailable("cannot search the token: " + RvText(rv)));
    if (n == 0) return ck_object_handle_t{0};
    if (n > 1) {
      return Err(FailedPreconditionError(fmt::format(
          "PKCS#11 token {} holds several secret keys labelled {}", uri_.token, uri_.object)));
    }
    ck_key_type_t type = 0;
    unsigned long len = 0;
    unsigned char sensitive = kFalse;
    unsigned char extractable = kTrue;
    ck_attribute check[] = {Attr(CKA_KEY_TYPE, &type, sizeof(type)),
                            Attr(CKA_VALUE_LEN, &len, sizeof(len)),
                            Attr(CKA_SENSITIVE, &sensitive, sizeof(sensitive)),
                            Attr(CKA_EXTRACTABLE, &extractable, sizeof(extractable))};
    rv = module_->f->C_GetAttributeValue(session_, found[0], check, 4);
    if (rv != CKR_OK) return Err(Unavailable("cannot read the key's attributes: " + RvText(rv)));
    if (type != CKK_AES || len != kRootKeySize || sensitive != kTrue || extractable != kFalse) {
      return Err(FailedPreconditionError(fmt::format(
          "the key {} in PKCS#11 token {} must be a sensitive, non-extractable AES-256 key",
          uri_.object, uri_.token)));
    }
    return found[0];
  }

  StatusOr<ck_object_handle_t> GenerateKey() COFFER_REQUIRES(mu_) {
    ck_object_class_t cls = CKO_SECRET_KEY;
    ck_key_type_t type = CKK_AES;
    unsigned long len = kRootKeySize;
    unsigned char yes = kTrue;
    unsigned char no = kFalse;
    ck_attribute t[] = {Attr(CKA_CLASS, &cls, sizeof(cls)),
                        Attr(CKA_KEY_TYPE, &type, sizeof(type)),
                        Attr(CKA_VALUE_LEN, &len, sizeof(len)),
                        Attr(CKA_LABEL, const_cast<char*>(uri_.object.data()), uri_.object.size()),
                        Attr(CKA_TOKEN, &yes, 1),
                        Attr(CKA_PRIVATE, &yes, 1),
                        Attr(CKA_SENSITIVE, &yes, 1),
                        Attr(CKA_EXTRACTABLE, &no, 1),
                        Attr(CKA_ENCRYPT, &yes, 1),
                        Attr(CKA_DECRYPT, &yes, 1),
                        Attr(CKA_WRAP, &yes, 1),
                        Attr(CKA_UNWRAP, &yes, 1)};
    ck_mechanism mech{CKM_AES_KEY_GEN, nullptr, 0};
    ck_object_handle_t key = 0;
    const ck_rv_t rv =
        module_->f->C_GenerateKey(session_, &mech, t, sizeof(t) / sizeof(t[0]), &key);
    if (rv != CKR_OK) {
      return Err(FailedPreconditionError(fmt::format(
          "cannot generate the root key in PKCS#11 token {}: {}", uri_.token, RvText(rv))));
    }
    return key;
  }

  Status OpenSession() COFFER_REQUIRES(mu_) {
    if (module_ == nullptr) {
      ASSIGN_OR_RETURN(module_, LoadModule(uri_.module_path));
    }
    StatusOr<ck_slot_id_t> found = FindSlot();
    if (!found.has_value() && failed_) {
      // After a failure the module may hold a stale view of its tokens.
      RETURN_IF_ERROR(ReinitializeModule(*module_));
      found = FindSlot();
    }
    if (!found.has_value()) return found.error();
    const ck_slot_id_t slot = *found;
    ck_rv_t rv = module_->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                           nullptr, &session_);
    if (rv != CKR_OK) {
      session_ = 0;
      return Unavailable(
          fmt::format("cannot open a session with PKCS#11 token {}: {}", uri_.token, RvText(rv)));
    }
    {
      ASSIGN_OR_RETURN(SecretBuffer pin, ReadPin());
      rv = module_->f->C_Login(session_, CKU_USER, pin.data(), pin.size());
    }  // the PIN is wiped here
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
      return FailedPreconditionError(
          fmt::format("PKCS#11 token {} refused the PIN (check pin-source)", uri_.token));
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      return Unavailable(
          fmt::format("cannot log in to PKCS#11 token {}: {}", uri_.token, RvText(rv)));
    }
    ASSIGN_OR_RETURN(mech_, ChooseMechanism(slot));
    ASSIGN_OR_RETURN(key_, FindKey());
    if (key_ == 0) {
      if (!options_.create_if_missing) {
        return FailedPreconditionError(fmt::format(
            "PKCS#11 token {} holds no secret key labelled {} (create it with `coffer init "
            "--root-key-uri …`)",
            uri_.token, uri_.object));
      }
      ASSIGN_OR_RETURN(key_, GenerateKey());
    }
    return OkStatus();
  }

  // Binds a wrap-pad sealed key to its associated data (key wrap has none of its own): an HMAC
  // under the key itself over the header and `aad`.
  static std::vector<uint8_t> BindTag(const SecretBuffer& key, std::span<const uint8_t> aad) {
    static constexpr std::string_view kLabel = "coffer/pkcs11-bind/v1";
    std::vector<uint8_t> msg(kLabel.begin(), kLabel.end());
    msg.insert(msg.end(), aad.begin(), aad.end());
    std::vector<uint8_t> tag(kBindTagSize);
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(),
             tag.data(), &len) == nullptr ||
        len != kBindTagSize) {
      return {};
    }
    return tag;
  }

  StatusOr<std::vector<uint8_t>> SealWrapPad(const SecretBuffer& key, std::span<const uint8_t> aad)
      COFFER_REQUIRES(mu_) {
    ck_object_class_t cls = CKO_SECRET_KEY;
    ck_key_type_t type = CKK_AES;
    unsigned char yes = kTrue;
    unsigned char no = kFalse;
    ck_attribute t[] = {Attr(CKA_CLASS, &cls, sizeof(cls)),
                        Attr(CKA_KEY_TYPE, &type, sizeof(type)),
                        Attr(CKA_TOKEN, &no, 1),
                        Attr(CKA_SENSITIVE, &no, 1),
                        Attr(CKA_EXTRACTABLE, &yes, 1),
                        Attr(CKA_VALUE, const_cast<uint8_t*>(key.data()), key.size())};
    ck_object_handle_t obj = 0;
    ck_rv_t rv = module_->f->C_CreateObject(session_, t, sizeof(t) / sizeof(t[0]), &obj);
    if (rv != CKR_OK) return Err(InternalError("cannot hand the key to the token: " + RvText(rv)));
    ck_mechanism mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    unsigned long len = 0;
    rv = module_->f->C_WrapKey(session_, &mech, key_, obj, nullptr, &len);
    std::vector<uint8_t> out(2 + len);
    if (rv == CKR_OK) rv = module_->f->C_WrapKey(session_, &mech, key_, obj, out.data() + 2, &len);
    module_->f->C_DestroyObject(session_, obj);
    if (rv != CKR_OK) return Err(InternalError("the token failed to wrap a key: " + RvText(rv)));
    out.resize(2 + len);
    out[0] = kSealedByPkcs11;
    out[1] = kMechWrapPad;
    std::vector<uint8_t> bound(out.begin(), out.begin() + 2);
    bound.insert(bound.end(), aad.begin(), aad.end());
    const std::vector<uint8_t> tag = BindTag(key, bound);
    if (tag.empty()) return Err(InternalError("HMAC-SHA256 failed"));
    out.insert(out.end(), tag.begin(), tag.end());
    return out;
  }

  StatusOr<SecretBuffer> OpenWrapPad(std::span<const uint8_t> sealed, std::span<const uint8_t> aad)
      COFFER_REQUIRES(mu_) {
    if (sealed.size() < 2 + 8 + kBindTagSize) return Err(NotSealedHere());
    std::span<const uint8_t> wrapped = sealed.subspan(2, sealed.size() - 2 - kBindTagSize);
    std::span<const uint8_t> tag = sealed.last(kBindTagSize);
    ck_object_class_t cls = CKO_SECRET_KEY;
    ck_key_type_t type = CKK_AES;
    unsigned char yes = kTrue;
    unsigned char no = kFalse;
    ck_attribute t[] = {Attr(CKA_CLASS, &cls, sizeof(cls)), Attr(CKA_KEY_TYPE, &type, sizeof(type)),
                        Attr(CKA_TOKEN, &no, 1), Attr(CKA_SENSITIVE, &no, 1),
                        Attr(CKA_EXTRACTABLE, &yes, 1)};
    ck_mechanism mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    ck_object_handle_t obj = 0;
    ck_rv_t rv =
        module_->f->C_UnwrapKey(session_, &mech, key_, const_cast<uint8_t*>(wrapped.data()),
                                wrapped.size(), t, sizeof(t) / sizeof(t[0]), &obj);
    if (rv != CKR_OK) return Err(NotSealedHere());
    SecretBuffer key(kRootKeySize);
    ck_attribute v = Attr(CKA_VALUE, key.data(), key.size());
    rv = module_->f->C_GetAttributeValue(session_, obj, &v, 1);
    module_->f->C_DestroyObject(session_, obj);
    if (rv != CKR_OK || v.value_len != kRootKeySize) return Err(NotSealedHere());
    std::vector<uint8_t> bound(sealed.begin(), sealed.begin() + 2);
    bound.insert(bound.end(), aad.begin(), aad.end());
    const std::vector<uint8_t> want = BindTag(key, bound);
    if (want.empty() || CRYPTO_memcmp(want.data(), tag.data(), kBindTagSize) != 0) {
      return Err(NotSealedHere());
    }
    return key;
  }

  StatusOr<std::vector<uint8_t>> SealGcm(const SecretBuffer& key, std::span<const uint8_t> aad)
      COFFER_REQUIRES(mu_) {
    std::vector<uint8_t> out(2 + kGcmIvSize + key.size() + kGcmTagSize);
    out[0] = kSealedByPkcs11;
    out[1] = kMechGcm;
    RETURN_IF_ERROR(random_.Fill({out.data() + 2, kGcmIvSize}));
    std::vector<uint8_t> full_aad(out.begin(), out.begin() + 2);
    full_aad.insert(full_aad.end(), aad.begin(), aad.end());
    ck_gcm_params params{};
    params.iv_ptr = out.data() + 2;
    params.iv_len = kGcmIvSize;
    params.iv_bits = kGcmIvSize * 8;
    params.aad_ptr = full_aad.data();
    params.aad_len = full_aad.size();
    params.tag_bits = kGcmTagSize * 8;
    ck_mechanism mech{CKM_AES_GCM, &params, sizeof(params)};
    ck_rv_t rv = module_->f->C_EncryptInit(session_, &mech, key_);
    unsigned long len = key.size() + kGcmTagSize;
    if (rv == CKR_OK) {
      rv = module_->f->C_Encrypt(session_, const_cast<uint8_t*>(key.data()), key.size(),
                                 out.data() + 2 + kGcmIvSize, &len);
    }
    if (rv != CKR_OK || len != key.size() + kGcmTagSize) {
      return Err(InternalError("the token failed to encrypt a key: " + RvText(rv)));
    }
    return out;
  }

  StatusOr<SecretBuffer> OpenGcm(std::span<const uint8_t> sealed, std::span<const uint8_t> aad)
      COFFER_REQUIRES(mu_) {
    if (sealed.size() < 2 + kGcmIvSize + kGcmTagSize) return Err(NotSealedHere());
    std::vector<uint8_t> iv(sealed.begin() + 2, sealed.begin() + 2 + kGcmIvSize);
    std::vector<uint8_t> full_aad(sealed.begin(), sealed.begin() + 2);
    full_aad.insert(full_aad.end(), aad.begin(), aad.end());
    ck_gcm_params params{};
    params.iv_ptr = iv.data();
    params.iv_len = kGcmIvSize;
    params.iv_bits = kGcmIvSize * 8;
    params.aad_ptr = full_aad.data();
    params.aad_len = full_aad.size();
    params.tag_bits = kGcmTagSize * 8;
    ck_mechanism mech{CKM_AES_GCM, &params, sizeof(params)};
    const std::span<const uint8_t> ct = sealed.subspan(2 + kGcmIvSize);
    ck_rv_t rv = module_->f->C_DecryptInit(session_, &mech, key_);
    if (rv != CKR_OK) return Err(InternalError("the token failed to decrypt: " + RvText(rv)));
    SecretBuffer key(ct.size());
    unsigned long len = key.size();
    rv = module_->f->C_Decrypt(session_, const_cast<uint8_t*>(ct.data()), ct.size(), key.data(),
                               &len);
    if (rv != CKR_OK || len != kRootKeySize) return Err(NotSealedHere());
    SecretBuffer out(key.data(), len);
    return out;
  }

  const Pkcs11Uri uri_;
  const Pkcs11Options options_;
  SystemRandom random_;
  Mutex mu_;
  Module* module_ COFFER_GUARDED_BY(mu_) = nullptr;
  ck_session_handle_t session_ COFFER_GUARDED_BY(mu_) = 0;
  ck_object_handle_t key_ COFFER_GUARDED_BY(mu_) = 0;
  uint8_t mech_ COFFER_GUARDED_BY(mu_) = 0;
  bool failed_ COFFER_GUARDED_BY(mu_) = false;
  Clock::time_point last_failure_ COFFER_GUARDED_BY(mu_);
  std::atomic<uint64_t> failures_{0};
  DeadlineWorker worker_;  // last: stopped before the members its calls use are destroyed
};

class Pkcs11KeyProvider final : public KeyProvider {
 public:
  Pkcs11KeyProvider(Pkcs11Uri uri, Pkcs11Options options)
      : root_(std::make_shared<Pkcs11RootKey>(std::move(uri), std::move(options))) {}

  StatusOr<SecretBuffer> LoadRootKey() override {
    return Err(FailedPreconditionError(
        fmt::format("the root key in {} never leaves the token", root_->Describe())));
  }

  StatusOr<std::shared_ptr<RootKey>> OpenRootKey(Random& /*random*/) override {
    RETURN_IF_ERROR(root_->Check());
    return std::shared_ptr<RootKey>(root_);
  }

  std::string Describe() const override { return root_->Describe(); }
  Status CheckReachable() override { return root_->CheckReachable(); }
  uint64_t failure_count() const override { return root_->failure_count(); }

 private:
  std::shared_ptr<Pkcs11RootKey> root_;
};

}  // namespace

std::unique_ptr<KeyProvider> NewPkcs11KeyProvider(Pkcs11Uri uri, Pkcs11Options options) {
  return std::make_unique<Pkcs11KeyProvider>(std::move(uri), std::move(options));
}

}  // namespace coffer
