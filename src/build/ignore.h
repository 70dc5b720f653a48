// ignore.h - .dockerignore and the path patterns of COPY/ADD sources.
//
// .dockerignore (docker's rules,
// https://docs.docker.com/build/concepts/context/#dockerignore-files): one pattern per line; '#'
// lines are comments; blank lines ignored; each pattern trimmed and cleaned like Go's
// filepath.Clean (leading '/' and "./" dropped); `!` makes an exception; the last pattern that
// matches a path decides; `*` `?` `[...]` `\` as Go's filepath.Match within one path element, `**`
// any number of elements (also none); a pattern that matches a directory excludes everything under
// it (unless a later `!` pattern brings a path back).
//
// COPY sources: Go's filepath.Match over the whole relative path ('*' never crosses '/').
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::build {

class IgnoreMatcher {
 public:
  // An empty matcher excludes nothing.
  IgnoreMatcher() = default;
  // Errors: "invalid .dockerignore pattern on line N: '[a': bad pattern".
  static Result<IgnoreMatcher> parse(std::string_view dockerignore_text);

  // rel: a path relative to the context root, '/'-separated, cleaned, no leading "./" or
  // '/' ("src/a.py"). True when the patterns exclude it.
  bool excluded(std::string_view rel) const;
  // True when some exception pattern (`!...`) could bring back a path under the directory
  // rel even though rel itself is excluded: the walker must then descend into it.
  bool may_include_under(std::string_view rel) const;
  bool empty() const { return patterns_.empty(); }

  struct Pattern {
    std::string text;  // cleaned, without '!'
    bool exception = false;
  };
  const std::vector<Pattern>& patterns() const { return patterns_; }

 private:
  struct Compiled;  // the patterns, compiled for matching (ignore.cpp)
  std::vector<Pattern> patterns_;
  std::shared_ptr<const Compiled> compiled_;
};

// Go's filepath.Match: '*' (no '/'), '?' (one character, not '/'), '[...]' with ranges and
// '^' negation (Go has no '!' negation: "[!a]" is '!' or 'a'), '\' escapes. Err: "bad pattern
// '<pattern>'" for a malformed class or a trailing '\' (whatever the name).
Result<bool> path_match(std::string_view pattern, std::string_view name);
// True when pattern has any of * ? [ (so it is a glob, not a literal path).
bool has_glob(std::string_view pattern);
// Go's path.Clean for '/'-separated paths ("a//b/../c/" -> "a/c", "" -> ".").
std::string clean_path(std::string_view p);

}  // namespace berth::build
