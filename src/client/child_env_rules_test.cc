// Tests for the variables `coffer run` lets a secret set.
#include "client/child_env_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace coffer::client {
namespace {

const std::set<std::string, std::less<>> kNone;

TEST(ChildEnvRulesTest, RefusesVariablesThatChangeHowAProgramStarts) {
  for (const char* name : {"LD_PRELOAD",
                           "LD_LIBRARY_PATH",
                           "LD_AUDIT",
                           "LD_DEBUG_OUTPUT",
                           "DYLD_INSERT_LIBRARIES",
                           "GLIBC_TUNABLES",
                           "GCONV_PATH",
                           "MALLOC_CHECK_",
                           "LOCPATH",
                           "BASH_ENV",
                           "ENV",
                           "SHELLOPTS",
                           "BASHOPTS",
                           "PS4",
                           "PROMPT_COMMAND",
                           "IFS",
                           "BASH_FUNC_ls%%",
                           "PATH",
                           "HOME",
                           "NODE_OPTIONS",
                           "NODE_PATH",
                           "npm_config_script_shell",
                           "NPM_CONFIG_PREFIX",
                           "PYTHONPATH",
                           "PYTHONSTARTUP",
                           "PYTHONHOME",
                           "PYTHONWARNINGS",
                           "PERL5LIB",
                           "PERL5OPT",
                           "RUBYOPT",
                           "RUBYLIB",
                           "JAVA_TOOL_OPTIONS",
                           "_JAVA_OPTIONS",
                           "JDK_JAVA_OPTIONS",
                           "CLASSPATH",
                           "GIT_SSH_COMMAND",
                           "GIT_EXEC_PATH",
                           "GIT_CONFIG_COUNT",
                           "EDITOR",
                           "PAGER",
                           "LESSOPEN",
                           "DOTNET_STARTUP_HOOKS",
                           "CORECLR_PROFILER_PATH",
                           "LUA_INIT_5_4",
                           "OPENSSL_CONF",
                           "COFFER_TOKEN",
                           "COFFER_ADDR"}) {
    EXPECT_FALSE(StartupRisk(name).empty()) << name;
    const Status s = CheckSecretVariable(name, kNone);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(std::string("set ") + name + ":"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(std::string("--allow-env ") + name), std::string::npos)
        << s.message();
  }
}

TEST(ChildEnvRulesTest, LetsOrdinaryVariablesThrough) {
  for (const char* name :
       {"OPENAI_API_KEY", "DATABASE_URL", "DB_PASSWORD", "GITHUB_TOKEN", "NPM_TOKEN", "MODEL",
        "PYTHONUNBUFFERED", "NODE_ENV", "AWS_SECRET_ACCESS_KEY", "HTTPS_PROXY", "path", "Path",
        "LDAP_PASSWORD", "ENVIRONMENT", "PS5", "HOMEPAGE", "COFFEE"}) {
    EXPECT_TRUE(StartupRisk(name).empty()) << name;
    EXPECT_TRUE(CheckSecretVariable(name, kNone).ok()) << name;
  }
}

TEST(ChildEnvRulesTest, AnAllowedNameGoesThroughAndOnlyThatName) {
  const std::set<std::string, std::less<>> allowed = {"LD_LIBRARY_PATH", "PATH"};
  EXPECT_TRUE(CheckSecretVariable("LD_LIBRARY_PATH", allowed).ok());
  EXPECT_TRUE(CheckSecretVariable("PATH", allowed).ok());
  EXPECT_FALSE(CheckSecretVariable("LD_PRELOAD", allowed).ok());
  EXPECT_FALSE(CheckSecretVariable("BASH_ENV", allowed).ok());
  // Exact names: allowing a prefix's stem allows nothing else.
  const std::set<std::string, std::less<>> stem = {"LD_", "ld_preload"};
  EXPECT_FALSE(CheckSecretVariable("LD_PRELOAD", stem).ok());
}

TEST(ChildEnvRulesTest, RefusesNamesThatAreNotVariableNames) {
  const std::set<std::string, std::less<>> allowed = {"", "A=B"};
  for (const std::string_view name :
       {std::string_view(""), std::string_view("A=B"), std::string_view("A\0B", 3)}) {
    const Status s = CheckSecretVariable(name, allowed);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  }
}

TEST(ChildEnvRulesTest, PatternsListEveryRuleOnce) {
  const std::vector<std::string> patterns = StartupVariablePatterns();
  EXPECT_NE(std::find(patterns.begin(), patterns.end(), "LD_*"), patterns.end());
  EXPECT_NE(std::find(patterns.begin(), patterns.end(), "BASH_ENV"), patterns.end());
  std::vector<std::string> sorted = patterns;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  // Every listed name is itself refused (a prefix by a name that starts with it).
  for (std::string p : patterns) {
    if (p.ends_with('*')) p.back() = 'X';
    EXPECT_FALSE(StartupRisk(p).empty()) << p;
  }
}

}  // namespace
}  // namespace coffer::client
