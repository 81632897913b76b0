// Tests for Request's header and query lookups and for BodyStream's queue, ends and abandonment.
#include "http/message.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace coffer::http {
namespace {

TEST(RequestTest, HeaderReturnsFirstMatch) {
  Request req;
  req.headers = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};
  EXPECT_EQ(req.Header("x-a"), "1");
  EXPECT_EQ(req.Header("content-type"), "application/json");
  EXPECT_FALSE(req.Header("authorization").has_value());
}

TEST(RequestTest, QueryReturnsFirstMatch) {
  Request req;
  req.query = {{"prefix", "api-keys/"}, {"empty", ""}, {"prefix", "other"}};
  EXPECT_EQ(req.Query("prefix"), "api-keys/");
  ASSERT_TRUE(req.Query("empty").has_value());
  EXPECT_EQ(*req.Query("empty"), "");
  EXPECT_FALSE(req.Query("missing").has_value());
}

TEST(BodyStreamTest, TakeGivesTheWritesInOrderThenTheEnd) {
  BodyStream stream;
  EXPECT_TRUE(stream.Write("ab"));
  EXPECT_TRUE(stream.Write(""));  // nothing queued
  EXPECT_TRUE(stream.Write("a longer piece than a short string holds inline"));
  std::deque<std::string> chunks;
  EXPECT_EQ(stream.Take(chunks), BodyStream::State::kOpen);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0], "ab");
  EXPECT_EQ(chunks[1], "a longer piece than a short string holds inline");
  BodyStream::WipeChunks(chunks);
  EXPECT_TRUE(chunks.empty());
  EXPECT_TRUE(stream.Write("c"));
  stream.Finish();
  EXPECT_FALSE(stream.Write("late"));
  EXPECT_EQ(stream.Take(chunks), BodyStream::State::kFinished);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], "c");
}

TEST(BodyStreamTest, FailDropsWhatWasQueued) {
  BodyStream stream;
  EXPECT_TRUE(stream.Write("unsent"));
  stream.Fail();
  stream.Finish();  // the first end stands
  std::deque<std::string> chunks;
  EXPECT_EQ(stream.Take(chunks), BodyStream::State::kFailed);
  EXPECT_TRUE(chunks.empty());
}

TEST(BodyStreamTest, AbandonCallsBackOnceAndRefusesWrites) {
  BodyStream stream;
  int called = 0;
  stream.OnAbandoned([&] { ++called; });
  EXPECT_TRUE(stream.Write("x"));
  stream.Abandon();
  stream.Abandon();
  EXPECT_EQ(called, 1);
  EXPECT_FALSE(stream.Write("y"));
  std::deque<std::string> chunks;
  EXPECT_EQ(stream.Take(chunks), BodyStream::State::kAbandoned);
  EXPECT_TRUE(chunks.empty());
}

TEST(BodyStreamTest, ACallbackSetAfterTheAbandonmentRunsAtOnce) {
  BodyStream stream;
  stream.Abandon();
  int called = 0;
  stream.OnAbandoned([&] { ++called; });
  EXPECT_EQ(called, 1);
  stream.OnAbandoned([&] { ++called; });  // once only
  EXPECT_EQ(called, 1);
}

TEST(BodyStreamTest, NoCallbackOnceTheProducerEnded) {
  BodyStream stream;
  int called = 0;
  stream.OnAbandoned([&] { ++called; });
  stream.Finish();
  stream.Abandon();
  EXPECT_EQ(called, 0);
}

TEST(BodyStreamTest, TheListenerHearsWhatIsPendingAndEachChange) {
  BodyStream stream;
  EXPECT_TRUE(stream.Write("x"));
  int heard = 0;
  stream.Listen([&] { ++heard; });
  EXPECT_EQ(heard, 1);  // a write was waiting
  EXPECT_TRUE(stream.Write("y"));
  stream.Finish();
  EXPECT_EQ(heard, 3);
  stream.StopListening();
  stream.Fail();
  EXPECT_EQ(heard, 3);
}

}  // namespace
}  // namespace coffer::http
