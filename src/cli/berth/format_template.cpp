// The --format Go templates of format.h: parse into text and field nodes, render against JSON.
#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "cli/berth/format.h"

namespace berth::cli {

namespace {

constexpr std::string_view kSupported =
    "berth's templates substitute fields only: {{.Field}}, {{.A.B}}, {{json .Field}}, "
    "{{index .Field \"key\"}}, {{join .Field \",\"}}, {{upper .Field}}, {{lower .Field}}";

Error template_error(std::string what) {
  return Error::invalid("template parsing error: " + std::move(what));
}

// docker replaces the two-character sequences \t and \n before parsing: shells pass them
// through single quotes literally.
std::string unescape_format(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 't' || s[i + 1] == 'n')) {
      out += s[i + 1] == 't' ? '\t' : '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Where the action opened at `open` ends ("}}" outside quoted strings); npos if never.
size_t action_end(std::string_view s, size_t open) {
  char quote = 0;
  for (size_t i = open + 2; i + 1 < s.size() + 1; ++i) {
    char c = s[i];
    if (quote) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '`') {
      quote = c;
    } else if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
      return i;
    }
  }
  return std::string_view::npos;
}

struct Token {
  std::string text;
  bool quoted = false;
};

// Splits an action's words; quoted strings ("...", `...`) become one token without quotes.
Result<std::vector<Token>> tokenize(std::string_view a, const std::string& source) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < a.size()) {
    if (std::isspace(static_cast<unsigned char>(a[i]))) {
      ++i;
      continue;
    }
    Token t;
    if (a[i] == '"' || a[i] == '`') {
      char q = a[i++];
      t.quoted = true;
      while (i < a.size() && a[i] != q) {
        if (q == '"' && a[i] == '\\' && i + 1 < a.size()) {
          char e = a[++i];
          t.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          t.text += a[i];
        }
        ++i;
      }
      if (i >= a.size()) return template_error("unterminated quoted string in " + source);
      ++i;
    } else {
      while (i < a.size() && !std::isspace(static_cast<unsigned char>(a[i]))) t.text += a[i++];
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// ".A.B" -> {A, B}; "." -> {}.
Result<std::vector<std::string>> field_path(const Token& t, const std::string& source) {
  if (t.quoted || t.text.empty() || t.text[0] != '.')
    return template_error("unsupported action " + source + ": " + std::string(kSupported));
  std::vector<std::string> path;
  if (t.text == ".") return path;
  for (auto& part : split(std::string_view(t.text).substr(1), '.')) {
    if (!is_identifier(part)) return template_error("bad field \"" + t.text + "\" in " + source);
    path.emplace_back(part);
  }
  return path;
}

Result<Template::Node> parse_action(std::string_view inner, const std::string& source) {
  std::vector<Token> toks = TRY(tokenize(inner, source));
  if (toks.empty()) return template_error("missing value for command in " + source);
  Template::Node n;
  n.source = source;
  if (!toks[0].quoted && toks[0].text.starts_with(".")) {
    if (toks.size() != 1)
      return template_error("unsupported action " + source + ": " + std::string(kSupported));
    n.kind = Template::Node::field;
    n.path = TRY(field_path(toks[0], source));
    return n;
  }
  static const std::vector<std::string> kFuncs = {"json", "index", "join", "upper", "lower"};
  const std::string& fn = toks[0].text;
  if (toks[0].quoted || std::find(kFuncs.begin(), kFuncs.end(), fn) == kFuncs.end())
    return template_error("unsupported action " + source + ": " + std::string(kSupported));
  size_t want = fn == "index" || fn == "join" ? 3 : 2;
  if (toks.size() != want)
    return template_error("wrong number of args for " + fn + " in " + source + ": want " +
                          std::to_string(want - 1) + " got " + std::to_string(toks.size() - 1));
  n.kind = Template::Node::call;
  n.fn = fn;
  n.path = TRY(field_path(toks[1], source));
  if (want == 3) {
    // index takes a quoted key or a number; join a quoted separator.
    bool number = !toks[2].quoted && parse_int(toks[2].text).has_value();
    if (!toks[2].quoted && !(fn == "index" && number))
      return template_error("unsupported argument \"" + toks[2].text + "\" in " + source);
    n.args.push_back((number ? "#" : "") + toks[2].text);  // '#': an index into a list
  }
  return n;
}

// Adds a text node, then applies a pending "-}}" trim to it.
void add_text(std::vector<Template::Node>& nodes, std::string text, bool trim_left) {
  if (trim_left) {
    size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    text.erase(0, i);
  }
  if (text.empty()) return;
  Template::Node n;
  n.text = std::move(text);
  nodes.push_back(std::move(n));
}

}  // namespace

Result<Template> Template::parse(std::string_view text_in) {
  std::string s = unescape_format(text_in);
  Template t;
  size_t pos = 0;
  bool trim_next = false;
  while (pos <= s.size()) {
    size_t open = s.find("{{", pos);
    std::string text = s.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    if (open == std::string::npos) {
      add_text(t.nodes_, std::move(text), trim_next);
      break;
    }
    size_t close = action_end(s, open);
    if (close == std::string::npos) return template_error("unclosed action in \"" + s + "\"");
    std::string_view inner = std::string_view(s).substr(open + 2, close - open - 2);
    std::string source = "{{" + std::string(inner) + "}}";
    // "{{- " trims the spaces before the action, " -}}" those after it.
    if (inner.starts_with("- ") || inner == "-") {
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.pop_back();
      inner.remove_prefix(1);
    }
    bool trim_after = inner.ends_with(" -");
    if (trim_after) inner.remove_suffix(1);
    add_text(t.nodes_, std::move(text), trim_next);
    trim_next = trim_after;
    t.nodes_.push_back(TRY(parse_action(inner, source)));
    pos = close + 2;
  }
  return t;
}

namespace {

// The value at path under data; nullptr when a key is missing (missing_is_error: an error).
Result<const Json*> lookup(const Json& data, const std::vector<std::string>& path,
                           const std::string& source, bool missing_is_error) {
  const Json* v = &data;
  for (const auto& key : path) {
    if (!v->is_object()) {
      return Error::invalid("template: executing " + source + ": can't evaluate field " + key +
                            " in type " + std::string(v->is_array() ? "slice" : v->type_name()));
    }
    auto it = v->find(key);
    if (it == v->end()) {
      if (missing_is_error)
        return Error::invalid("template: executing " + source + ": can't evaluate field " + key);
      return nullptr;
    }
    v = &*it;
  }
  return v;
}

Result<std::string> call(const Template::Node& n, const Json* v, bool row_marshals) {
  static const Json kNull;
  const Json& x = v ? *v : kNull;
  if (n.fn == "json") return docker_json(x, -1, /*escape_html=*/row_marshals && n.path.empty());
  if (n.fn == "upper" || n.fn == "lower") {
    std::string s = v ? go_print(x) : "<no value>";
    for (char& c : s)
      c = n.fn == "upper" ? static_cast<char>(std::toupper(c)) : static_cast<char>(std::tolower(c));
    return s;
  }
  if (n.fn == "join") {
    if (!x.is_array() && !x.is_binary() && !x.is_null())
      return Error::invalid("template: executing " + n.source + ": join needs a list");
    std::string out;
    if (x.is_array())
      for (size_t i = 0; i < x.size(); ++i) out += (i ? n.args[0] : "") + go_print(x[i]);
    return out;
  }
  // index: a map by key (a missing key is the zero value: ""), a list by position.
  const std::string& arg = n.args[0];
  if (arg.starts_with("#")) {
    int64_t i = parse_int(std::string_view(arg).substr(1)).value_or(-1);
    if (!x.is_array() || i < 0 || static_cast<size_t>(i) >= x.size())
      return Error::invalid("template: executing " + n.source +
                            ": index out of range: " + arg.substr(1));
    return go_print(x[static_cast<size_t>(i)]);
  }
  if (x.is_binary() || x.is_null()) return std::string();
  if (!x.is_object())
    return Error::invalid("template: executing " + n.source + ": can't index item of type " +
                          std::string(x.is_array() ? "slice" : x.type_name()));
  auto it = x.find(arg);
  return it == x.end() ? std::string() : go_print(*it);
}

}  // namespace

Result<std::string> Template::render(const Json& data, bool missing_is_error,
                                     bool row_marshals) const {
  std::string out;
  for (const auto& n : nodes_) {
    if (n.kind == Node::literal) {
      out += n.text;
      continue;
    }
    const Json* v = TRY(lookup(data, n.path, n.source, missing_is_error));
    if (n.kind == Node::field) {
      out += v ? go_print(*v) : "<no value>";
    } else {
      out += TRY(call(n, v, row_marshals));
    }
  }
  return out;
}

std::string Template::render_header(const Json& titles) const {
  std::string out;
  for (const auto& n : nodes_) {
    if (n.kind == Node::literal) {
      out += n.text;
      continue;
    }
    // A field without a title is shown by its name in capitals ({{.}}: nothing).
    std::string key = n.path.empty() ? "" : n.path.front();
    auto it = titles.find(key);
    if (it != titles.end() && it->is_string()) {
      out += it->get<std::string>();
    } else {
      for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

// ---- RowPrinter ------------------------------------------------------------------------------

Result<RowPrinter> RowPrinter::make(std::string_view format, std::string_view default_table,
                                    const Json& headers) {
  RowPrinter p;
  std::string f(trim(format));
  if (f.empty()) f = "table";
  if (f == "json") {
    f = "{{json .}}";
  } else if (f.starts_with("table")) {
    p.table_ = true;
    f = std::string(trim(std::string_view(f).substr(5)));
    if (f.empty()) f = std::string(default_table);
  }
  p.tmpl_ = TRY(Template::parse(f));
  if (p.table_) {
    // The header line: the same template with each field replaced by its column title.
    p.out_ = p.tmpl_.render_header(headers) + "\n";
  }
  return p;
}

Status RowPrinter::add(const Json& row) {
  std::string line = TRY(tmpl_.render(row, /*missing_is_error=*/true, /*row_marshals=*/true));
  out_ += line + "\n";
  return ok();
}

std::string RowPrinter::finish() {
  std::string out = std::move(out_);
  out_.clear();
  if (!table_) return out;
  TabWriter tw;
  tw.write(out);
  return tw.flush();
}

}  // namespace berth::cli
