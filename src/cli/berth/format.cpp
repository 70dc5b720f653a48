#include "cli/berth/format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "image/reference.h"
#include "images/store.h"

namespace berth::cli {

namespace {

// Binary subtypes that mark docker's nil slices and maps (see nil_slice in format.h). JSON
// never has binary values, so nothing else can look like them.
constexpr uint64_t kNilSlice = 0xB0;
constexpr uint64_t kNilMap = 0xB1;

bool is_nil_marker(const Json& v, uint64_t which) {
  return v.is_binary() && v.get_binary().has_subtype() && v.get_binary().subtype() == which;
}

// A copy of v with the nil markers turned into JSON null.
Json materialize(const Json& v) {
  if (v.is_binary()) return nullptr;
  if (v.is_array()) {
    Json out = Json::array();
    for (const auto& e : v) out.push_back(materialize(e));
    return out;
  }
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = materialize(it.value());
    return out;
  }
  return v;
}

// Go's encoding/json string escapes beyond nlohmann's: U+2028 and U+2029 always (they end
// lines in JavaScript), <, > and & when escape_html. None can occur in JSON outside a
// string, so the whole text is rewritten.
std::string go_escape(std::string_view json, bool escape_html) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (escape_html && (c == '<' || c == '>' || c == '&')) {
      out += c == '<' ? "\\u003c" : c == '>' ? "\\u003e" : "\\u0026";
    } else if (c == '\xe2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xa8' || json[i + 2] == '\xa9')) {
      out += json[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string strftime_local(int64_t unix, const char* fmt, struct tm* tm_out = nullptr) {
  time_t t = static_cast<time_t>(unix);
  struct tm tm {};
  ::localtime_r(&t, &tm);
  char buf[96];
  size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  if (tm_out != nullptr) *tm_out = tm;
  return std::string(buf, n);
}

}  // namespace

Json nil_slice() {
  return Json::binary({}, kNilSlice);
}
Json nil_map() {
  return Json::binary({}, kNilMap);
}

// ---- durations, sizes, times -----------------------------------------------------------

std::string human_duration(int64_t s) {
  // go-units: thresholds on whole seconds and minutes, hours rounded to the nearest.
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  int64_t minutes = s / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  auto hours = static_cast<int64_t>(static_cast<double>(s) / 3600.0 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(s / 3600 / 24 / 365) + " years";
}

std::string created_since(int64_t created_unix, int64_t now_unix) {
  if (created_unix < 0) return "N/A";
  return human_duration(now_unix - created_unix) + " ago";
}

std::string human_size(int64_t bytes, int precision) {
  return images::human_size(bytes, precision);
}

std::string go_time_string(int64_t unix) {
  return strftime_local(unix, "%Y-%m-%d %H:%M:%S %z %Z");
}

std::string rfc3339_local(int64_t unix) {
  struct tm tm {};
  std::string s = strftime_local(unix, "%Y-%m-%dT%H:%M:%S", &tm);
  if (tm.tm_gmtoff == 0) return s + "Z";
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  off = off < 0 ? -off : off;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%c%02ld:%02ld", sign, off / 3600, (off / 60) % 60);
  return s + buf;
}

std::string go_time_rfc3339(int64_t unix) {
  return unix == 0 ? "0001-01-01T00:00:00Z" : rfc3339_local(unix);
}

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count lead bytes only
  return n;
}

std::string ellipsis(std::string_view s, size_t max) {
  if (display_width(s) <= max) return std::string(s);
  if (max == 0) return "";
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80 && ++chars == max) break;  // room for max-1 characters and "…"
    out += s[i];
  }
  return out + "…";
}

std::string short_id(std::string_view id) {
  if (id.starts_with("sha256:")) id.remove_prefix(7);
  return std::string(id.substr(0, 12));
}

bool path_match(std::string_view p, std::string_view s) {
  // Go's path.Match: '*' and '?' never match '/', [...] classes with ^ and ranges, '\' escapes.
  while (!p.empty()) {
    if (p[0] == '*') {
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      for (size_t i = 0; i <= s.size(); ++i) {
        if (path_match(p, s.substr(i))) return true;
        if (i < s.size() && s[i] == '/') return false;
      }
      return false;
    }
    if (s.empty()) return false;
    char c = s[0];
    if (p[0] == '?') {
      if (c == '/') return false;
    } else if (p[0] == '[') {
      size_t i = 1;
      bool negate = i < p.size() && p[i] == '^';
      if (negate) ++i;
      bool matched = false, any = false;
      while (i < p.size() && (p[i] != ']' || !any)) {
        any = true;
        char lo = p[i] == '\\' && i + 1 < p.size() ? p[++i] : p[i];
        char hi = lo;
        if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
          i += 2;
          hi = p[i] == '\\' && i + 1 < p.size() ? p[++i] : p[i];
        }
        matched = matched || (lo <= c && c <= hi);
        ++i;
      }
      if (i >= p.size() || matched == negate || c == '/') return false;
      p.remove_prefix(i);
    } else {
      if (p[0] == '\\' && p.size() > 1) p.remove_prefix(1);
      if (p[0] != c) return false;
    }
    p.remove_prefix(1);
    s.remove_prefix(1);
  }
  return s.empty();
}

// ---- JSON --------------------------------------------------------------------------------

std::string docker_json(const Json& v, int indent, bool escape_html) {
  std::string s = materialize(v).dump(indent, ' ', false, Json::error_handler_t::replace);
  return go_escape(s, escape_html);
}

std::string go_print(const Json& v) {
  if (is_nil_marker(v, kNilSlice)) return "[]";
  if (is_nil_marker(v, kNilMap)) return "map[]";
  switch (v.type()) {
    case Json::value_t::string:
      return v.get<std::string>();
    case Json::value_t::null:
      return "<nil>";
    case Json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case Json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + go_print(v[i]);
      return out + "]";
    }
    case Json::value_t::object: {
      // Go prints maps with their keys sorted.
      std::vector<std::string> keys;
      for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
      std::sort(keys.begin(), keys.end());
      std::string out = "map[";
      for (size_t i = 0; i < keys.size(); ++i)
        out += (i ? " " : "") + keys[i] + ":" + go_print(v.at(keys[i]));
      return out + "]";
    }
    case Json::value_t::number_float: {
      std::string s = v.dump();
      if (s.ends_with(".0")) s.resize(s.size() - 2);  // Go's %v prints 2, not 2.0
      return s;
    }
    default:
      return v.dump();
  }
}

// ---- TabWriter -----------------------------------------------------------------------------

namespace {

struct TabState {
  std::vector<std::vector<std::string>> lines;  // cells; all but the last were tab-terminated
  std::vector<size_t> widths;
  size_t min_width, padding;
  std::string out;

  void write_lines(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      const auto& line = lines[i];
      for (size_t j = 0; j < line.size(); ++j) {
        out += line[j];
        if (j < widths.size()) out.append(widths[j] - display_width(line[j]), ' ');
      }
      if (i + 1 < lines.size()) out += '\n';
    }
  }

  // Go's tabwriter.format: a column block is a run of consecutive lines that have a cell in
  // this column; its width is set by that block alone.
  void format(size_t line0, size_t line1) {
    size_t column = widths.size();
    for (size_t cur = line0; cur < line1; ++cur) {
      if (column + 1 >= lines[cur].size()) continue;
      write_lines(line0, cur);
      line0 = cur;
      size_t width = min_width;
      for (; cur < line1 && column + 1 < lines[cur].size(); ++cur)
        width = std::max(width, display_width(lines[cur][column]) + padding);
      widths.push_back(width);
      format(line0, cur);
      widths.pop_back();
      line0 = cur;
      if (cur == line1) break;
    }
    write_lines(line0, line1);
  }
};

}  // namespace

std::string TabWriter::flush() {
  TabState st;
  st.min_width = min_width_;
  st.padding = padding_;
  size_t start = 0;
  while (true) {
    size_t nl = text_.find('\n', start);
    std::string_view line = std::string_view(text_).substr(
        start, nl == std::string::npos ? std::string::npos : nl - start);
    std::vector<std::string> cells;
    size_t c = 0;
    while (true) {
      size_t tab = line.find('\t', c);
      cells.emplace_back(line.substr(c, tab == std::string_view::npos ? tab : tab - c));
      if (tab == std::string_view::npos) break;
      c = tab + 1;
    }
    st.lines.push_back(std::move(cells));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  st.format(0, st.lines.size());
  text_.clear();
  return st.out;
}

// ---- docker's JSON for an image -----------------------------------------------------------

std::string familiar(std::string_view full_name) {
  auto ref = image::parse_reference(full_name);
  return ref ? ref->familiar() : std::string(full_name);
}

namespace {

Json string_list(const std::vector<std::string>& v) {
  if (v.empty()) return nil_slice();
  return Json(v);
}

Json optional_list(const std::optional<std::vector<std::string>>& v) {
  return v ? Json(*v) : nil_slice();
}

Json empty_struct_set(const std::set<std::string>& keys) {
  Json m = Json::object();
  for (const auto& k : keys) m[k] = Json::object();
  return m;
}

Json healthcheck_json(const image::Healthcheck& h) {
  Json j = Json::object();  // every field omitempty in docker's HealthConfig
  if (!h.test.empty()) j["Test"] = h.test;
  if (h.interval) j["Interval"] = h.interval;
  if (h.timeout) j["Timeout"] = h.timeout;
  if (h.start_period) j["StartPeriod"] = h.start_period;
  if (h.start_interval) j["StartInterval"] = h.start_interval;
  if (h.retries) j["Retries"] = h.retries;
  return j;
}

// docker's container.Config, field by field in its order; omitempty fields left out when
// empty, the others null (nil) or false.
Json container_config_json(const image::ImageConfig::Config& c) {
  Json j = Json::object();
  j["Hostname"] = "";
  j["Domainname"] = "";
  j["User"] = c.user;
  j["AttachStdin"] = false;
  j["AttachStdout"] = false;
  j["AttachStderr"] = false;
  if (!c.exposed_ports.empty()) j["ExposedPorts"] = empty_struct_set(c.exposed_ports);
  j["Tty"] = false;
  j["OpenStdin"] = false;
  j["StdinOnce"] = false;
  j["Env"] = string_list(c.env);
  j["Cmd"] = optional_list(c.cmd);
  if (c.healthcheck) j["Healthcheck"] = healthcheck_json(*c.healthcheck);
  if (c.args_escaped) j["ArgsEscaped"] = true;
  j["Image"] = "";
  j["Volumes"] = c.volumes.empty() ? nil_map() : empty_struct_set(c.volumes);
  j["WorkingDir"] = c.working_dir;
  j["Entrypoint"] = optional_list(c.entrypoint);
  j["OnBuild"] = string_list(c.on_build);
  if (c.labels.empty()) {
    j["Labels"] = nil_map();
  } else {
    j["Labels"] = Json::object();
    for (const auto& [k, v] : c.labels) j["Labels"][k] = v;
  }
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (c.stop_timeout) j["StopTimeout"] = *c.stop_timeout;
  if (c.shell) j["Shell"] = *c.shell;
  return j;
}

// overlay2's view of an image: its top layer is the "upper" dir, the others (top first)
// the lower dirs. MergedDir and WorkDir name where a container of this image would mount;
// for an image nothing is mounted there (docker's are empty directories).
Json graph_driver_json(const std::vector<std::string>& dirs) {
  Json data = Json::object();
  if (dirs.empty()) return {{"Data", nil_map()}, {"Name", "overlay2"}};
  std::string lower;
  for (size_t i = dirs.size() - 1; i-- > 0;)
    lower += (lower.empty() ? "" : ":") + dirs[i] + "/diff";
  if (!lower.empty()) data["LowerDir"] = lower;
  data["MergedDir"] = dirs.back() + "/merged";
  data["UpperDir"] = dirs.back() + "/diff";
  data["WorkDir"] = dirs.back() + "/work";
  return {{"Data", data}, {"Name", "overlay2"}};
}

}  // namespace

Json image_inspect_json(const ImageView& v) {
  const storage::ImageRecord& r = *v.record;
  const image::ImageConfig& c = *v.config;
  Json j = Json::object();
  j["Id"] = r.id;
  Json tags = Json::array(), digests = Json::array();
  for (const auto& t : r.tags) tags.push_back(familiar(t));
  for (const auto& d : r.repo_digests) digests.push_back(familiar(d));
  j["RepoTags"] = tags;
  j["RepoDigests"] = digests;
  j["Parent"] = "";
  j["Comment"] = c.comment;
  j["Created"] = c.created.empty() ? "0001-01-01T00:00:00Z" : c.created;
  j["DockerVersion"] = c.docker_version;
  j["Author"] = c.author;
  j["Config"] = container_config_json(c.config);
  j["Architecture"] = c.architecture;
  if (!c.variant.empty()) j["Variant"] = c.variant;
  j["Os"] = c.os;
  if (!c.os_version.empty()) j["OsVersion"] = c.os_version;
  j["Size"] = r.size;
  j["GraphDriver"] = graph_driver_json(v.layer_dirs);
  Json layers = Json::array();
  for (const auto& d : c.rootfs.diff_ids) layers.push_back(d.string());
  j["RootFS"] = {{"Type", c.rootfs.type}, {"Layers", layers}};
  j["Metadata"] = {{"LastTagTime", go_time_rfc3339(v.last_tag_time)}};
  return j;
}

}  // namespace berth::cli
