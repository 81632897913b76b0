// Root key providers: a 0600 key file holding 64 hex characters, or an environment variable; the
// root key held as bytes (AES-256-GCM), and the choice of provider from a --root-key-uri.
// Messages name the file or variable and the fix, and never contain key material.
#include "crypto/key_provider.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "common/file_mode.h"
#include "common/regular_file.h"
#include "crypto/aead.h"
#include "crypto/pkcs11_key_provider.h"

namespace coffer {
namespace {

constexpr size_t kRootKeyHexSize = 2 * kRootKeySize;
// Generous bound on what a well-formed key file holds (64 hex chars, maybe a newline): reading
// one byte more than allowed is enough to tell an over-long file from a good one.
constexpr size_t kMaxKeyFileRead = kRootKeyHexSize + 2;

int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes 64 hex characters and an optional trailing '\n' into a 32-byte key; false when
// malformed (and `key` untouched).
bool DecodeHexKey(std::span<const uint8_t> text, SecretBuffer& key) {
  if (text.size() == kRootKeyHexSize + 1 && text.back() == '\n') text = text.first(kRootKeyHexSize);
  if (text.size() != kRootKeyHexSize) return false;
  SecretBuffer out(kRootKeySize);
  for (size_t i = 0; i < kRootKeySize; ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.data()[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  key = std::move(out);
  return true;
}

// Thread-safe, unlike strerror.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

class FileKeyProvider final : public KeyProvider {
 public:
  explicit FileKeyProvider(std::string path) : path_(std::move(path)) {}

  StatusOr<SecretBuffer> LoadRootKey() override {
    // Opened without waiting (a FIFO is refused, not waited on for a writer) and checked on the
    // open descriptor, so the file cannot be swapped between check and read.
    struct stat st {};
    auto fd = OpenRegularFile(path_, "key file", &st);
    if (!fd.has_value()) {
      if (fd.error().code() != StatusCode::kNotFound) return Err(fd.error());
      return Err(NotFoundError(fmt::format(
          "key file {} does not exist (create a data directory with `coffer init`, or point "
          "the server at the existing key file)",
          path_)));
    }
    FdCloser closer(*fd);
    RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "key file", path_));
    SecretBuffer text(kMaxKeyFileRead);
    ASSIGN_OR_RETURN(const size_t got,
                     ReadUpTo(*fd, {text.data(), text.size()}, "key file", path_));
    SecretBuffer key;
    if (!DecodeHexKey(text.span().first(got), key)) {
      return Err(FailedPreconditionError(fmt::format(
          "key file {} is malformed: it must hold the root key as 64 hexadecimal characters "
          "and an optional newline",
          path_)));
    }
    return key;
  }

  std::string Describe() const override { return "key file " + path_; }

 private:
  std::string path_;
};

class EnvKeyProvider final : public KeyProvider {
 public:
  explicit EnvKeyProvider(std::string variable) : variable_(std::move(variable)) {}

  StatusOr<SecretBuffer> LoadRootKey() override {
    const char* value = std::getenv(variable_.c_str());
    if (value == nullptr) {
      return Err(NotFoundError(fmt::format("environment variable {} is not set", variable_)));
    }
    const std::span<const uint8_t> text(reinterpret_cast<const uint8_t*>(value),
                                        std::strlen(value));
    SecretBuffer key;
    if (!DecodeHexKey(text, key)) {
      return Err(FailedPreconditionError(fmt::format(
          "environment variable {} is malformed: it must hold the root key as 64 hexadecimal "
          "characters",
          variable_)));
    }
    return key;
  }

  std::string Describe() const override { return "environment variable " + variable_; }

 private:
  std::string variable_;
};

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool WriteAll(int fd, std::span<const uint8_t> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

class BytesRootKey final : public RootKey {
 public:
  BytesRootKey(SecretBuffer key, Random& random, std::string describe)
      : key_(std::move(key)), random_(random), describe_(std::move(describe)) {}

  StatusOr<std::vector<uint8_t>> Seal(const SecretBuffer& key,
                                      std::span<const uint8_t> aad) override {
    // Key id 0 names the root key in the blob header.
    return AeadSeal(key_, 0, key.span(), aad, random_);
  }

  StatusOr<SecretBuffer> Open(std::span<const uint8_t> sealed,
                              std::span<const uint8_t> aad) override {
    StatusOr<SecretBuffer> key = AeadOpen(key_, sealed, aad);
    if (!key.has_value()) {
      return Err(FailedPreconditionError(
          fmt::format("a keyring key does not open under the root key of {}", describe_)));
    }
    return key;
  }

  RootKeyKind kind() const override { return RootKeyKind::kBytes; }
  std::string Describe() const override { return describe_; }

 private:
  const SecretBuffer key_;
  Random& random_;
  const std::string describe_;
};

}  // namespace

RootKeyKind SealedRootKind(std::span<const uint8_t> sealed) {
  if (sealed.empty()) return RootKeyKind::kUnknown;
  if (sealed[0] == kBlobFormatV1) return RootKeyKind::kBytes;
  if (sealed[0] == kSealedByPkcs11) return RootKeyKind::kPkcs11;
  return RootKeyKind::kUnknown;
}

std::string_view RootKeyKindName(RootKeyKind kind) {
  switch (kind) {
    case RootKeyKind::kBytes:
      return "file";
    case RootKeyKind::kPkcs11:
      return "pkcs11";
    case RootKeyKind::kUnknown:
      break;
  }
  return "unknown";
}

std::unique_ptr<RootKey> NewBytesRootKey(SecretBuffer key, Random& random, std::string describe) {
  return std::make_unique<BytesRootKey>(std::move(key), random, std::move(describe));
}

StatusOr<std::shared_ptr<RootKey>> KeyProvider::OpenRootKey(Random& random) {
  ASSIGN_OR_RETURN(SecretBuffer key, LoadRootKey());
  if (key.size() != kRootKeySize) return Err(FailedPreconditionError("root key must be 32 bytes"));
  return std::shared_ptr<RootKey>(NewBytesRootKey(std::move(key), random, Describe()));
}

StatusOr<std::unique_ptr<KeyProvider>> KeyProviderForUri(const std::string& uri,
                                                         std::chrono::milliseconds call_timeout) {
  if (uri.starts_with("file:")) {
    std::string path = uri.substr(5);
    // "file:///var/lib/…" (RFC 8089) and "file:/var/lib/…" both name a local path.
    if (path.starts_with("//")) path = path.substr(2);
    if (path.empty()) return Err(InvalidArgumentError("root key URI file: names no path"));
    return NewFileKeyProvider(std::move(path));
  }
  if (uri.starts_with("pkcs11:")) {
    ASSIGN_OR_RETURN(Pkcs11Uri parsed, ParsePkcs11Uri(uri));
    Pkcs11Options options;
    options.call_timeout = call_timeout;
    return NewPkcs11KeyProvider(std::move(parsed), std::move(options));
  }
  return Err(InvalidArgumentError(
      "root key URI must be file:PATH or a pkcs11: URI (RFC 7512), e.g. "
      "pkcs11:token=coffer;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source="
      "file:/etc/coffer/pin"));
}

std::unique_ptr<KeyProvider> NewFileKeyProvider(std::string path) {
  return std::make_unique<FileKeyProvider>(std::move(path));
}

std::unique_ptr<KeyProvider> NewEnvKeyProvider(std::string variable) {
  return std::make_unique<EnvKeyProvider>(std::move(variable));
}

Status CreateRootKeyFile(const std::string& path, Random& random) {
  SecretBuffer key(kRootKeySize);
  RETURN_IF_ERROR(random.Fill({key.data(), key.size()}));
  static constexpr char kHex[] = "0123456789abcdef";
  SecretBuffer text(kRootKeyHexSize + 1);
  for (size_t i = 0; i < kRootKeySize; ++i) {
    text.data()[2 * i] = static_cast<uint8_t>(kHex[key.data()[i] >> 4]);
    text.data()[2 * i + 1] = static_cast<uint8_t>(kHex[key.data()[i] & 0x0f]);
  }
  text.data()[kRootKeyHexSize] = '\n';

  // O_EXCL: a root key is never overwritten; O_NOFOLLOW: nor is a file a symlink points at.
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return AlreadyExistsError(
          fmt::format("key file {} already exists; refusing to overwrite a root key", path));
    }
    return FailedPreconditionError(
        fmt::format("cannot create key file {}: {}", path, ErrnoText(err)));
  }
  FdCloser closer(fd);
  // The umask may have cleared owner bits; the owner must be able to read the key back.
  if (::fchmod(fd, 0600) != 0 || !WriteAll(fd, text.span()) || ::fsync(fd) != 0 ||
      closer.Close() != 0) {
    const int err = errno;
    // A half-written key file would only fail later as "malformed"; remove what we created.
    ::unlink(path.c_str());
    return FailedPreconditionError(
        fmt::format("cannot write key file {}: {}", path, ErrnoText(err)));
  }
  // Make the new directory entry durable too, not just the file's contents.
  const std::string dir = ParentDirectory(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return FailedPreconditionError(
        fmt::format("cannot open directory {} to sync it: {}", dir, ErrnoText(errno)));
  }
  FdCloser dir_closer(dir_fd);
  if (::fsync(dir_fd) != 0) {
    return FailedPreconditionError(
        fmt::format("cannot sync directory {}: {}", dir, ErrnoText(errno)));
  }
  return OkStatus();
}

}  // namespace coffer
