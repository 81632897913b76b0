// StoreOptions: the store options' flags, the TOML file, and their precedence.
#include "server/store_options.h"

#include <cstdlib>

#include "common/option_bounds.h"
#include "server/store_factory.h"

namespace coffer::server {
namespace {

// A root key URI (--root-key-uri, --next-root-key-uri) that names a provider.
CLI::Validator RootKeyUriValidator() {
  return CLI::Validator(
      [](const std::string& uri) -> std::string {
        auto provider = KeyProviderForUri(uri);
        return provider.has_value() ? "" : provider.error().message();
      },
      "URI");
}

}  // namespace

Status StoreOptions::LoadConfigFile(int argc, char** argv) {
  std::string path;
  bool named = false;
  // Nothing after `--` is coffer's.
  for (int i = 2; i < argc && !named; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--config" && i + 1 < argc) {
      path = argv[i + 1];
      named = true;
    } else if (arg.starts_with("--config=")) {
      path = arg.substr(9);
      named = true;
    }
  }
  if (!named) {
    const char* env = std::getenv("COFFER_CONFIG");
    path = env != nullptr ? env : "";
  }
  if (path.empty()) return OkStatus();
  return LoadTomlConfig(path, config_);
}

void StoreOptions::AddTo(CLI::App& cmd) {
  cmd.add_option("--config", config_path_, "TOML config file (keys as the long flags, with '_')")
      ->envname("COFFER_CONFIG");
  cmd.add_option("--data-dir", config_.data_dir, "Data directory (root key, embedded store)")
      ->envname("COFFER_DATA_DIR")
      ->capture_default_str();
  // No envname: COFFER_STORE is applied after parsing, as only the flag is refused a password.
  cmd.add_option("--store", store_flag_,
                 "Store: sqlite:PATH (default <data-dir>/coffer.db) or postgres://USER@HOST/DB "
                 "(env COFFER_STORE). Never a password here: use ~/.pgpass, PGPASSFILE, "
                 "COFFER_STORE or the config file")
      ->check(NoPasswordInArgv(
          "~/.pgpass or PGPASSFILE, or pass the whole URL in COFFER_STORE or the config file's "
          "store key"));
  cmd.add_option("--root-key-file", config_.root_key_file,
                 "Root key file (default <data-dir>/root.key)")
      ->envname("COFFER_ROOT_KEY_FILE");
  cmd.add_option("--root-key-uri", config_.root_key_uri,
                 "Root key: file:PATH, or a PKCS#11 URI pkcs11:token=…;object=…?module-path=…&"
                 "pin-source=file:PATH|env:NAME (the PIN never on the command line)")
      ->envname("COFFER_ROOT_KEY_URI")
      ->check(RootKeyUriValidator());
  cmd.add_option("--next-root-key-uri", config_.next_root_key_uri,
                 "The root key a `coffer keys migrate-root --to URI` moves the keyring to (file: "
                 "or pkcs11:, as --root-key-uri): keys sealed by it are opened with it, so this "
                 "process follows the migration without a restart")
      ->envname("COFFER_NEXT_ROOT_KEY_URI")
      ->check(RootKeyUriValidator());
  cmd.add_option("--key-provider-timeout-ms", config_.key_provider_timeout_ms,
                 "How long a request waits on a call into the root key's PKCS#11 token before "
                 "it is answered 503 key-provider-unavailable")
      ->envname("COFFER_KEY_PROVIDER_TIMEOUT_MS")
      ->check(IntegerOption("key_provider_timeout_ms"))
      ->capture_default_str();
}

void StoreOptions::Finish() {
  if (!store_flag_.empty()) {
    config_.store = store_flag_;
  } else if (const char* env = std::getenv("COFFER_STORE"); env != nullptr && *env != '\0') {
    config_.store = env;
  }
}

CLI::Validator NoPasswordInArgv(std::string where_instead) {
  return CLI::Validator(
      [where_instead](const std::string& url) -> std::string {
        if (!StoreUrlHasPassword(url)) return "";
        return "the URL holds a password, which every local user can read in the process list; "
               "leave it out and give it in " +
               where_instead;
      },
      "URL");
}

}  // namespace coffer::server
