// The options of every command that works on a store (`server` and the offline commands of
// admin/): the TOML file read before the flags, --config, --data-dir, --store, --root-key-file,
// and the order in which their sources win.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/status.h"
#include "server/config.h"

namespace coffer::server {

class StoreOptions {
 public:
  // Reads the TOML file named by --config PATH / --config=PATH in argv (before a `--`), else by
  // COFFER_CONFIG, into the config, so that flags and COFFER_* variables parsed later override
  // it. OK when none is named; the errors of LoadTomlConfig otherwise.
  Status LoadConfigFile(int argc, char** argv);

  // Adds --config, --data-dir, --store and --root-key-file to `cmd`. A password in --store is
  // refused (the process list shows argv); COFFER_STORE is applied by Finish().
  void AddTo(CLI::App& cmd);

  // After parsing: --store wins over COFFER_STORE, which wins over the config file's.
  void Finish();

  ServerConfig& config() { return config_; }

 private:
  ServerConfig config_;
  std::string config_path_;  // parsed again by CLI11, read already by LoadConfigFile
  std::string store_flag_;
};

// A CLI11 check refusing a store URL with a password on the command line, where every local user
// sees it (ps, /proc/PID/cmdline); the refusal names `where_instead` and never repeats the URL.
CLI::Validator NoPasswordInArgv(std::string where_instead);

}  // namespace coffer::server
