// Redactor: every form of the credential is replaced wherever a chunk boundary falls, held-back
// bytes never exceed the longest form − 1, and text without the credential passes unchanged.
#include "gateway/redactor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/text_encoding.h"

namespace coffer::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kSecret = "sk-live/4f+\"q?=Z\\x";

// Feed then Finish, in that order (the operands of + are not sequenced).
std::string FeedAll(Redactor& r, std::string_view text) {
  std::string out = r.Feed(text);
  return out + r.Finish();
}

// Feeds `text` cut at `cuts` (ascending offsets) and returns all the output.
std::string Stream(Redactor& r, std::string_view text, const std::vector<size_t>& cuts) {
  std::string out;
  size_t at = 0;
  for (size_t cut : cuts) {
    std::string part = r.Feed(text.substr(at, cut - at));
    out += part;
    at = cut;
  }
  out += r.Feed(text.substr(at));
  out += r.Finish();
  return out;
}

std::vector<std::string> EveryForm() {
  std::string pair = "alice:";
  pair.append(kSecret);
  return {std::string(kSecret),
          Base64Encode(kSecret),
          Base64Encode(kSecret, Base64Alphabet::kStandard, false),
          Base64Encode(kSecret, Base64Alphabet::kUrlSafe),
          Base64Encode(kSecret, Base64Alphabet::kUrlSafe, false),
          Base64Encode(pair),
          Base64Encode(pair, Base64Alphabet::kUrlSafe, false),
          PercentEncode(kSecret),
          PercentEncode(kSecret, true),
          JsonEscape(kSecret),
          JsonEscape(kSecret, true)};
}

TEST(RedactorTest, EveryFormIsReplacedAtEverySplitPoint) {
  for (const std::string& form : EveryForm()) {
    const std::string text = "{\"echo\":\"" + form + "\",\"n\":1}";
    const std::string want = "{\"echo\":\"[REDACTED]\",\"n\":1}";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      Redactor r(kSecret, "alice");
      EXPECT_EQ(Stream(r, text, {cut}), want) << form << " cut at " << cut;
      EXPECT_EQ(r.count(), 1) << form << " cut at " << cut;
    }
  }
}

TEST(RedactorTest, ByteByByteAndTwoCutsFindEveryOccurrence) {
  const std::string text = std::string(kSecret) + "a" + std::string(kSecret) +
                           std::string(kSecret) + " " + Base64Encode(kSecret) + "-";
  const std::string want = "[REDACTED]a[REDACTED][REDACTED] [REDACTED]-";
  Redactor bytes(kSecret);
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  EXPECT_EQ(Stream(bytes, text, every), want);
  EXPECT_EQ(bytes.count(), 4);
  for (size_t a = 0; a <= text.size(); a += 3) {
    for (size_t b = a; b <= text.size(); b += 5) {
      Redactor r(kSecret);
      EXPECT_EQ(Stream(r, text, {a, b}), want) << a << "," << b;
    }
  }
}

TEST(RedactorTest, HoldsBackOnlyATailThatMayBecomeAForm) {
  Redactor r(kSecret);
  // Nothing in it can start a form: it passes whole, at once (a streamed event is not delayed).
  const std::string chunk(1000, 'x');
  EXPECT_EQ(r.Feed(chunk), chunk);
  EXPECT_EQ(r.Finish(), "");
  // A tail that begins like the secret waits, never more than max_held() bytes of it.
  const std::string start(kSecret.substr(0, 5));
  const std::string out = r.Feed(chunk + start);
  EXPECT_EQ(out, chunk);
  EXPECT_LT(r.max_held(), 64u);
  EXPECT_EQ(r.Finish(), start);
  // A near miss at the end is released unchanged by Finish.
  const std::string partial(kSecret.substr(0, kSecret.size() - 1));
  EXPECT_EQ(FeedAll(r, partial), partial);
  EXPECT_EQ(r.count(), 0);
}

TEST(RedactorTest, TextWithoutTheSecretAndAnEmptySecretPassUnchanged) {
  const std::string text = "plain text, sk-live but not the rest";
  Redactor r(kSecret);
  EXPECT_EQ(FeedAll(r, text), text);
  Redactor none("");
  EXPECT_EQ(none.Feed(text), text);
  EXPECT_EQ(none.Finish(), "");
  EXPECT_EQ(none.RedactHeaderValue(text), text);
}

TEST(RedactorTest, HeaderValuesAreRedactedAndCounted) {
  Redactor r(kSecret);
  EXPECT_EQ(r.RedactHeaderValue("Bearer " + std::string(kSecret)), "Bearer [REDACTED]");
  EXPECT_THAT(r.RedactHeaderValue("token=" + PercentEncode(kSecret)),
              Not(HasSubstr(PercentEncode(kSecret))));
  EXPECT_EQ(r.count(), 2);
}

TEST(RedactorTest, TheLongestFormWinsWhereFormsOverlap) {
  // The padded base64 form contains the unpadded one: one replacement, no "=" left behind.
  const std::string padded = Base64Encode("abcd");  // "YWJjZA=="
  Redactor r("abcd");
  EXPECT_EQ(FeedAll(r, "<" + padded + ">"), "<[REDACTED]>");
  EXPECT_EQ(r.count(), 1);
}

TEST(TextEncodingTest, KnownAnswers) {
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(Base64Encode("a"), "YQ==");
  EXPECT_EQ(Base64Encode("ab", Base64Alphabet::kStandard, false), "YWI");
  EXPECT_EQ(Base64Encode("\xfb\xff", Base64Alphabet::kUrlSafe), "-_8=");
  EXPECT_EQ(PercentEncode("a b/c~"), "a%20b%2Fc~");
  EXPECT_EQ(PercentEncode("/", true), "%2f");
  EXPECT_EQ(JsonEscape("a\"b\\c\n\x01/"), "a\\\"b\\\\c\\n\\u0001/");
  EXPECT_EQ(JsonEscape("/", true), "\\/");
}

}  // namespace
}  // namespace coffer::gateway
