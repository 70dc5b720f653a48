// format.h - how berth's listing and inspect commands print, the way docker's CLI does:
// docker's human durations and sizes, Go's tabwriter (the aligned tables of `images`, `ps`,
// `history`), docker's JSON, the `--format` Go templates (field substitution only), and the
// JSON docker shows for an image. Container commands (ps, inspect) reuse all of it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "image/config.h"
#include "storage/db.h"

namespace berth::cli {

// Docker writes struct fields in declaration order, so keys keep insertion order.
using Json = nlohmann::ordered_json;

// ---- Go's nil slices and maps ----------------------------------------------------------
// docker's structs hold nil slices and maps: JSON null, but Go's fmt (what a template like
// {{.Config.Entrypoint}} prints) shows them as "[]" and "map[]". These two values carry that
// difference: docker_json() writes both as null, go_print() as Go's fmt would.
Json nil_slice();
Json nil_map();

// ---- durations, sizes, times -----------------------------------------------------------
// docker's units.HumanDuration: "Less than a second", "About a minute", "3 hours",
// "2 weeks", "5 years".
std::string human_duration(int64_t seconds);
// "2 weeks ago", as `images` and `history` show an image's age; "N/A" when unknown
// (created < 0).
std::string created_since(int64_t created_unix, int64_t now_unix);
// docker's units.HumanSizeWithPrecision: decimal units, precision significant digits.
// `images` uses 3 ("77.8MB"), `system df` and prune totals 4 (units.HumanSize: "16.43MB").
std::string human_size(int64_t bytes, int precision);
// Go's time.Time.String() in the local zone: "2024-05-01 10:00:00 +0000 UTC".
std::string go_time_string(int64_t unix);
// RFC 3339 in the local zone, as Go's time.RFC3339 writes it: "2024-05-01T12:00:00+02:00",
// "...Z" in UTC.
std::string rfc3339_local(int64_t unix);
// "0001-01-01T00:00:00Z" (Go's zero time) for 0, else RFC 3339 UTC.
std::string go_time_rfc3339(int64_t unix);
// Characters (UTF-8 code points) in s: what the tabwriter aligns on.
size_t display_width(std::string_view s);
// docker's Ellipsis: at most max characters, the last one "…" when s was cut.
std::string ellipsis(std::string_view s, size_t max);
// Go's path.Match, as docker's reference filter uses it: '*' and '?' never match '/',
// [a-z] and [^...] classes, '\' escapes. A malformed pattern matches nothing.
bool path_match(std::string_view pattern, std::string_view name);
// docker's stringid.TruncateID: "sha256:1a2b..." -> "1a2b3c4d5e6f".
std::string short_id(std::string_view id);

// ---- JSON --------------------------------------------------------------------------------
// JSON as Go's encoding/json writes it: compact (indent < 0) or indented by that many spaces,
// <, > and & escaped as \u003c... when escape_html (docker's API output, inspect), not when
// false (the templates' json function), invalid UTF-8 replaced, nil_slice/nil_map as null.
std::string docker_json(const Json& v, int indent = -1, bool escape_html = true);
// Go's fmt.Sprint of a JSON value: strings bare, arrays "[a b]", objects "map[k:v]" (keys
// sorted), null "<nil>".
std::string go_print(const Json& v);

// ---- Go's text/tabwriter -----------------------------------------------------------------
// Cells end with '\t'; a column is as wide as its widest cell plus padding (at least
// min_width); the last cell of a line is not padded. docker uses min_width 10, padding 3.
class TabWriter {
 public:
  explicit TabWriter(size_t min_width = 10, size_t padding = 3)
      : min_width_(min_width), padding_(padding) {}
  // Text with '\t' between cells and '\n' between lines, written as is otherwise.
  void write(std::string_view text) { text_ += text; }
  std::string flush();

 private:
  size_t min_width_, padding_;
  std::string text_;
};

// ---- Go templates (the {{.Field}} subset) -------------------------------------------------
// Literal text and actions: {{.}}, {{.A.B}}, {{json .A}}, {{index .A "key"}},
// {{join .A ","}}, {{upper .A}}, {{lower .A}}, with {{- and -}} trimming spaces. Anything
// else ({{range}}, {{if}}, pipes, variables) is refused when parsed, with the action named.
// Like docker, the two-character sequences \t and \n in the text are a tab and a newline.
class Template {
 public:
  static Result<Template> parse(std::string_view text);
  // missing_is_error: a field the data lacks is an error (docker's typed contexts: images,
  // history); else it prints "<no value>" (inspect's raw JSON). row_marshals: the data is a
  // row of a listing, which docker turns into JSON itself (a json.Marshaler), so {{json .}}
  // escapes <, > and & as the API does ("\u003cnone\u003e"); other values are not escaped.
  Result<std::string> render(const Json& data, bool missing_is_error = true,
                             bool row_marshals = false) const;
  // A table's header line: each field (or function of a field) replaced by titles[field].
  std::string render_header(const Json& titles) const;

  struct Node {
    enum Kind { literal, field, call } kind = literal;
    std::string text;               // literal: the text
    std::string fn;                 // call: the function's name
    std::vector<std::string> path;  // field (or the call's field argument): A, B for .A.B
    std::vector<std::string> args;  // call: the arguments after the field
    std::string source;             // the action as written, for errors
  };

 private:
  std::vector<Node> nodes_;
};

// The --format option of a listing command, docker's way: "" or "table" -> the default
// table; "table TEMPLATE" -> a table of that template; "json" -> one JSON object per line;
// anything else -> TEMPLATE applied to each row, one line each.
class RowPrinter {
 public:
  // default_table: the columns, e.g. "{{.Repository}}\t{{.Tag}}"; headers: each field's
  // column title ({"Repository": "REPOSITORY", ...}).
  static Result<RowPrinter> make(std::string_view format, std::string_view default_table,
                                 const Json& headers);
  bool is_table() const { return table_; }
  Status add(const Json& row);
  // The whole output: a table's header and aligned rows, else the rendered lines.
  std::string finish();

 private:
  Template tmpl_;
  bool table_ = false;
  std::string out_;
};

// ---- docker's JSON for an image -----------------------------------------------------------
struct ImageView {
  const storage::ImageRecord* record = nullptr;
  const image::ImageConfig* config = nullptr;
  std::vector<std::string> layer_dirs;  // bottom first: ROOT/layers/<hex>
  int64_t last_tag_time = 0;            // unix seconds; 0: never tagged by `tag`
};
// `image inspect`'s object: Id, RepoTags, RepoDigests, Parent, Comment, Created, ...,
// Metadata, in docker's order. Nil slices and maps are nil_slice()/nil_map().
Json image_inspect_json(const ImageView& v);

// Familiar form of a stored name ("docker.io/library/ubuntu:22.04" -> "ubuntu:22.04");
// the name itself when it does not parse.
std::string familiar(std::string_view full_name);

}  // namespace berth::cli
