// dockerfile.cpp - the Dockerfile parser (dockerfile.h), with the rules of docker's builder:
// moby/buildkit frontend/dockerfile/parser for the text (directives, continuations, comments,
// flags, JSON or shell form, heredocs) and frontend/dockerfile/instructions for the checks
// each instruction makes of its arguments and flags.
//
// Everything here is linear in the input: each line is read once, no regular expressions,
// and the JSON form is read with a SAX handler (no document tree, no recursion). ONBUILD is
// the only nesting, one level deep (ONBUILD ONBUILD is refused before it is parsed).
#include "build/dockerfile.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "base/strings.h"

namespace berth::build {
namespace {

constexpr size_t kMaxShown = 80;  // user text quoted in an error is cut at this length
constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kNotStringsMessage =
    "when using JSON array syntax, arrays must be comprised of strings only";

// Go's unicode.IsSpace on ASCII: what docker trims around lines and words. (The non-ASCII
// spaces Go also counts are word characters here.)
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// docker's reWhitespace `[\t\v\f\r ]+`: what separates the keyword and FROM/EXPOSE/COPY words.
bool is_separator(char c) {
  return c != '\n' && is_space(c);
}

std::string_view trim_left(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return s.substr(i);
}

std::string_view trim_space(std::string_view s) {
  s = trim_left(s);
  size_t e = s.size();
  while (e > 0 && is_space(s[e - 1])) --e;
  return s.substr(0, e);
}

// docker's trimNewline: the line without its trailing '\r's ("\r\n" files).
std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::string_view trim_tabs(std::string_view s) {
  while (!s.empty() && s.front() == '\t') s.remove_prefix(1);
  return s;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// User text inside an error message: control bytes escaped and long text cut, so that an
// error stays one readable line. quote: in double quotes, as Go's %q prints it.
std::string shown(std::string_view s, bool quote = false) {
  std::string out = quote ? "\"" : "";
  size_t i = 0;
  for (; i < s.size() && out.size() < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      if (quote && (c == '"' || c == '\\')) out += '\\';
      out += static_cast<char>(c);
    }
  }
  if (i < s.size()) out += "...";
  if (quote) out += '"';
  return out;
}

Error bad(std::string msg) {
  return Error::invalid(std::move(msg));
}

// ---- lines ------------------------------------------------------------------------------

// The text split at '\n' as bufio.Scanner does: a last line without '\n' counts, an empty
// text has no lines.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}

  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) nl = text_.size();
    line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    ++number_;
    return true;
  }
  int number() const { return number_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int number_ = 0;
};

// A comment: the first non-blank character is '#'.
bool is_comment(std::string_view raw) {
  std::string_view s = trim_left(trim_newline(raw));
  return !s.empty() && s.front() == '#';
}

// docker's line continuation `<escape>[ \t]*$`: strips it and says whether it was there.
bool trim_continuation(std::string_view& line, char escape) {
  size_t e = line.size();
  while (e > 0 && (line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
  if (e == 0 || line[e - 1] != escape) return false;
  line = line.substr(0, e - 1);
  return true;
}

// Go's regexp \s: [\t\n\f\r ] (no \v).
bool is_re_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A parser directive line, `#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`: {key, value}.
std::optional<std::pair<std::string_view, std::string_view>> match_directive(std::string_view s) {
  if (s.empty() || s[0] != '#') return std::nullopt;
  size_t i = 1;
  while (i < s.size() && is_re_space(s[i])) ++i;
  size_t key_start = i;
  if (i >= s.size() || !is_alpha(s[i])) return std::nullopt;
  while (i < s.size() && (is_alpha(s[i]) || is_digit(s[i]))) ++i;
  std::string_view key = s.substr(key_start, i - key_start);
  while (i < s.size() && is_re_space(s[i])) ++i;
  if (i >= s.size() || s[i] != '=') return std::nullopt;
  ++i;
  while (i < s.size() && is_re_space(s[i])) ++i;
  size_t e = s.size();
  while (e > i && is_re_space(s[e - 1])) --e;
  if (e == i) return std::nullopt;
  return std::make_pair(key, s.substr(i, e - i));
}

// ---- flags ------------------------------------------------------------------------------

// docker's extractBuilderFlags: the leading `--name[=value]` words (quotes removed, '\'
// escapes applied, stored without "--"), and the rest of the line. A lone `--` ends them.
std::string_view extract_flags(std::string_view line, std::vector<std::string>& flags) {
  size_t pos = 0;
  for (;;) {
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos >= line.size()) return {};
    if (line.substr(pos, 2) != "--") return line.substr(pos);
    std::string word;
    bool blank_ok = false;
    char quote = 0;
    size_t i = pos;
    for (; i < line.size(); ++i) {
      char c = line[i];
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
          continue;
        }
        if (c == '\\') {
          if (i + 1 == line.size()) continue;  // a '\' at the end is dropped
          c = line[++i];
        }
        word += c;
        continue;
      }
      if (is_space(c)) break;
      if (c == '\'' || c == '"') {
        quote = c;
        blank_ok = true;
        continue;
      }
      if (c == '\\') {
        if (i + 1 == line.size()) continue;
        c = line[++i];
      }
      word += c;
    }
    if (word == "--") return i >= line.size() ? std::string_view{} : line.substr(i);
    if (blank_ok || !word.empty()) flags.push_back(word.substr(2));
    if (i >= line.size()) return {};
    pos = i;
  }
}

enum class FlagKind { kBool, kString, kStrings };
struct FlagSpec {
  std::string_view name;
  FlagKind kind;
};

constexpr FlagSpec kFromFlags[] = {{"platform", FlagKind::kString}};
constexpr FlagSpec kRunFlags[] = {
    {"mount", FlagKind::kStrings}, {"network", FlagKind::kString}, {"security", FlagKind::kString}};
constexpr FlagSpec kCopyFlags[] = {{"from", FlagKind::kString},  {"chown", FlagKind::kString},
                                   {"chmod", FlagKind::kString}, {"link", FlagKind::kBool},
                                   {"parents", FlagKind::kBool}, {"exclude", FlagKind::kStrings}};
constexpr FlagSpec kAddFlags[] = {
    {"chown", FlagKind::kString},      {"chmod", FlagKind::kString},
    {"link", FlagKind::kBool},         {"checksum", FlagKind::kString},
    {"keep-git-dir", FlagKind::kBool}, {"exclude", FlagKind::kStrings}};
constexpr FlagSpec kHealthFlags[] = {{"interval", FlagKind::kString},
                                     {"timeout", FlagKind::kString},
                                     {"start-period", FlagKind::kString},
                                     {"start-interval", FlagKind::kString},
                                     {"retries", FlagKind::kString}};

std::span<const FlagSpec> flag_specs(std::string_view keyword) {
  if (keyword == "FROM") return kFromFlags;
  if (keyword == "RUN") return kRunFlags;
  if (keyword == "COPY") return kCopyFlags;
  if (keyword == "ADD") return kAddFlags;
  if (keyword == "HEALTHCHECK") return kHealthFlags;
  return {};
}

// docker's BFlags.Parse: known names only, no repeats except list flags, a value where one
// is needed, and true/false (or nothing) for a boolean.
Status check_flags(std::string_view keyword, const std::vector<std::string>& flags) {
  auto specs = flag_specs(keyword);
  std::vector<std::string_view> used;
  for (const auto& f : flags) {
    size_t eq = f.find('=');
    std::string_view name = std::string_view(f).substr(0, eq);
    const FlagSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (spec == nullptr) return bad("unknown flag: --" + shown(name));
    bool seen = std::find(used.begin(), used.end(), name) != used.end();
    if (seen && spec->kind != FlagKind::kStrings)
      return bad("duplicate flag specified: --" + shown(name));
    used.push_back(name);
    std::string_view value =
        eq == std::string::npos ? std::string_view{} : std::string_view(f).substr(eq + 1);
    if (spec->kind == FlagKind::kBool) {
      if (eq != std::string::npos && value.empty())
        return bad("missing a value on flag: --" + shown(name));
      std::string v = ascii_lower(value);
      if (!v.empty() && v != "true" && v != "false")
        return bad("expecting boolean value for flag --" + shown(name) + ", not: " + shown(value));
    } else if (eq == std::string::npos) {
      return bad("missing a value on flag: --" + shown(name));
    }
  }
  return ok();
}

// ---- argument forms ---------------------------------------------------------------------

// Reads a JSON document's top-level array of strings with SAX events: no tree is built, so
// deep nesting costs neither recursion nor a deep destructor.
class StringArraySax {
 public:
  using json = nlohmann::json;
  std::vector<std::string> items;
  bool only_strings = true;
  bool failed = false;

  bool null() { return scalar(); }
  bool boolean(bool) { return scalar(); }
  bool number_integer(json::number_integer_t) { return scalar(); }
  bool number_unsigned(json::number_unsigned_t) { return scalar(); }
  bool number_float(json::number_float_t, const std::string&) { return scalar(); }
  bool string(std::string& s) {
    if (depth_ == 1) items.push_back(std::move(s));
    if (depth_ == 0) only_strings = false;
    return true;
  }
  bool binary(json::binary_t&) { return scalar(); }
  bool start_object(std::size_t) { return open(); }
  bool key(std::string&) { return true; }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    failed = true;
    return false;
  }

 private:
  bool scalar() {
    if (depth_ <= 1) only_strings = false;
    return true;
  }
  bool open() {
    if (depth_ == 1) only_strings = false;
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
};

enum class JsonForm { kNotJson, kStrings, kNotStrings };

// docker's parseJSON: a JSON array of strings (kStrings), valid JSON holding something else
// (kNotStrings, an error), or not JSON at all (the shell form).
JsonForm parse_json_array(std::string_view rest, std::vector<std::string>& out) {
  rest = trim_left(rest);
  if (rest.empty() || rest.front() != '[') return JsonForm::kNotJson;
  StringArraySax sax;
  try {
    bool ok = nlohmann::json::sax_parse(rest.begin(), rest.end(), &sax,
                                        nlohmann::json::input_format_t::json, true, false);
    if (!ok || sax.failed) return JsonForm::kNotJson;
  } catch (const std::exception&) {
    return JsonForm::kNotJson;
  }
  if (!sax.only_strings) return JsonForm::kNotStrings;
  out = std::move(sax.items);
  return JsonForm::kStrings;
}

// docker's reWhitespace.Split of a trimmed string.
std::vector<std::string> split_words(std::string_view rest) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && is_separator(rest[i])) ++i;
    size_t start = i;
    while (i < rest.size() && !is_separator(rest[i])) ++i;
    if (i > start) out.emplace_back(rest.substr(start, i - start));
  }
  return out;
}

// The JSON array when `rest` is one of strings (exec form: json = true); a JSON array of
// other things is docker's error; anything else is handed to shell_form.
template <class F>
Status json_or(Instruction& in, std::string_view rest, F shell_form) {
  switch (parse_json_array(rest, in.args)) {
    case JsonForm::kStrings:
      in.json = true;
      return ok();
    case JsonForm::kNotStrings:
      return bad(std::string(kNotStringsMessage));
    case JsonForm::kNotJson:
      break;
  }
  shell_form();
  return ok();
}

// parseMaybeJSON (RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD): the JSON array, else the
// whole rest as one shell-form argument.
Status maybe_json(Instruction& in, std::string_view rest) {
  if (rest.empty()) return ok();
  return json_or(in, rest, [&] { in.args.emplace_back(rest); });
}

// parseMaybeJSONToList (COPY, ADD, VOLUME): the JSON array, else whitespace-split words.
Status maybe_json_list(Instruction& in, std::string_view rest) {
  return json_or(in, rest, [&] { in.args = split_words(rest); });
}

// docker's parseWords (ENV, LABEL, ARG): words split at blanks outside quotes; the quotes
// and escape characters stay in the word (the expansion removes them later). An escape
// character escapes anything but inside single quotes; one at the very end is dropped.
std::vector<std::string> parse_words(std::string_view rest, char escape) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  bool in_quote = false;
  bool blank_ok = false;
  char quote = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (in_quote) {
      if (c == quote) in_quote = false;
      if (c == escape && quote != '\'') {
        if (i + 1 == rest.size()) {
          in_quote = false;
          continue;
        }
        word += c;
        c = rest[++i];
      }
      word += c;
      continue;
    }
    if (!in_word) {
      if (is_space(c)) continue;
      in_word = true;
    }
    if (is_space(c)) {
      if (blank_ok || !word.empty()) words.push_back(std::move(word));
      word.clear();
      blank_ok = false;
      in_word = false;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      blank_ok = true;
      in_quote = true;
    }
    if (c == escape) {
      if (i + 1 == rest.size()) continue;
      word += c;
      c = rest[++i];
    }
    word += c;
  }
  if (in_word && (blank_ok || !word.empty())) words.push_back(std::move(word));
  return words;
}

// docker's parseNameVal (ENV, LABEL): `name=value ...`, or the legacy `name value...` when
// the first word has no '=' (the value is the raw rest of the line).
Status name_values(Instruction& in, std::string_view rest, char escape) {
  auto words = parse_words(rest, escape);
  if (words.empty()) return ok();
  if (words[0].find('=') == std::string::npos) {
    size_t sep = 0;
    while (sep < rest.size() && !is_separator(rest[sep])) ++sep;
    size_t value = sep;
    while (value < rest.size() && is_separator(rest[value])) ++value;
    if (value >= rest.size()) return bad(in.keyword + " must have two arguments");
    in.kv.emplace_back(std::string(rest.substr(0, sep)), std::string(rest.substr(value)));
    return ok();
  }
  for (auto& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos)
      return bad("Syntax error - can't find = in " + shown(w, true) +
                 ". Must be of the form: name=value");
    in.kv.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return ok();
}

// ---- heredocs ---------------------------------------------------------------------------

struct HeredocStart {
  Heredoc doc;
  bool chomp = false;  // <<- : leading tabs stripped
};

// A heredoc delimiter word unquoted as docker's shell lexer does: '...' literal, "..." where
// the escape escapes '"', '$' and itself, '\' outside quotes escapes anything. quoted: a
// quote was used (docker then does not expand the body).
std::string unquote_delimiter(std::string_view s, bool& quoted) {
  std::string out;
  quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'' || c == '"') {
      quoted = true;
      for (++i; i < s.size() && s[i] != c; ++i) {
        bool escaped = c == '"' && s[i] == '\\' && i + 1 < s.size() &&
                       (s[i + 1] == '"' || s[i + 1] == '$' || s[i + 1] == '\\');
        if (escaped) ++i;
        out += s[i];
      }
      continue;
    }
    if (c == '\\' && i + 1 < s.size()) c = s[++i];
    out += c;
  }
  return out;
}

// A word of the form `[fd]<<[-]NAME` (NAME without '<'), as docker's reHeredoc.
std::optional<HeredocStart> heredoc_word(std::string_view w) {
  size_t i = 0;
  while (i < w.size() && is_digit(w[i])) ++i;
  if (w.substr(i, 2) != "<<") return std::nullopt;
  i += 2;
  HeredocStart h;
  if (i < w.size() && w[i] == '-') {
    h.chomp = true;
    ++i;
  }
  std::string_view rest = w.substr(i);
  if (rest.empty() || rest.find('<') != std::string_view::npos) return std::nullopt;
  bool quoted = false;
  h.doc.name = unquote_delimiter(rest, quoted);
  h.doc.expand = !quoted;
  if (h.doc.name.empty()) return std::nullopt;  // an empty delimiter could never be told apart
  return h;
}

// The line's words as docker's lexer splits them with raw quotes and escapes: at blanks
// outside quotes, the quotes and escapes kept.
std::vector<std::string_view> raw_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    size_t start = i;
    char quote = 0;
    for (; i < line.size(); ++i) {
      char c = line[i];
      if (quote != 0) {
        if (c == quote)
          quote = 0;
        else if (quote == '"' && c == '\\' && i + 1 < line.size())
          ++i;
        continue;
      }
      if (is_space(c)) break;
      if (c == '\'' || c == '"')
        quote = c;
      else if (c == '\\' && i + 1 < line.size())
        ++i;
    }
    words.push_back(line.substr(start, i - start));
  }
  return words;
}

// The heredocs an instruction opens: RUN, COPY and ADD (also under ONBUILD), shell form.
std::vector<HeredocStart> heredocs_opened(const Instruction& in) {
  const Instruction& target = in.keyword == "ONBUILD" && !in.sub.empty() ? in.sub[0] : in;
  bool capable = target.keyword == "RUN" || target.keyword == "COPY" || target.keyword == "ADD";
  std::vector<HeredocStart> out;
  if (!capable || target.json || in.original.find("<<") == std::string::npos) return out;
  for (auto w : raw_words(in.original))
    if (auto h = heredoc_word(w)) out.push_back(std::move(*h));
  return out;
}

// ---- instructions -----------------------------------------------------------------------

Status exactly_one(Instruction& in, std::string_view rest) {
  if (rest.empty()) return bad(in.keyword + " requires exactly one argument");
  in.args.emplace_back(rest);
  return ok();
}

Status copy_args(Instruction& in, std::string_view rest) {
  TRY(maybe_json_list(in, rest));
  if (in.args.size() < 2)
    return bad(in.keyword +
               " requires at least two arguments, but only one was provided. Destination "
               "could not be determined");
  if (heredoc_word(in.args.back()))
    return bad(in.keyword + " cannot accept a heredoc as a destination");
  return ok();
}

Status volume_args(Instruction& in, std::string_view rest) {
  TRY(maybe_json_list(in, rest));
  if (in.args.empty()) return bad("VOLUME requires at least one argument");
  for (const auto& v : in.args)
    if (trim_space(v).empty()) return bad("VOLUME specified can not be an empty string");
  return ok();
}

Status shell_args(Instruction& in, std::string_view rest) {
  TRY(maybe_json(in, rest));
  if (in.args.empty()) return bad("SHELL requires at least one argument");
  if (!in.json) return bad("SHELL requires the arguments to be in JSON form");
  return ok();
}

Status env_args(Instruction& in, std::string_view rest, char escape) {
  TRY(name_values(in, rest, escape));
  if (in.kv.empty()) return bad(in.keyword + " requires at least one argument");
  for (const auto& [name, value] : in.kv)
    if (name.empty()) return bad(in.keyword + " names can not be blank");
  return ok();
}

Status arg_args(Instruction& in, std::string_view rest, char escape) {
  in.args = parse_words(rest, escape);
  if (in.args.empty()) return bad("ARG requires at least one argument");
  for (const auto& a : in.args)
    if (a.empty() || a.front() == '=') return bad("ARG names can not be blank");
  return ok();
}

// FROM image [AS name]: the stage name as docker allows it, `^[a-z][a-z0-9-_.]*$` once
// lower-cased.
Status from_args(Instruction& in, std::string_view rest) {
  in.args = split_words(rest);
  bool named = in.args.size() == 3 && ascii_upper(in.args[1]) == "AS";
  if (!named && in.args.size() != 1) return bad("FROM requires either one or three arguments");
  if (!named) return ok();
  std::string name = ascii_lower(in.args[2]);
  bool valid = is_alpha(name[0]);
  for (char c : name)
    valid = valid && (is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.');
  if (!valid)
    return bad("invalid name for build stage: " + shown(in.args[2], true) +
               ", name can't start with a number or contain symbols");
  return ok();
}

Status retries_flag(const Instruction& in) {
  for (const auto& f : in.flags) {
    if (!starts_with(f, "retries=")) continue;
    std::string_view v = std::string_view(f).substr(8);
    if (v.empty()) continue;
    auto n = parse_int(v);
    if (!n || *n > INT32_MAX || *n < INT32_MIN)
      return bad("invalid value for --retries: " + shown(v, true));
    if (*n < 0) return bad("--retries cannot be negative (" + std::to_string(*n) + ")");
  }
  return ok();
}

// HEALTHCHECK NONE | HEALTHCHECK [flags] CMD command (JSON or shell form).
Status healthcheck_args(Instruction& in, std::string_view rest) {
  size_t sep = 0;
  while (sep < rest.size() && !is_space(rest[sep])) ++sep;
  if (sep == 0) return bad("HEALTHCHECK requires at least one argument");
  size_t next = sep;
  while (next < rest.size() && is_space(rest[next])) ++next;
  std::string type = ascii_upper(rest.substr(0, sep));
  TRY(maybe_json(in, rest.substr(next)));
  if (type == "NONE") {
    if (!in.args.empty()) return bad("HEALTHCHECK NONE takes no arguments");
    in.json = false;
    in.args = {"NONE"};
    return ok();
  }
  if (type != "CMD") return bad("Unknown type " + shown(type, true) + " in HEALTHCHECK (try CMD)");
  if (in.args.empty()) return bad("Missing command after HEALTHCHECK CMD");
  return retries_flag(in);
}

Result<Instruction> parse_instruction(std::string_view text, char escape, bool nested);

// ONBUILD <instruction>: the trigger parsed into `sub`, its text (what docker stores in the
// image's OnBuild list) in args[0].
Status onbuild_args(Instruction& in, std::string_view rest, char escape, bool nested) {
  if (rest.empty()) return bad("ONBUILD requires at least one argument");
  size_t k = 0;
  while (k < rest.size() && !is_separator(rest[k])) ++k;
  std::string trigger = ascii_upper(rest.substr(0, k));
  if (nested || trigger == "ONBUILD" || trigger == "FROM" || trigger == "MAINTAINER")
    return bad("ONBUILD " + shown(trigger) + " is not allowed");
  auto sub = parse_instruction(rest, escape, true);
  if (!sub) return std::move(sub).error();
  in.sub.push_back(std::move(sub).value());
  // docker strips `(?i)^\s*ONBUILD\s*` from the original text.
  std::string_view expr = trim_left(in.original).substr(7);
  in.args.emplace_back(trim_left(expr));
  return ok();
}

Status parse_args(Instruction& in, std::string_view rest, char escape, bool nested) {
  const std::string& k = in.keyword;
  if (k == "ADD" || k == "COPY") return copy_args(in, rest);
  if (k == "VOLUME") return volume_args(in, rest);
  if (k == "RUN" || k == "CMD" || k == "ENTRYPOINT") return maybe_json(in, rest);
  if (k == "SHELL") return shell_args(in, rest);
  if (k == "ENV" || k == "LABEL") return env_args(in, rest, escape);
  if (k == "ARG") return arg_args(in, rest, escape);
  if (k == "FROM") return from_args(in, rest);
  if (k == "EXPOSE") {
    in.args = split_words(rest);
    return in.args.empty() ? Status(bad("EXPOSE requires at least one argument")) : ok();
  }
  if (k == "HEALTHCHECK") return healthcheck_args(in, rest);
  if (k == "ONBUILD") return onbuild_args(in, rest, escape, nested);
  return exactly_one(in, rest);  // MAINTAINER, STOPSIGNAL, USER, WORKDIR
}

// One instruction's text (continuations joined): keyword, flags, arguments. Errors are
// the bare message; the caller names the line.
Result<Instruction> parse_instruction(std::string_view text, char escape, bool nested) {
  std::string_view t = trim_space(text);
  size_t k = 0;
  while (k < t.size() && !is_separator(t[k])) ++k;
  std::string_view word = t.substr(0, k);
  Instruction in;
  in.keyword = ascii_upper(word);
  in.original = std::string(text);
  if (!is_known_instruction(in.keyword))
    return bad("unknown instruction: " + (word.empty() ? "\"\"" : shown(word)));
  std::string_view rest = trim_space(extract_flags(t.substr(k), in.flags));
  TRY(parse_args(in, rest, escape, nested));
  TRY(check_flags(in.keyword, in.flags));
  return in;
}

// ---- the file ---------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view text, std::string_view name) : lines_(text), name_(name) {}
  Result<Dockerfile> run();

 private:
  Error at(int line, std::string_view msg) const {
    return bad(std::string(name_) + " line " + std::to_string(line) + ": " + std::string(msg));
  }
  Status directive(std::string_view line);
  Result<bool> next_text(std::string& text, int& start);
  Status read_heredocs(Instruction& in, int start);
  Status check_order(const Instruction& in);

  Lines lines_;
  std::string_view name_;
  Dockerfile df_;
  bool directives_done_ = false;
  std::vector<std::string> directives_seen_;
  bool seen_from_ = false;
};

// docker's possibleParserDirective: directives are looked for until the first line that
// is not one (an instruction, a comment, an empty line); each may appear once.
Status Parser::directive(std::string_view line) {
  if (directives_done_) return ok();
  auto m = match_directive(line);
  std::string key = m ? ascii_lower(m->first) : std::string();
  if (key != "escape" && key != "syntax" && key != "check") {
    directives_done_ = true;
    return ok();
  }
  int n = lines_.number();
  if (std::find(directives_seen_.begin(), directives_seen_.end(), key) != directives_seen_.end())
    return at(n, "only one " + key + " parser directive can be used");
  directives_seen_.push_back(key);
  std::string_view value = m->second;
  if (key == "syntax") df_.syntax = std::string(value);
  if (key != "escape") return ok();
  if (value != "\\" && value != "`")
    return at(n, "invalid escape token '" + shown(value) + "' does not match ` or \\");
  df_.escape = value[0];
  return ok();
}

// The next instruction's text, continuation lines joined (comment and empty lines inside
// skipped); false at the end of the file.
Result<bool> Parser::next_text(std::string& text, int& start) {
  std::string_view raw;
  while (lines_.next(raw)) {
    if (lines_.number() == 1 && starts_with(raw, kBom)) raw.remove_prefix(kBom.size());
    start = lines_.number();
    bool comment = is_comment(raw);
    std::string_view first = trim_left(trim_newline(raw));
    TRY(directive(first));
    if (comment) first = {};
    bool more = trim_continuation(first, df_.escape);
    if (!more && first.empty()) continue;
    text.assign(first);
    while (more && lines_.next(raw)) {
      std::string_view piece = trim_newline(raw);
      if (is_comment(raw) || trim_left(piece).empty()) continue;
      more = trim_continuation(piece, df_.escape);
      text += piece;
    }
    return true;
  }
  return false;
}

// Reads the bodies of the heredocs the instruction opened, in order, from the lines after it.
Status Parser::read_heredocs(Instruction& in, int start) {
  auto opened = heredocs_opened(in);
  if (opened.empty()) return ok();
  Instruction& target = in.keyword == "ONBUILD" ? in.sub[0] : in;
  for (auto& h : opened) {
    bool terminated = false;
    std::string_view raw;
    while (lines_.next(raw)) {
      std::string_view body = trim_newline(raw);
      if (h.chomp) body = trim_tabs(body);
      if (body == h.doc.name) {
        terminated = true;
        break;
      }
      h.doc.content.append(body);
      h.doc.content += '\n';
    }
    if (!terminated) return at(start, "unterminated heredoc <<" + shown(h.doc.name));
    target.heredocs.push_back(std::move(h.doc));
  }
  if (in.keyword == "ONBUILD") {
    // docker's OnBuild text carries the bodies: "\n" + content + delimiter, each.
    for (const auto& d : target.heredocs) in.args[0] += "\n" + d.content + d.name;
  }
  return ok();
}

// Only ARGs may come before the first FROM.
Status Parser::check_order(const Instruction& in) {
  if (seen_from_) return ok();
  if (in.keyword == "FROM") {
    seen_from_ = true;
    return ok();
  }
  if (in.keyword == "ARG") return ok();
  return at(in.line, "no FROM instruction before " + in.keyword);
}

Result<Dockerfile> Parser::run() {
  std::string text;
  int start = 0;
  for (;;) {
    bool more = TRY(next_text(text, start));
    if (!more) break;
    auto in = parse_instruction(text, df_.escape, false);
    if (!in) return at(start, in.error().message());
    in->line = start;
    TRY(read_heredocs(*in, start));
    in->end_line = lines_.number();
    for (auto& sub : in->sub) {
      sub.line = in->line;
      sub.end_line = in->end_line;
    }
    TRY(check_order(*in));
    df_.instructions.push_back(std::move(*in));
  }
  if (df_.instructions.empty()) {
    if (name_ == "Dockerfile") return bad("the Dockerfile is empty");
    return bad("the Dockerfile " + std::string(name_) + " is empty");
  }
  if (!seen_from_) return bad("no FROM instruction");
  return std::move(df_);
}

}  // namespace

Result<Dockerfile> parse_dockerfile(std::string_view text, std::string_view name) {
  return Parser(text, name).run();
}

bool is_known_instruction(std::string_view keyword_upper) {
  static constexpr std::string_view kKnown[] = {
      "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
      "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
      "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};
  for (auto k : kKnown)
    if (k == keyword_upper) return true;
  return false;
}

}  // namespace berth::build
