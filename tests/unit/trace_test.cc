#include "sim/core/trace.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace hvsim {
namespace {

void emit_sample(Tracer& t) {
  t.emit(TracePoint::kMsrWrite, VirtualTime::from_ns(5), 1, {TraceField::hex("msr", 0x40000000), TraceField::hex("value", 7)});
  t.emit(TracePoint::kRdtsc, VirtualTime::from_ns(6), 0, {TraceField::u64("tsc", 12)});
  t.emit(TracePoint::kConsoleLine, VirtualTime::from_ns(7), 0, {TraceField::str_("text", "a \"quoted\"\tline")});
}

}  // namespace

TEST(Tracer, HashDoesNotDependOnSinksOrFilters) {
  Tracer plain, captured, filed;
  captured.enable_capture();
  std::string path = ::testing::TempDir() + "trace_test.jsonl";
  ASSERT_TRUE(filed.open_jsonl(path, "msr.*"));
  emit_sample(plain);
  emit_sample(captured);
  emit_sample(filed);
  filed.flush();
  EXPECT_EQ(plain.hash(), captured.hash());
  EXPECT_EQ(plain.hash(), filed.hash());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "{\"t\":5000,\"vp\":1,\"ev\":\"msr.write\",\"msr\":\"0x40000000\",\"value\":\"0x7\"}\n");
  std::remove(path.c_str());
}

TEST(Tracer, UnhashedPointsDoNotChangeTheHash) {
  Tracer a, b;
  a.emit(TracePoint::kHalt, VirtualTime::from_ns(1), 0, {});
  b.emit(TracePoint::kHalt, VirtualTime::from_ns(1), 0, {});
  b.emit(TracePoint::kRdtsc, VirtualTime::from_ns(2), 0, {TraceField::u64("tsc", 3)});
  EXPECT_EQ(a.hash(), b.hash());
  Tracer c;
  c.emit(TracePoint::kHalt, VirtualTime::from_ns(2), 0, {});
  EXPECT_NE(a.hash(), c.hash());
}

TEST(Tracer, VerbosePointsOnlyWhenNamed) {
  Tracer star, named;
  star.enable_capture();
  std::string a = ::testing::TempDir() + "star.jsonl", b = ::testing::TempDir() + "named.jsonl";
  ASSERT_TRUE(star.open_jsonl(a, "*"));
  ASSERT_TRUE(named.open_jsonl(b, "cpu.*"));
  EXPECT_FALSE(star.wants_json(TracePoint::kBlock));  // not for "*", nor for the capture
  EXPECT_TRUE(star.wants_json(TracePoint::kHalt));
  EXPECT_TRUE(named.wants_json(TracePoint::kBlock));
  star.emit(TracePoint::kBlock, VirtualTime{}, 0, {TraceField::hex("addr", 1)});
  EXPECT_TRUE(star.captured().empty());
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(Tracer, FormatsJsonWithEscapes) {
  Tracer t;
  t.enable_capture();
  emit_sample(t);
  ASSERT_EQ(t.captured().size(), 3u);
  EXPECT_EQ(t.captured()[2], "{\"t\":7000,\"vp\":0,\"ev\":\"console.line\",\"text\":\"a \\\"quoted\\\"\\tline\"}");
  t.emit(TracePoint::kVerdict, VirtualTime{}, kNoVp, {TraceField::boolean("ok", true), TraceField::i64("n", -2)});
  EXPECT_EQ(t.captured()[3], "{\"t\":0,\"ev\":\"run.verdict\",\"ok\":true,\"n\":-2}");
}

}  // namespace hvsim
