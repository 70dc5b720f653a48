#include "monitor/json_log.h"

#include <gtest/gtest.h>

#include <string>

#include "base/file.h"

namespace berth::monitor {
namespace {

std::string esc(const std::string& in) {
  std::string out(in.size() * kEscapeMax, '\0');
  out.resize(json_escape(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out.data()));
  return out;
}

TEST(JsonEscape, MatchesDockerJsonlog) {
  struct {
    std::string in, want;
  } cases[] = {
      {"plain text", "plain text"},
      {"line\n", "line\\n"},
      {"cr\r\n", "cr\\r\\n"},
      {"tab\there", "tab\\u0009here"},  // docker's jsonlog has no short \t
      {"q\"b\\", "q\\\"b\\\\"},
      {"<a&b>", "\\u003ca\\u0026b\\u003e"},
      {std::string("nul\0x", 5), "nul\\u0000x"},
      {"\x1b[1m", "\\u001b[1m"},
      {"\x7f", "\x7f"},
      {"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"\xff", "\\ufffd"},
      {"a\xc3", "a\\ufffd"},                          // truncated sequence
      {"\xe2\x82", "\\ufffd\\ufffd"},                 // each bad byte on its own
      {"\xc0\x80", "\\ufffd\\ufffd"},                 // overlong
      {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},      // surrogate
      {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // above U+10FFFF
      {"\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029"},
  };
  for (const auto& c : cases) EXPECT_EQ(esc(c.in), c.want) << c.in;
}

TEST(JsonEscape, RFC3339NanoTrimsZerosLikeGo) {
  struct {
    long sec, nsec;
    const char* want;
  } cases[] = {
      {0, 0, "1970-01-01T00:00:00Z"},
      {1795542702, 123456789, "2026-11-24T17:51:42.123456789Z"},
      {1795542702, 120000000, "2026-11-24T17:51:42.12Z"},
      {1795542702, 1, "2026-11-24T17:51:42.000000001Z"},
  };
  for (const auto& c : cases) {
    struct timespec ts = {c.sec, c.nsec};
    char buf[48];
    size_t n = format_rfc3339nano(ts, buf);
    EXPECT_EQ(std::string(buf, n), c.want);
  }
}

TEST(JsonLog, WritesEntriesAndRotates) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string path = dir->path() + "/c.log";
  {
    JsonLog log;
    ASSERT_TRUE(log.open(path.c_str(), 100, 3));
    for (int i = 0; i < 10; i++) log.write_entry("stdout", reinterpret_cast<const unsigned char*>("0123456789\n"), 11);
  }
  for (const char* suffix : {"", ".1", ".2"}) {
    auto text = read_file(path + suffix);
    ASSERT_TRUE(text.ok()) << suffix;
    EXPECT_EQ(text->find("{\"log\":\"0123456789\\n\",\"stream\":\"stdout\",\"time\":\""), 0u) << suffix;
    EXPECT_LE(text->size(), 100u + 80u) << suffix;  // rotation happens before the entry that would pass
  }
  EXPECT_FALSE(path_exists(path + ".3"));
}

TEST(JsonLog, OneFileTruncates) {
  auto dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::string path = dir->path() + "/c.log";
  JsonLog log;
  ASSERT_TRUE(log.open(path.c_str(), 50, 1));
  log.write_entry("stderr", reinterpret_cast<const unsigned char*>("first\n"), 6);
  log.write_entry("stderr", reinterpret_cast<const unsigned char*>("second\n"), 7);
  auto text = read_file(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("first"), std::string::npos);
  EXPECT_NE(text->find("{\"log\":\"second\\n\",\"stream\":\"stderr\""), std::string::npos);
  EXPECT_FALSE(path_exists(path + ".1"));
}

}  // namespace
}  // namespace berth::monitor
