// The stdio framing of `coffer mcp`: lines split across reads, CRLF and blank lines, a last line
// without a newline, and a line over the limit skipped to its newline and reported once.
#include "agent/mcp_line_reader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace coffer::agent {
namespace {

// What the reader reports: each line's text, or "<too long>".
class Collector {
 public:
  McpLineReader::OnLine Callback() {
    return [this](const McpLineReader::Line& line) {
      lines.push_back(line.too_long ? std::string("<too long>") : std::string(line.text));
      return true;
    };
  }
  std::vector<std::string> lines;
};

TEST(McpLineReaderTest, SplitsLinesWhereverTheReadsAreCut) {
  const std::string stream = "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}";
  for (size_t cut = 1; cut <= stream.size(); ++cut) {
    McpLineReader reader(64);
    Collector got;
    for (size_t at = 0; at < stream.size(); at += cut) {
      ASSERT_TRUE(reader.Feed(std::string_view(stream).substr(at, cut), got.Callback()));
    }
    EXPECT_EQ(got.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"})) << cut;
    ASSERT_TRUE(reader.Finish(got.Callback()));
    EXPECT_EQ(got.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"})) << cut;
  }
}

TEST(McpLineReaderTest, SkipsAnOversizeLineToItsNewlineAndGoesOn) {
  McpLineReader reader(8);
  Collector got;
  ASSERT_TRUE(reader.Feed("12345678\n", got.Callback()));  // exactly the limit: kept
  ASSERT_TRUE(reader.Feed("123456789", got.Callback()));   // one over, no newline yet
  ASSERT_TRUE(reader.Feed(std::string(1000, 'x'), got.Callback()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"12345678"}));
  ASSERT_TRUE(reader.Feed("xx\nping\n", got.Callback()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"12345678", "<too long>", "ping"}));
  // An oversize last line without a newline is reported at the end of the stream.
  ASSERT_TRUE(reader.Feed(std::string(9, 'y'), got.Callback()));
  ASSERT_TRUE(reader.Finish(got.Callback()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"12345678", "<too long>", "ping", "<too long>"}));
}

TEST(McpLineReaderTest, StopsWhenTheCallbackSaysSo) {
  McpLineReader reader(64);
  int calls = 0;
  EXPECT_FALSE(reader.Feed("a\nb\nc\n", [&](const McpLineReader::Line&) {
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 1);
}

// A 64 MiB line fed in 64 KiB reads, as `coffer mcp` reads stdin: each byte is scanned once, so
// this takes well under a second (rescanning the line on every read took minutes).
TEST(McpLineReaderTest, AHugeLineCostsLinearTimeAndNoMemory) {
  McpLineReader reader(1 << 20);
  Collector got;
  const std::string chunk(64 << 10, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1024; ++i) ASSERT_TRUE(reader.Feed(chunk, got.Callback()));
  ASSERT_TRUE(reader.Feed("\n{}\n", got.Callback()));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got.lines, (std::vector<std::string>{"<too long>", "{}"}));
  EXPECT_LT(took, std::chrono::seconds(20));
}

}  // namespace
}  // namespace coffer::agent
