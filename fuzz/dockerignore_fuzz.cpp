// dockerignore_fuzz.cpp - the build context's text matchers (build/ignore.h) and Dockerfile
// variable substitution (build/shell_lex.h).
//
// Input: up to four parts split at NUL bytes: a .dockerignore file, paths (one a line), a
// filepath.Match pattern, a Dockerfile word. Without a NUL the whole input plays every part.
// Checks: no crash and bounded time (hostile patterns, deep ${ nesting); errors are one
// line; clean_path is idempotent and leaves no "//", trailing '/' or "." element; exclusion
// pattern texts are clean; a directory that is excluded and that may_include_under says
// nothing comes back from has every child excluded; appending "**" excludes everything and
// "!**" nothing; path_match errors do not depend on the name and a pattern without specials
// matches only itself; expand_word and expand_words fail together, words are non-empty; a
// word without specials expands to itself; the result depends only on the variables
// referenced_vars names.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "build/ignore.h"
#include "build/shell_lex.h"
#include "fuzz_util.h"

using namespace berth;
using namespace berth::build;

namespace {

constexpr const char* kTarget = "dockerignore_fuzz";
constexpr size_t kMaxPaths = 8;
constexpr size_t kMaxPathLen = 128;

void check_one_line(const Error& e, std::string_view input) {
  std::string m = e.message();
  if (m.empty() || m.find('\n') != std::string::npos || m.size() > 400)
    fuzz::fail(kTarget, "error is not one short line", m + "\ninput: " + std::string(input));
}

void check_clean(std::string_view p) {
  std::string c = build::clean_path(p);
  std::string detail = std::string(p) + " -> " + c;
  if (c.empty()) fuzz::fail(kTarget, "clean_path gave \"\"", detail);
  if (build::clean_path(c) != c) fuzz::fail(kTarget, "clean_path not idempotent", detail);
  if (c.find("//") != std::string::npos) fuzz::fail(kTarget, "clean_path left //", detail);
  if (c.size() > 1 && c.back() == '/') fuzz::fail(kTarget, "clean_path left a trailing /", detail);
  if (c != "." && (c.starts_with("./") || c.find("/./") != std::string::npos || c.ends_with("/.")))
    fuzz::fail(kTarget, "clean_path left a . element", detail);
  if (c == "/.." || c.starts_with("/../")) fuzz::fail(kTarget, "clean_path left /..", detail);
}

// The paths to try: each line cleaned, relative, short.
std::vector<std::string> paths_of(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& line : split(text, '\n')) {
    if (out.size() == kMaxPaths) break;
    std::string p = build::clean_path(std::string_view(line).substr(0, kMaxPathLen));
    while (p.starts_with('/')) p.erase(0, 1);
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

void check_matcher(const IgnoreMatcher& m, const std::vector<std::string>& paths) {
  bool has_exception = false;
  for (const auto& p : m.patterns()) {
    // An exception's text can be unclean, as in docker: "/!./x" is cleaned, loses its '/',
    // and only then is read as the exception "./x".
    if (p.text.empty() || (!p.exception && build::clean_path(p.text) != p.text))
      fuzz::fail(kTarget, "pattern text not clean", p.text);
    has_exception |= p.exception;
  }
  for (const auto& dir : paths) {
    if (dir == ".") continue;
    bool excluded = m.excluded(dir);
    bool may = m.may_include_under(dir);
    if (may && !has_exception) fuzz::fail(kTarget, "may_include_under without exceptions", dir);
    if (!excluded || may) continue;
    for (size_t i = 0; i < paths.size() && i < 4; ++i) {
      if (paths[i] == "." || paths[i].starts_with("..")) continue;
      std::string child = dir + "/" + paths[i];
      if (!m.excluded(child))
        fuzz::fail(kTarget, "may_include_under said no, but a child is included", child);
    }
  }
}

void check_ignore(std::string_view text, const std::vector<std::string>& paths) {
  for (const auto& line : split(text.substr(0, 4096), '\n')) check_clean(line);
  auto m = IgnoreMatcher::parse(text);
  if (!m.ok()) {
    check_one_line(m.error(), text);
    if (!m.error().message().starts_with("invalid .dockerignore pattern on line "))
      fuzz::fail(kTarget, "error does not name the line", m.error().message());
    return;
  }
  check_matcher(*m, paths);
  auto all = IgnoreMatcher::parse(std::string(text) + "\n**\n");
  auto none = IgnoreMatcher::parse(std::string(text) + "\n!**\n");
  if (!all.ok() || !none.ok()) fuzz::fail(kTarget, "appending a pattern broke parse", "");
  for (const auto& p : paths) {
    if (p == ".") continue;
    if (!all->excluded(p)) fuzz::fail(kTarget, "** does not exclude", p);
    if (none->excluded(p)) fuzz::fail(kTarget, "!** does not bring back", p);
  }
}

void check_path_match(std::string_view pattern, const std::vector<std::string>& names) {
  bool valid = path_match(pattern, "").ok();
  bool plain = !has_glob(pattern) && pattern.find('\\') == std::string_view::npos;
  for (const auto& n : names) {
    auto r = path_match(pattern, n);
    if (r.ok() != valid) fuzz::fail(kTarget, "path_match validity depends on the name", n);
    if (!r.ok()) {
      check_one_line(r.error(), pattern);
      continue;
    }
    if (plain && *r != (pattern == n))
      fuzz::fail(kTarget, "a plain pattern matched another name", std::string(pattern));
  }
}

const Vars kVars = {{"A", "a b"},    {"B", ""},     {"X", "x*y?z"}, {"P", "/usr/local/bin"},
                    {"Q", "'\"\\$"}, {"N", "${A}"}, {"1", "one"}};

void check_expand(std::string_view word, char escape) {
  auto w = expand_word(word, kVars, escape);
  auto ws = expand_words(word, kVars, escape);
  if (w.ok() != ws.ok())
    fuzz::fail(kTarget, "expand_word and expand_words disagree", std::string(word));
  if (!w.ok()) {
    check_one_line(w.error(), word);
    return;
  }
  for (const auto& x : *ws)
    if (x.empty()) fuzz::fail(kTarget, "empty word", std::string(word));
  bool special = word.find_first_of(std::string("$'\"") + escape) != std::string_view::npos;
  if (!special && *w != word) fuzz::fail(kTarget, "plain word changed", std::string(word));

  // The build cache keys a step on the referenced variables only: nothing else may matter.
  auto names = referenced_vars(word, escape);
  Vars seen;
  for (const auto& n : names) {
    if (n.empty()) fuzz::fail(kTarget, "empty variable name", std::string(word));
    if (std::count(names.begin(), names.end(), n) != 1)
      fuzz::fail(kTarget, "duplicate variable name", n);
    if (auto it = kVars.find(n); it != kVars.end()) seen.insert(*it);
  }
  auto again = expand_word(word, seen, escape);
  if (!again.ok() || *again != *w)
    fuzz::fail(kTarget, "result depends on a variable referenced_vars missed", std::string(word));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s = fuzz::as_text(data, size);
  auto parts = fuzz::split_at_nul(s, 4);
  if (s.find('\0') == std::string_view::npos) parts = {s, s, s, s};
  std::vector<std::string> paths = paths_of(parts[1]);
  check_ignore(parts[0], paths);
  check_path_match(parts[2], paths);
  check_expand(parts[3], '\\');
  check_expand(parts[3], '`');
  return 0;
}
