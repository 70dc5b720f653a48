// ignore.cpp - .dockerignore matching (moby/patternmatcher and its ignorefile reader) and
// Go's filepath.Match / path.Clean.
//
// Patterns are compiled to a token list and run as an NFA over the path's bytes, so matching
// is O(path * pattern) whatever the pattern (docker compiles them to Go regexps, which are
// linear too); a backtracking matcher would let "*a*a*a*a*b" take exponential time.
//
// Where docker's regexp translation has accidents, we follow the documented meaning:
// "\x" is always the literal x (docker's regexp reads "\d" as a digit class), and "[...]"
// classes follow filepath.Match (docker's translation turns a '*' or '?' inside a class into
// regexp syntax). docker's shortcut for a pattern that starts with "**" and has no other
// special character is kept: "**.go" matches every path that ends in ".go".
#include "build/ignore.h"
#include "build/quote.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

namespace berth::build {
namespace {

constexpr uint32_t kRuneError = 0xFFFD;
constexpr size_t kMaxQuoted = 80;

std::string quoted(std::string_view s) { return quote_for_error(s, kMaxQuoted); }

// Go's strings.TrimSpace for ASCII whitespace.
std::string_view go_trim(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Go's utf8.DecodeRuneInString: the rune at s[i] and its length; an invalid or overlong
// sequence is kRuneError of length 1.
uint32_t decode_rune(std::string_view s, size_t i, size_t* len) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  *len = 1;
  unsigned char c = b(0);
  if (c < 0x80) return c;
  size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return kRuneError;
  uint32_t r = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return kRuneError;
    r = (r << 6) | (b(k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (r < kMin[n] || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return kRuneError;
  *len = n;
  return r;
}

struct CharClass {
  bool negated = false;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;

  bool contains(uint32_t r) const {
    bool in = std::any_of(ranges.begin(), ranges.end(),
                          [r](const auto& lh) { return lh.first <= r && r <= lh.second; });
    return in != negated;
  }
};

struct Token {
  enum Kind {
    kLit,    // one byte
    kStar,   // '*': any bytes but '/'
    kOne,    // '?': one character but '/'
    kClass,  // '[...]': one character in the class
    kDirs,   // "**" before more pattern: nothing, or anything that ends in '/'
    kAll,    // "**" at the end: anything
  };
  Kind kind;
  char lit = 0;
  size_t cls = 0;  // index into Glob::classes
};

struct Glob {
  std::vector<Token> tokens;
  std::vector<CharClass> classes;
  // docker's "**suffix" shortcut (no other special character): a plain suffix test.
  std::optional<std::string> suffix;
};

// One element of a class (Go's getEsc): a character, maybe '\'-escaped, that must be
// followed by more of the class. nullopt: bad pattern.
std::optional<uint32_t> class_char(std::string_view p, size_t& j) {
  if (j >= p.size() || p[j] == '-' || p[j] == ']') return std::nullopt;
  if (p[j] == '\\' && ++j >= p.size()) return std::nullopt;
  size_t len = 0;
  uint32_t r = decode_rune(p, j, &len);
  if (r == kRuneError && len == 1) return std::nullopt;
  j += len;
  if (j >= p.size()) return std::nullopt;
  return r;
}

// p[i] == '['; on success i is past the closing ']'.
std::optional<CharClass> parse_class(std::string_view p, size_t& i) {
  size_t j = i + 1;
  CharClass c;
  if (j < p.size() && p[j] == '^') {
    c.negated = true;
    ++j;
  }
  for (;;) {
    if (j < p.size() && p[j] == ']' && !c.ranges.empty()) {
      ++j;
      break;
    }
    auto lo = class_char(p, j);
    if (!lo) return std::nullopt;
    uint32_t hi = *lo;
    if (p[j] == '-') {
      auto h = class_char(p, ++j);
      if (!h) return std::nullopt;
      hi = *h;
    }
    c.ranges.emplace_back(*lo, hi);
  }
  i = j;
  return c;
}

void push(Glob& g, Token::Kind kind, char lit = 0) {
  g.tokens.push_back(Token{kind, lit, 0});
}

bool push_class(Glob& g, std::string_view p, size_t& i) {
  auto c = parse_class(p, i);
  if (!c) return false;
  g.tokens.push_back(Token{Token::kClass, 0, g.classes.size()});
  g.classes.push_back(std::move(*c));
  return true;
}

// filepath.Match syntax. nullopt: bad pattern.
std::optional<Glob> compile_go(std::string_view p) {
  Glob g;
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '*') {
      if (g.tokens.empty() || g.tokens.back().kind != Token::kStar) push(g, Token::kStar);
      ++i;
    } else if (c == '?') {
      push(g, Token::kOne);
      ++i;
    } else if (c == '[') {
      if (!push_class(g, p, i)) return std::nullopt;
    } else if (c == '\\') {
      if (i + 1 >= p.size()) return std::nullopt;
      push(g, Token::kLit, p[i + 1]);
      i += 2;
    } else {
      push(g, Token::kLit, c);
      ++i;
    }
  }
  return g;
}

// A .dockerignore pattern (already cleaned, valid for filepath.Match): '*' and '?' stay in
// one element, "**" spans elements.
std::optional<Glob> compile_docker(std::string_view p) {
  Glob g;
  if (p.starts_with("**") && p.substr(2).find_first_of("*?[]\\") == std::string_view::npos) {
    g.suffix = std::string(p.substr(2));
    return g;
  }
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '*' && i + 1 < p.size() && p[i + 1] == '*') {
      i += 2;
      if (i < p.size() && p[i] == '/') ++i;  // "**/" is "**"
      push(g, i == p.size() ? Token::kAll : Token::kDirs);
    } else if (c == '*') {
      push(g, Token::kStar);
      ++i;
    } else if (c == '?') {
      push(g, Token::kOne);
      ++i;
    } else if (c == '[') {
      if (!push_class(g, p, i)) return std::nullopt;
    } else if (c == '\\' && i + 1 < p.size()) {
      push(g, Token::kLit, p[i + 1]);
      i += 2;
    } else {
      push(g, Token::kLit, c);
      ++i;
    }
  }
  return g;
}

struct RunResult {
  bool full = false;    // the whole text matches
  bool parent = false;  // a prefix ending just before a '/' matches (a parent directory)
  bool alive = false;   // some continuation of the text could still match
};

bool has_suffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool suffix_matches(std::string_view s, const std::string& suffix) {
  return has_suffix(s, suffix) || (suffix[0] == '/' && s == std::string_view(suffix).substr(1));
}

RunResult run_suffix(const std::string& suffix, std::string_view s) {
  RunResult r;
  r.alive = true;
  if (suffix.empty()) {
    r.full = r.parent = true;
    return r;
  }
  r.full = suffix_matches(s, suffix);
  for (size_t k = 1; k < s.size() && !r.parent; ++k)
    if (s[k] == '/') r.parent = suffix_matches(s.substr(0, k), suffix);
  return r;
}

// The NFA: state 2i is "before token i", 2i+1 "inside the (.*/) of a kDirs token i", 2m is
// accept. A step moves 1 to 4 bytes ahead, so five rows of states are enough.
RunResult run(const Glob& g, std::string_view s) {
  if (g.suffix) return run_suffix(*g.suffix, s);
  const size_t m = g.tokens.size();
  const size_t states = 2 * m + 2;
  constexpr size_t kRows = 5;
  std::vector<uint8_t> rows(kRows * states, 0);
  auto row = [&](size_t k) { return rows.data() + (k % kRows) * states; };
  size_t furthest = 0;
  auto set = [&](size_t k, size_t state) {
    row(k)[state] = 1;
    furthest = std::max(furthest, k);
  };
  RunResult r;
  row(0)[0] = 1;
  for (size_t k = 0; k <= s.size(); ++k) {
    if (k > furthest) return r;  // no state left: nothing can match any more
    uint8_t* cur = row(k);
    for (size_t i = 0; i < m; ++i) {
      auto kind = g.tokens[i].kind;
      if (cur[2 * i] && (kind == Token::kStar || kind == Token::kDirs || kind == Token::kAll))
        cur[2 * i + 2] = 1;
    }
    if (k == s.size()) {
      r.full = cur[2 * m] != 0;
      r.alive = std::find(cur, cur + states, 1) != cur + states;
      return r;
    }
    char c = s[k];
    if (c == '/' && k > 0 && cur[2 * m]) r.parent = true;
    size_t len = 1;
    uint32_t rune = decode_rune(s, k, &len);
    for (size_t i = 0; i < m; ++i) {
      const Token& t = g.tokens[i];
      if (cur[2 * i + 1] || (cur[2 * i] && t.kind == Token::kDirs)) {
        set(k + 1, 2 * i + 1);
        if (c == '/') set(k + 1, 2 * i + 2);
      }
      if (!cur[2 * i]) continue;
      switch (t.kind) {
        case Token::kLit:
          if (c == t.lit) set(k + 1, 2 * i + 2);
          break;
        case Token::kStar:
          if (c != '/') set(k + 1, 2 * i);
          break;
        case Token::kAll:
          set(k + 1, 2 * i);
          break;
        case Token::kOne:
          if (rune != '/') set(k + len, 2 * i + 2);
          break;
        case Token::kClass:
          if (g.classes[t.cls].contains(rune)) set(k + len, 2 * i + 2);
          break;
        case Token::kDirs:
          break;
      }
    }
    std::fill(cur, cur + states, 0);
  }
  return r;
}

Error line_error(size_t line, std::string_view text, std::string_view why) {
  return Error::invalid("invalid .dockerignore pattern on line " + std::to_string(line) + ": " +
                        quoted(text) + ": " + std::string(why));
}

// What docker's ignorefile.ReadAll makes of one trimmed, non-comment line: '!' kept in
// front, the rest trimmed and cleaned, a leading '/' dropped.
std::string normalize_line(std::string_view p) {
  bool invert = p[0] == '!';
  if (invert) p = go_trim(p.substr(1));
  std::string out;
  if (!p.empty()) {
    out = clean_path(p);
    if (out.size() > 1 && out[0] == '/') out.erase(0, 1);
  }
  return invert ? "!" + out : out;
}

}  // namespace

struct IgnoreMatcher::Compiled {
  std::vector<Glob> globs;  // one per pattern
};

Result<IgnoreMatcher> IgnoreMatcher::parse(std::string_view text) {
  IgnoreMatcher m;
  auto compiled = std::make_shared<Compiled>();
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (++line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
    if (line.starts_with('#')) continue;  // only in column 1, as docker
    std::string_view trimmed = go_trim(line);
    if (trimmed.empty()) continue;
    // Then what patternmatcher.New does with it: trim, clean, split off the '!'.
    std::string p = clean_path(go_trim(normalize_line(trimmed)));
    bool exception = p[0] == '!';
    if (exception && p.size() == 1)
      return line_error(line_no, trimmed, "illegal exclusion pattern");
    if (exception) p.erase(0, 1);
    if (!compile_go(p)) return line_error(line_no, trimmed, "bad pattern");
    auto glob = compile_docker(p);
    if (!glob) return line_error(line_no, trimmed, "bad pattern");
    compiled->globs.push_back(std::move(*glob));
    m.patterns_.push_back(Pattern{std::move(p), exception});
  }
  m.compiled_ = std::move(compiled);
  return m;
}

bool IgnoreMatcher::excluded(std::string_view rel) const {
  if (!compiled_ || rel.empty() || rel == ".") return false;
  bool matched = false;
  for (size_t i = 0; i < patterns_.size(); ++i) {
    // The last pattern that matches decides: an exclusion cannot change an excluded path,
    // an exception cannot change an included one.
    if (patterns_[i].exception != matched) continue;
    RunResult r = run(compiled_->globs[i], rel);
    if (r.full || r.parent) matched = !patterns_[i].exception;
  }
  return matched;
}

bool IgnoreMatcher::may_include_under(std::string_view rel) const {
  if (!compiled_) return false;
  const bool root = rel.empty() || rel == ".";
  // An exclusion that matches rel (or a parent) matches everything under it too, so only
  // the exceptions after the last such exclusion can bring something back.
  size_t first = 0;
  for (size_t k = 0; k < patterns_.size() && !root; ++k) {
    if (patterns_[k].exception) continue;
    RunResult r = run(compiled_->globs[k], rel);
    if (r.full || r.parent) first = k + 1;
  }
  std::string under = std::string(rel) + "/";
  for (size_t j = first; j < patterns_.size(); ++j) {
    if (!patterns_[j].exception) continue;
    if (root) return true;
    RunResult r = run(compiled_->globs[j], under);
    if (r.alive || r.parent) return true;  // it can match rel/..., or matches rel itself
  }
  return false;
}

Result<bool> path_match(std::string_view pattern, std::string_view name) {
  auto g = compile_go(pattern);
  if (!g) return Error::invalid("bad pattern", quoted(pattern));
  return run(*g, name).full;
}

bool has_glob(std::string_view pattern) {
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

std::string clean_path(std::string_view p) {
  if (p.empty()) return ".";
  const bool rooted = p[0] == '/';
  std::string out = rooted ? "/" : "";
  size_t r = rooted ? 1 : 0;
  size_t dotdot = out.size();  // out[:dotdot] is "/" or leading ".." that cannot go back
  const size_t n = p.size();
  while (r < n) {
    if (p[r] == '/') {
      ++r;
    } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
      ++r;
    } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
      r += 2;
      if (out.size() > dotdot) {
        size_t w = out.size() - 1;
        while (w > dotdot && out[w] != '/') --w;
        out.resize(w);
      } else if (!rooted) {
        if (!out.empty()) out += '/';
        out += "..";
        dotdot = out.size();
      }
    } else {
      if (out.size() > (rooted ? 1 : 0)) out += '/';
      while (r < n && p[r] != '/') out += p[r++];
    }
  }
  return out.empty() ? "." : out;
}

}  // namespace berth::build
