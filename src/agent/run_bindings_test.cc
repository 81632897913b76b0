// `coffer run --binding` specs: the default prefix, an explicit one, the refusals, the proxy URL,
// and the variables made from them (the key given, never anything else).
#include "agent/run_bindings.h"

#include <gtest/gtest.h>

namespace coffer::agent {
namespace {

TEST(RunBindingsTest, DefaultPrefixIsTheNameUpperCased) {
  auto spec = ParseBindingSpec("openai");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->name, "openai");
  EXPECT_EQ(spec->prefix, "OPENAI");
  spec = ParseBindingSpec("my-api_2");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->prefix, "MY_API_2");
  spec = ParseBindingSpec("9lives");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->prefix, "_9LIVES");
}

TEST(RunBindingsTest, ExplicitPrefix) {
  auto spec = ParseBindingSpec("llm=ANTHROPIC");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->name, "llm");
  EXPECT_EQ(spec->prefix, "ANTHROPIC");
}

TEST(RunBindingsTest, RefusesBadNamesAndPrefixes) {
  for (const char* bad : {"", "=X", "a b", "a/b", "x=", "x=1A", "x=A-B", "x=A B",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    auto spec = ParseBindingSpec(bad);
    ASSERT_FALSE(spec.has_value()) << bad;
    EXPECT_EQ(spec.error().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RunBindingsTest, ProxyBaseUrl) {
  EXPECT_EQ(ProxyBaseUrl("http://127.0.0.1:8200", "openai"),
            "http://127.0.0.1:8200/v1/proxy/openai");
  EXPECT_EQ(ProxyBaseUrl("https://coffer.example//", "llm"), "https://coffer.example/v1/proxy/llm");
}

TEST(RunBindingsTest, VariablesNameTheProxyAndTheGivenKey) {
  std::vector<BindingSpec> specs = {{"openai", "OPENAI"}, {"llm", "ANTHROPIC"}};
  const SecretBuffer key(std::string_view("cfr_key_test"));
  ProxyVariables vars = MakeProxyVariables("http://h:1", specs, key);
  ASSERT_EQ(vars.urls.size(), 2U);
  EXPECT_EQ(vars.urls[0].first, "OPENAI_BASE_URL");
  EXPECT_EQ(vars.urls[0].second, "http://h:1/v1/proxy/openai");
  EXPECT_EQ(vars.urls[1].first, "ANTHROPIC_BASE_URL");
  EXPECT_EQ(vars.key_names, (std::vector<std::string>{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}));
  EXPECT_EQ(vars.key.view(), "cfr_key_test");
  EXPECT_TRUE(MakeProxyVariables("http://h:1", {}, key).key.empty());
}

}  // namespace
}  // namespace coffer::agent
