// Reading and writing unseal.json (server/seal_config.h).
#include "server/seal_config.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/sha256.h"

namespace coffer::server {
namespace {

Status Malformed(const std::string& path, std::string_view what) {
  return FailedPreconditionError(fmt::format(
      "{} is malformed ({}): it must hold {{\"shares\":N,\"threshold\":K,\"split_id\":\"8 hex "
      "digits\"}} as written by coffer init --unseal-shares",
      path, what));
}

}  // namespace

std::string SealConfigPath(const ServerConfig& config) { return config.data_dir + "/unseal.json"; }

bool NamesRootKey(const ServerConfig& config) {
  return !config.root_key_uri.empty() || !config.root_key_file.empty() ||
         std::getenv("COFFER_ROOT_KEY") != nullptr;
}

StatusOr<std::optional<SealConfig>> ReadSealConfig(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<SealConfig>();
    return Err(FailedPreconditionError(fmt::format(
        "cannot read {}: {}", path, std::error_code(errno, std::generic_category()).message())));
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code parse_error;
  const boost::json::value v = boost::json::parse(text.str(), parse_error);
  if (parse_error || !v.is_object()) return Err(Malformed(path, "not a JSON object"));
  const boost::json::object& o = v.as_object();
  const auto* shares = o.if_contains("shares");
  const auto* threshold = o.if_contains("threshold");
  const auto* split = o.if_contains("split_id");
  if (shares == nullptr || !shares->is_int64() || threshold == nullptr || !threshold->is_int64() ||
      split == nullptr || !split->is_string()) {
    return Err(Malformed(path, "a field is missing or of the wrong type"));
  }
  SealConfig seal;
  if (shares->as_int64() < 2 || shares->as_int64() > kMaxShamirShares ||
      threshold->as_int64() < 2 || threshold->as_int64() > shares->as_int64()) {
    return Err(Malformed(path, "2 <= threshold <= shares <= 255 does not hold"));
  }
  seal.shares = static_cast<int>(shares->as_int64());
  seal.threshold = static_cast<int>(threshold->as_int64());
  const boost::json::string& id = split->as_string();
  if (id.size() != 2 * kSplitIdSize) return Err(Malformed(path, "split_id"));
  for (size_t i = 0; i < kSplitIdSize; ++i) {
    const std::string byte(id.data() + 2 * i, 2);
    char* end = nullptr;
    const long value = std::strtol(byte.c_str(), &end, 16);
    if (end != byte.c_str() + 2) return Err(Malformed(path, "split_id"));
    seal.split_id[i] = static_cast<uint8_t>(value);
  }
  return std::optional<SealConfig>(seal);
}

Status WriteSealConfig(const std::string& path, const SealConfig& seal) {
  const std::string text =
      boost::json::serialize(boost::json::object{{"shares", seal.shares},
                                                 {"threshold", seal.threshold},
                                                 {"split_id", HexEncode(seal.split_id)}}) +
      "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return FailedPreconditionError(fmt::format(
        "cannot create {}: {}", path, std::error_code(errno, std::generic_category()).message()));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written) {
    return FailedPreconditionError(fmt::format(
        "cannot write {}: {}", path, std::error_code(err, std::generic_category()).message()));
  }
  return OkStatus();
}

}  // namespace coffer::server
