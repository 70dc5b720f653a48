// dockerfile_fuzz.cpp - the Dockerfile parser (build/dockerfile.h).
//
// Input: the bytes as a Dockerfile; also the same text with every "\n" turned into "\r\n".
// Checks: no crash; an error is one non-empty line of bounded length; an accepted file has
// instructions with known upper-case keywords, 1 <= line <= end_line <= the file's line
// count, each starting after the previous one ended; the JSON form only where docker allows
// it (and always for SHELL); heredocs only on RUN/COPY/ADD with bodies of whole lines;
// ENV/LABEL pairs with names; ONBUILD wraps exactly one allowed instruction; only ARGs come
// before the first FROM; the CRLF copy parses to exactly the same result.
#include <algorithm>
#include <cstdint>
#include <string>

#include "build/dockerfile.h"
#include "fuzz_util.h"

using namespace berth;
using namespace berth::build;

namespace {

constexpr const char* kTarget = "dockerfile_fuzz";
constexpr size_t kMaxErrorLength = 400;

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool same(const Instruction& a, const Instruction& b) {
  if (a.line != b.line || a.end_line != b.end_line || a.keyword != b.keyword ||
      a.original != b.original || a.flags != b.flags || a.json != b.json || a.args != b.args ||
      a.kv != b.kv || a.heredocs.size() != b.heredocs.size() || a.sub.size() != b.sub.size())
    return false;
  for (size_t i = 0; i < a.heredocs.size(); ++i) {
    const auto& x = a.heredocs[i];
    const auto& y = b.heredocs[i];
    if (x.name != y.name || x.content != y.content || x.expand != y.expand) return false;
  }
  for (size_t i = 0; i < a.sub.size(); ++i)
    if (!same(a.sub[i], b.sub[i])) return false;
  return true;
}

void check_instruction(const Instruction& in, const std::string& text, bool nested) {
  if (!is_known_instruction(in.keyword))
    fuzz::fail(kTarget, "unknown keyword accepted", in.keyword);
  if (in.json && !one_of(in.keyword, {"RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "VOLUME", "SHELL",
                                      "HEALTHCHECK"}))
    fuzz::fail(kTarget, "JSON form where docker has none", in.keyword);
  if (in.keyword == "SHELL" && (!in.json || in.args.empty()))
    fuzz::fail(kTarget, "SHELL not a JSON array", text);
  if (!in.heredocs.empty() && !one_of(in.keyword, {"RUN", "COPY", "ADD"}))
    fuzz::fail(kTarget, "heredoc on the wrong instruction", in.keyword);
  for (const auto& h : in.heredocs)
    if (h.name.empty() || (!h.content.empty() && h.content.back() != '\n'))
      fuzz::fail(kTarget, "bad heredoc", h.name);
  if (one_of(in.keyword, {"ENV", "LABEL"})) {
    if (in.kv.empty() || !in.args.empty()) fuzz::fail(kTarget, "ENV/LABEL without pairs", text);
    for (const auto& [name, value] : in.kv)
      if (name.empty()) fuzz::fail(kTarget, "blank ENV/LABEL name", text);
  } else if (!in.kv.empty()) {
    fuzz::fail(kTarget, "pairs outside ENV/LABEL", in.keyword);
  }
  if (in.keyword == "FROM" && in.args.size() != 1 && in.args.size() != 3)
    fuzz::fail(kTarget, "FROM word count", text);
  if (in.keyword == "ONBUILD") {
    if (nested || in.sub.size() != 1 || in.args.size() != 1)
      fuzz::fail(kTarget, "ONBUILD shape", text);
    if (one_of(in.sub[0].keyword, {"ONBUILD", "FROM", "MAINTAINER"}))
      fuzz::fail(kTarget, "forbidden ONBUILD trigger", in.sub[0].keyword);
    if (in.sub[0].line != in.line || in.sub[0].end_line != in.end_line)
      fuzz::fail(kTarget, "ONBUILD trigger lines", text);
    check_instruction(in.sub[0], text, true);
  } else if (!in.sub.empty()) {
    fuzz::fail(kTarget, "sub-instruction outside ONBUILD", in.keyword);
  }
}

void check_file(const Dockerfile& df, const std::string& text) {
  if (df.escape != '\\' && df.escape != '`') fuzz::fail(kTarget, "bad escape", text);
  if (df.instructions.empty()) fuzz::fail(kTarget, "accepted without instructions", text);
  int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  if (!text.empty() && text.back() != '\n') ++lines;
  int previous_end = 0;
  bool from_seen = false;
  for (const auto& in : df.instructions) {
    if (in.line <= previous_end || in.end_line < in.line || in.end_line > lines)
      fuzz::fail(kTarget, "instruction lines out of order", text);
    previous_end = in.end_line;
    if (!from_seen && in.keyword != "ARG" && in.keyword != "FROM")
      fuzz::fail(kTarget, "instruction before FROM", text);
    from_seen = from_seen || in.keyword == "FROM";
    check_instruction(in, text, false);
  }
  if (!from_seen) fuzz::fail(kTarget, "no FROM accepted", text);
}

void check_error(const Error& e, const std::string& text) {
  std::string m = e.message();
  if (m.empty() || m.find('\n') != std::string::npos || m.find('\r') != std::string::npos ||
      m.size() > kMaxErrorLength)
    fuzz::fail(kTarget, "error is not one short line", m + "\n--- for:\n" + text);
}

void check_same(const Result<Dockerfile>& a, const Result<Dockerfile>& b, const std::string& s) {
  if (a.ok() != b.ok()) fuzz::fail(kTarget, "CRLF changes acceptance", s);
  if (!a.ok()) {
    if (a.error().message() != b.error().message())
      fuzz::fail(kTarget, "CRLF changes the error",
                 a.error().message() + " / " + b.error().message());
    return;
  }
  if (a->escape != b->escape || a->syntax != b->syntax ||
      a->instructions.size() != b->instructions.size())
    fuzz::fail(kTarget, "CRLF changes the file", s);
  for (size_t i = 0; i < a->instructions.size(); ++i)
    if (!same(a->instructions[i], b->instructions[i]))
      fuzz::fail(kTarget, "CRLF changes an instruction", a->instructions[i].original);
}

std::string with_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(fuzz::as_text(data, size));
  auto r = parse_dockerfile(text);
  if (r.ok())
    check_file(*r, text);
  else
    check_error(r.error(), text);
  check_same(r, parse_dockerfile(with_crlf(text)), text);
  return 0;
}
