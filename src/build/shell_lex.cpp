// shell_lex.cpp - Dockerfile variable substitution, following moby/buildkit's shell lexer
// (frontend/dockerfile/shell/lex.go): the same quoting, escaping and word-splitting rules,
// including its quirks (an unquoted "$X" value is split at whitespace by expand_words, the
// escape character is dropped outside quotes, "$" before a non-name stays literal).
//
// Beyond the basic forms it supports what BuildKit added: ${X#pat} ${X##pat} ${X%pat}
// ${X%%pat} (shortest/longest prefix/suffix removal) and ${X/pat/repl} ${X//pat/repl}, with
// shell patterns of '*' (any string) and '?' (one character); the escape character makes
// the next character literal.
#include "build/shell_lex.h"
#include "build/quote.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

namespace berth::build {
namespace {

// ${ inside the word of ${X:-word} recurses; a hostile Dockerfile could nest it deeply.
constexpr int kMaxNesting = 32;
// Error messages quote the input; keep them one short line.
constexpr size_t kMaxQuoted = 80;
constexpr int kEof = -1;

// The input as it may appear in a one-line error message.
std::string quoted(std::string_view s) { return quote_for_error(s, kMaxQuoted); }

// One line of plain text for a user-supplied ${X:?message}.
std::string one_line(std::string_view s) {
  std::string q = quoted(s);
  return q.substr(1, q.size() - 2);
}

bool is_space(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool is_digit(int c) {
  return c >= '0' && c <= '9';
}
bool is_name_char(int c) {
  return is_digit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// POSIX special parameters: docker reads "$@", "${#}"... as names (always unset here).
bool is_special_param(int c) {
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
         c == '0';
}

// Collects the words of expand_words the way docker's wordsStruct does: text from variables
// and plain characters splits at whitespace, quoted text and escaped characters never do.
class WordSplitter {
 public:
  void add_char(char c) {
    if (!is_space(static_cast<unsigned char>(c))) {
      add_raw_char(c);
    } else if (in_word_ && !word_.empty()) {
      words_.push_back(std::move(word_));
      word_.clear();
      in_word_ = false;
    }
  }
  void add_raw_char(char c) {
    word_ += c;
    in_word_ = true;
  }
  void add_string(std::string_view s) {
    for (char c : s) add_char(c);
  }
  void add_raw_string(std::string_view s) {
    word_ += s;
    in_word_ = true;
  }
  std::vector<std::string> finish() {
    if (!word_.empty()) words_.push_back(std::move(word_));
    word_.clear();
    return std::move(words_);
  }

 private:
  std::vector<std::string> words_;
  std::string word_;
  bool in_word_ = false;
};

// A shell pattern (for # % and /) cut into characters: each unit is '*', '?' or a literal
// UTF-8 sequence, so a pattern can be matched backwards for suffixes.
struct ShellPattern {
  enum Kind { kLit, kAny, kOne };
  struct Unit {
    Kind kind;
    std::string_view lit;
  };
  std::vector<Unit> units;
};

size_t utf8_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

// Splits text into characters (valid UTF-8 sequences, else single bytes).
std::vector<std::string_view> characters(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_len(s, i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// raw: the pattern text with the lexer's escape characters still in it.
ShellPattern compile_shell_pattern(std::string_view raw, char escape) {
  ShellPattern p;
  for (size_t i = 0; i < raw.size();) {
    if (raw[i] == escape && i + 1 < raw.size()) {
      size_t n = utf8_len(raw, i + 1);
      p.units.push_back({ShellPattern::kLit, raw.substr(i + 1, n)});
      i += 1 + n;
    } else if (raw[i] == '*') {
      p.units.push_back({ShellPattern::kAny, {}});
      ++i;
    } else if (raw[i] == '?') {
      p.units.push_back({ShellPattern::kOne, {}});
      ++i;
    } else {
      size_t n = utf8_len(raw, i);
      p.units.push_back({ShellPattern::kLit, raw.substr(i, n)});
      i += n;
    }
  }
  return p;
}

// The lengths (in characters) of the prefixes of text[from..] that the whole pattern
// matches, as a flag per length. An NFA walk: O(text * pattern), no backtracking blow-up.
std::vector<bool> prefix_matches(const std::vector<ShellPattern::Unit>& pat,
                                 const std::vector<std::string_view>& text, size_t from) {
  size_t m = pat.size();
  std::vector<bool> cur(m + 1, false), next(m + 1, false);
  std::vector<bool> ends(text.size() - from + 1, false);
  auto close = [&](std::vector<bool>& st) {
    for (size_t i = 0; i < m; ++i)
      if (st[i] && pat[i].kind == ShellPattern::kAny) st[i + 1] = true;
  };
  cur[0] = true;
  close(cur);
  for (size_t k = from;; ++k) {
    ends[k - from] = cur[m];
    if (k == text.size() || std::find(cur.begin(), cur.end(), true) == cur.end()) break;
    std::fill(next.begin(), next.end(), false);
    for (size_t i = 0; i < m; ++i) {
      if (!cur[i]) continue;
      const auto& u = pat[i];
      if (u.kind == ShellPattern::kAny) next[i] = true;
      if (u.kind == ShellPattern::kOne || (u.kind == ShellPattern::kLit && u.lit == text[k]))
        next[i + 1] = true;
    }
    close(next);
    std::swap(cur, next);
  }
  return ends;
}

std::string join_chars(const std::vector<std::string_view>& chars, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += chars[i];
  return out;
}

// ${X#pat} ${X##pat}: removes the shortest (longest) prefix the pattern matches.
std::string trim_prefix(const ShellPattern& p, std::string_view value, bool longest) {
  auto chars = characters(value);
  auto ends = prefix_matches(p.units, chars, 0);
  std::optional<size_t> cut;
  for (size_t n = 0; n < ends.size(); ++n)
    if (ends[n] && (!cut || longest)) cut = n;
  return cut ? join_chars(chars, *cut, chars.size()) : std::string(value);
}

// ${X%pat} ${X%%pat}: the same on the reversed text with the reversed pattern.
std::string trim_suffix(const ShellPattern& p, std::string_view value, bool longest) {
  auto chars = characters(value);
  std::vector<std::string_view> rev(chars.rbegin(), chars.rend());
  std::vector<ShellPattern::Unit> rpat(p.units.rbegin(), p.units.rend());
  auto ends = prefix_matches(rpat, rev, 0);
  std::optional<size_t> cut;
  for (size_t n = 0; n < ends.size(); ++n)
    if (ends[n] && (!cut || longest)) cut = n;
  return cut ? join_chars(chars, 0, chars.size() - *cut) : std::string(value);
}

// The leftmost match at or after `from`, longest there: [start, end) in characters. One NFA
// walk whose threads carry their start, the earliest kept per state (it can do all a later
// one can), so a failed search costs O(text * pattern), not that times the text.
std::optional<std::pair<size_t, size_t>> find_match(const ShellPattern& p,
                                                    const std::vector<std::string_view>& chars,
                                                    size_t from) {
  constexpr size_t kNone = SIZE_MAX;
  const auto& pat = p.units;
  const size_t m = pat.size();
  std::vector<size_t> cur(m + 1, kNone), next(m + 1, kNone);
  auto keep = [](size_t& slot, size_t start) { slot = std::min(slot, start); };
  std::optional<std::pair<size_t, size_t>> best;
  for (size_t k = from;; ++k) {
    if (!best) keep(cur[0], k);  // a match may also start here
    for (size_t i = 0; i < m; ++i)
      if (cur[i] != kNone && pat[i].kind == ShellPattern::kAny) keep(cur[i + 1], cur[i]);
    // Threads left never start right of best: this match is more left, or as left and longer.
    if (cur[m] != kNone) best = std::make_pair(cur[m], k);
    if (best)  // a thread that started later can only give a match further right
      for (auto& st : cur)
        if (st != kNone && st > best->first) st = kNone;
    bool alive = std::any_of(cur.begin(), cur.end(), [](size_t st) { return st != kNone; });
    if (k == chars.size() || (best && !alive)) break;
    std::fill(next.begin(), next.end(), kNone);
    for (size_t i = 0; i < m; ++i) {
      if (cur[i] == kNone) continue;
      const auto& u = pat[i];
      if (u.kind == ShellPattern::kAny) keep(next[i], cur[i]);
      if (u.kind == ShellPattern::kOne || (u.kind == ShellPattern::kLit && u.lit == chars[k]))
        keep(next[i + 1], cur[i]);
    }
    std::swap(cur, next);
  }
  return best;
}

// ${X/pat/repl} and ${X//pat/repl}; as Go's ReplaceAllString, an empty match right after
// the previous match is skipped.
std::string replace(const ShellPattern& p, std::string_view value, std::string_view repl,
                    bool all) {
  auto chars = characters(value);
  std::string out;
  size_t pos = 0;
  std::optional<size_t> last_end;
  while (pos <= chars.size()) {
    auto m = find_match(p, chars, pos);
    if (!m) break;
    auto [s, e] = *m;
    out += join_chars(chars, pos, s);
    if (s == e && last_end == s) {  // empty match abutting the previous one
      if (s == chars.size()) {
        pos = s;
        break;
      }
      out += chars[s];
      pos = s + 1;
      continue;
    }
    out += repl;
    last_end = e;
    pos = e;
    if (!all) break;
    if (s == e) {
      if (s == chars.size()) break;
      out += chars[s];
      pos = s + 1;
    }
  }
  if (pos < chars.size()) out += join_chars(chars, pos, chars.size());
  return out;
}

// One expansion of one word. refs, when given, collects every name read and makes the lexer
// lenient (no ${X:?} errors), for referenced_vars.
class Lexer {
 public:
  Lexer(std::string_view src, const Vars& vars, char escape, std::vector<std::string>* refs)
      : src_(src), vars_(vars), escape_(escape), refs_(refs) {}

  Result<std::string> run(WordSplitter* words) { return until(kEof, false, words, 0, 0); }

 private:
  bool at_end() const { return pos_ >= src_.size(); }
  int peek() const { return at_end() ? kEof : static_cast<unsigned char>(src_[pos_]); }

  Error error(std::string what) const {
    return Error::invalid(std::move(what) + " in " + quoted(src_));
  }
  // "${X:%}" for messages: from the "${" at open through the next '}' (or the end).
  std::string substitution(size_t open) const {
    size_t close = src_.find('}', open);
    return quoted(src_.substr(open, close == std::string_view::npos ? close : close - open + 1));
  }
  Error bad_substitution(size_t open) const {
    return Error::invalid("bad substitution: " + substitution(open));
  }
  Error missing(char what, size_t open) const {
    return Error::invalid(std::string("missing '") + what + "' in " + quoted(src_.substr(open)));
  }

  // Reads text up to the stop character (consumed) or the end. stop == kEof: the top level.
  Result<std::string> until(int stop, bool raw_escapes, WordSplitter* words, int depth,
                            size_t open) {
    std::string out;
    while (!at_end()) {
      int c = peek();
      if (stop != kEof && c == stop) {
        ++pos_;
        return out;
      }
      if (c == '$') {
        std::string part = TRY(dollar(depth));
        if (words) words->add_string(part);  // a variable's value splits into words
        out += part;
        continue;
      }
      if (c == '\'' || c == '"') {
        std::string part = c == '"' ? TRY(double_quoted(raw_escapes, depth)) : TRY(single_quoted());
        if (words) words->add_raw_string(part);
        out += part;
        continue;
      }
      char ch = src_[pos_++];
      if (ch == escape_) {
        if (raw_escapes) out += ch;
        if (words && raw_escapes) words->add_raw_char(ch);
        if (at_end()) break;  // a trailing escape character is dropped
        ch = src_[pos_++];
        if (words) words->add_raw_char(ch);
      } else if (words) {
        words->add_char(ch);
      }
      out += ch;
    }
    if (stop != kEof) return missing(static_cast<char>(stop), open);
    return out;
  }

  // Everything up to the next single quote, as is.
  Result<std::string> single_quoted() {
    size_t close = src_.find('\'', pos_ + 1);
    if (close == std::string_view::npos) return error("unterminated single quote");
    std::string out(src_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    return out;
  }

  // Inside double quotes only $ expands; the escape character escapes " $ and itself and is
  // kept before anything else.
  Result<std::string> double_quoted(bool raw_escapes, int depth) {
    ++pos_;
    std::string out;
    for (;;) {
      if (at_end()) return error("unterminated double quote");
      int c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '$') {
        out += TRY(dollar(depth));
        continue;
      }
      char ch = src_[pos_++];
      if (ch == escape_) {
        if (raw_escapes) out += ch;
        int n = peek();
        if (n == '"' || n == '$' || n == static_cast<unsigned char>(escape_)) {
          ch = src_[pos_++];
        } else if (n == kEof) {
          continue;  // reported as the unterminated quote
        }
      }
      out += ch;
    }
  }

  // A variable name: letters, digits and '_'; all digits ("$1"); or one special parameter.
  std::string name() {
    size_t start = pos_;
    if (is_digit(peek())) {
      while (is_digit(peek())) ++pos_;
    } else if (is_special_param(peek())) {
      ++pos_;
    } else {
      while (is_name_char(peek())) ++pos_;
    }
    std::string n(src_.substr(start, pos_ - start));
    if (refs_ && !n.empty() && std::find(refs_->begin(), refs_->end(), n) == refs_->end())
      refs_->push_back(n);
    return n;
  }

  const std::string* lookup(const std::string& n) const {
    auto it = vars_.find(n);
    return it == vars_.end() ? nullptr : &it->second;
  }

  Result<std::string> dollar(int depth) {
    size_t open = pos_++;
    if (peek() != '{') {
      std::string n = name();
      if (n.empty()) return std::string("$");
      const std::string* v = lookup(n);
      return v ? *v : std::string();
    }
    ++pos_;
    if (at_end()) return missing('}', open);
    if (peek() == '{' || peek() == '}' || peek() == ':') return bad_substitution(open);
    if (depth >= kMaxNesting)
      return error("'${' nested more than " + std::to_string(kMaxNesting) + " deep");
    std::string n = name();
    if (at_end()) return missing('}', open);
    char op = src_[pos_++];
    bool colon = op == ':';
    if (colon) {
      if (at_end()) return missing('}', open);
      op = src_[pos_++];
      if (op != '-' && op != '+' && op != '?') return bad_substitution(open);
    }
    switch (op) {
      case '}': {
        const std::string* v = lookup(n);
        return v ? *v : std::string();
      }
      case '-':
      case '+':
      case '?':
        return modifier(n, op, colon, depth, open);
      case '#':
      case '%':
        return trim(n, op, depth, open);
      case '/':
        return substitute(n, depth, open);
      default:
        return bad_substitution(open);
    }
  }

  // ${X-w} ${X:-w} ${X+w} ${X:+w} ${X?w} ${X:?w}; with ':' an empty value counts as unset.
  Result<std::string> modifier(const std::string& n, char op, bool colon, int depth, size_t open) {
    std::string word = TRY(until('}', false, nullptr, depth + 1, open));
    const std::string* v = lookup(n);
    bool unset = v == nullptr || (colon && v->empty());
    if (op == '-') return unset ? word : *v;
    if (op == '+') return unset ? std::string() : word;
    if (!unset || refs_) return v ? *v : std::string();
    std::string message = !word.empty()  ? one_line(word)
                          : v == nullptr ? "is not allowed to be unset"
                                         : "is not allowed to be empty";
    return Error::invalid(one_line(n) + ": " + message);
  }

  // ${X#p} ${X##p} ${X%p} ${X%%p}: the pattern keeps its escapes (raw) to tell literal
  // '*' from wildcards.
  Result<std::string> trim(const std::string& n, char op, int depth, size_t open) {
    std::string word = TRY(until('}', true, nullptr, depth + 1, open));
    bool longest = word.starts_with(op);
    if (longest) word.erase(0, 1);
    const std::string* v = lookup(n);
    std::string value = v ? *v : std::string();
    ShellPattern p = compile_shell_pattern(word, escape_);
    return op == '#' ? trim_prefix(p, value, longest) : trim_suffix(p, value, longest);
  }

  // ${X/pat/repl} (first match) and ${X//pat/repl} (every match).
  Result<std::string> substitute(const std::string& n, int depth, size_t open) {
    bool all = peek() == '/';
    if (all) ++pos_;
    std::string pattern = TRY(until('/', true, nullptr, depth + 1, open));
    std::string repl = TRY(until('}', false, nullptr, depth + 1, open));
    // As docker: an unset variable is replaced in as "" (so "${X/*/y}" gives "y").
    const std::string* v = lookup(n);
    return replace(compile_shell_pattern(pattern, escape_), v ? *v : std::string(), repl, all);
  }

  std::string_view src_;
  size_t pos_ = 0;
  const Vars& vars_;
  char escape_;
  std::vector<std::string>* refs_;
};

}  // namespace

Result<std::string> expand_word(std::string_view word, const Vars& vars, char escape) {
  return Lexer(word, vars, escape, nullptr).run(nullptr);
}

Result<std::vector<std::string>> expand_words(std::string_view line, const Vars& vars,
                                              char escape) {
  WordSplitter words;
  TRY(Lexer(line, vars, escape, nullptr).run(&words));
  return words.finish();
}

std::vector<std::string> referenced_vars(std::string_view word, char escape) {
  std::vector<std::string> names;
  static const Vars kNone;
  (void)Lexer(word, kNone, escape, &names).run(nullptr);
  return names;
}

}  // namespace berth::build
