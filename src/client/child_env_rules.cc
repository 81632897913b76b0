// The variables a secret may not set in `coffer run`'s command without --allow-env, as a table.
#include "client/child_env_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace coffer::client {
namespace {

constexpr std::string_view kLoader = "the dynamic loader loads code or takes options from it";
constexpr std::string_view kLibc =
    "the C library loads modules or reads files and options from it (glibc ignores it in "
    "set-user-ID programs for that reason)";
constexpr std::string_view kShell = "a shell runs code from it or takes options from it";
constexpr std::string_view kSearch = "it decides where programs and their start-up files are found";
constexpr std::string_view kRuntime =
    "an interpreter or runtime loads code from it or takes options from it";
constexpr std::string_view kCommand = "programs run the command it names";
constexpr std::string_view kCoffer =
    "a coffer client in the command reads its server, credential or settings from it";

enum class Match { kExact, kPrefix, kPrefixAnyCase };

struct Rule {
  std::string_view name;
  Match match;
  std::string_view risk;
};

// docs/security.md lists the same rows with the reason for each. Keep the two in step.
constexpr auto kRules = std::to_array<Rule>({
    // Dynamic loaders (glibc's ld.so: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, …; macOS's dyld).
    {"LD_", Match::kPrefix, kLoader},
    {"DYLD_", Match::kPrefix, kLoader},
    {"GLIBC_TUNABLES", Match::kExact, kLoader},
    // The rest of glibc's list of variables it removes for set-user-ID programs (unsecvars.h).
    {"GCONV_PATH", Match::kExact, kLibc},
    {"GETCONF_DIR", Match::kExact, kLibc},
    {"HOSTALIASES", Match::kExact, kLibc},
    {"LOCALDOMAIN", Match::kExact, kLibc},
    {"LOCPATH", Match::kExact, kLibc},
    {"MALLOC_", Match::kPrefix, kLibc},
    {"NIS_PATH", Match::kExact, kLibc},
    {"NLSPATH", Match::kExact, kLibc},
    {"RESOLV_HOST_CONF", Match::kExact, kLibc},
    {"RES_OPTIONS", Match::kExact, kLibc},
    {"TMPDIR", Match::kExact, kLibc},
    {"TZDIR", Match::kExact, kLibc},
    // Shells (bash, sh/dash, ksh, zsh): start-up files, options, prompts that expand $(…).
    {"BASH_ENV", Match::kExact, kShell},
    {"ENV", Match::kExact, kShell},
    {"SHELLOPTS", Match::kExact, kShell},
    {"BASHOPTS", Match::kExact, kShell},
    {"BASH_FUNC_", Match::kPrefix, kShell},
    {"BASH_XTRACEFD", Match::kExact, kShell},
    {"BASH_LOADABLES_PATH", Match::kExact, kShell},
    {"PROMPT_COMMAND", Match::kExact, kShell},
    {"PS0", Match::kExact, kShell},
    {"PS1", Match::kExact, kShell},
    {"PS2", Match::kExact, kShell},
    {"PS3", Match::kExact, kShell},
    {"PS4", Match::kExact, kShell},
    {"IFS", Match::kExact, kShell},
    {"CDPATH", Match::kExact, kShell},
    {"GLOBIGNORE", Match::kExact, kShell},
    {"FPATH", Match::kExact, kShell},
    {"ZDOTDIR", Match::kExact, kShell},
    {"SHELL", Match::kExact, kShell},
    // Where programs and per-user start-up files are looked up.
    {"PATH", Match::kExact, kSearch},
    {"HOME", Match::kExact, kSearch},
    {"XDG_CONFIG_HOME", Match::kExact, kSearch},
    {"XDG_CONFIG_DIRS", Match::kExact, kSearch},
    // Interpreters and runtimes: module paths, start-up scripts, options that load code.
    {"PYTHONPATH", Match::kExact, kRuntime},
    {"PYTHONHOME", Match::kExact, kRuntime},
    {"PYTHONSTARTUP", Match::kExact, kRuntime},
    {"PYTHONUSERBASE", Match::kExact, kRuntime},
    {"PYTHONPLATLIBDIR", Match::kExact, kRuntime},
    {"PYTHONPYCACHEPREFIX", Match::kExact, kRuntime},
    {"PYTHONWARNINGS", Match::kExact, kRuntime},
    {"PYTHONBREAKPOINT", Match::kExact, kRuntime},
    {"PYTHONINSPECT", Match::kExact, kRuntime},
    {"PYTHONEXECUTABLE", Match::kExact, kRuntime},
    {"NODE_OPTIONS", Match::kExact, kRuntime},
    {"NODE_PATH", Match::kExact, kRuntime},
    {"NODE_REPL_EXTERNAL_MODULE", Match::kExact, kRuntime},
    {"npm_config_", Match::kPrefixAnyCase, kRuntime},
    {"PERL5LIB", Match::kExact, kRuntime},
    {"PERLLIB", Match::kExact, kRuntime},
    {"PERL5OPT", Match::kExact, kRuntime},
    {"PERL5DB", Match::kExact, kRuntime},
    {"RUBYOPT", Match::kExact, kRuntime},
    {"RUBYLIB", Match::kExact, kRuntime},
    {"GEM_HOME", Match::kExact, kRuntime},
    {"GEM_PATH", Match::kExact, kRuntime},
    {"BUNDLE_GEMFILE", Match::kExact, kRuntime},
    {"JAVA_TOOL_OPTIONS", Match::kExact, kRuntime},
    {"_JAVA_OPTIONS", Match::kExact, kRuntime},
    {"JDK_JAVA_OPTIONS", Match::kExact, kRuntime},
    {"JAVA_HOME", Match::kExact, kRuntime},
    {"CLASSPATH", Match::kExact, kRuntime},
    {"MAVEN_OPTS", Match::kExact, kRuntime},
    {"GRADLE_OPTS", Match::kExact, kRuntime},
    {"DOTNET_STARTUP_HOOKS", Match::kExact, kRuntime},
    {"DOTNET_ADDITIONAL_DEPS", Match::kExact, kRuntime},
    {"CORECLR_", Match::kPrefix, kRuntime},
    {"COR_ENABLE_PROFILING", Match::kExact, kRuntime},
    {"COR_PROFILER", Match::kPrefix, kRuntime},
    {"PHPRC", Match::kExact, kRuntime},
    {"PHP_INI_SCAN_DIR", Match::kExact, kRuntime},
    {"LUA_INIT", Match::kPrefix, kRuntime},
    {"LUA_PATH", Match::kPrefix, kRuntime},
    {"LUA_CPATH", Match::kPrefix, kRuntime},
    {"TCLLIBPATH", Match::kExact, kRuntime},
    {"R_PROFILE", Match::kPrefix, kRuntime},
    {"R_ENVIRON", Match::kPrefix, kRuntime},
    {"GOFLAGS", Match::kExact, kRuntime},
    {"OPENSSL_CONF", Match::kExact, kRuntime},
    {"OPENSSL_ENGINES", Match::kExact, kRuntime},
    {"OPENSSL_MODULES", Match::kExact, kRuntime},
    // Commands that other programs run on the command's behalf (git, less, man, sudo, ssh).
    {"GIT_", Match::kPrefix, kCommand},
    {"EDITOR", Match::kExact, kCommand},
    {"VISUAL", Match::kExact, kCommand},
    {"PAGER", Match::kExact, kCommand},
    {"MANPAGER", Match::kExact, kCommand},
    {"LESSOPEN", Match::kExact, kCommand},
    {"LESSCLOSE", Match::kExact, kCommand},
    {"BROWSER", Match::kExact, kCommand},
    {"SSH_ASKPASS", Match::kExact, kCommand},
    {"SUDO_ASKPASS", Match::kExact, kCommand},
    // Coffer's own client settings: a secret must not point the command's coffer elsewhere.
    {"COFFER_", Match::kPrefix, kCoffer},
});

bool StartsWithAnyCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

bool Matches(const Rule& rule, std::string_view name) {
  switch (rule.match) {
    case Match::kExact:
      return name == rule.name;
    case Match::kPrefix:
      return name.starts_with(rule.name);
    case Match::kPrefixAnyCase:
      return StartsWithAnyCase(name, rule.name);
  }
  return false;
}

}  // namespace

std::string_view StartupRisk(std::string_view name) {
  for (const Rule& rule : kRules) {
    if (Matches(rule, name)) return rule.risk;
  }
  return {};
}

std::vector<std::string> StartupVariablePatterns() {
  std::vector<std::string> out;
  for (const Rule& rule : kRules) {
    out.push_back(std::string(rule.name) + (rule.match == Match::kExact ? "" : "*"));
  }
  return out;
}

Status CheckSecretVariable(std::string_view name,
                           const std::set<std::string, std::less<>>& allowed) {
  if (name.empty() || name.find('=') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return InvalidArgumentError(
        "a secret may not set a variable whose name is empty or holds '=' or a NUL byte");
  }
  const std::string_view risk = StartupRisk(name);
  if (risk.empty() || allowed.contains(name)) return OkStatus();
  return InvalidArgumentError(fmt::format(
      "refusing to let a secret set {}: {}, so it would change how the command starts. If the "
      "command needs it from this secret, allow it by name: --allow-env {}",
      name, risk, name));
}

}  // namespace coffer::client
