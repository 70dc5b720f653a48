// cdi.cpp - see cdi.h.
//
// Both formats go through one strict reader: a YAML document is first turned into the same
// nlohmann::json a JSON file gives (aliases refused, nesting and size bounded, so a hostile
// file costs no more than its bytes), then every object is checked for unknown fields and
// every value for its type. Errors are one line: "devices[1].containerEdits.mounts[0].
// containerPath: ...", and the registry puts the file name in front.
#include "gpu/cdi.h"

#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/file.h"
#include "base/strings.h"
#include "oci/json_codec.h"

namespace berth::gpu::cdi {
namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;
namespace codec = oci::codec;
using codec::quote;

constexpr size_t kMaxSpecBytes = 8u << 20;  // nvidia's spec for 8 GPUs is about 60 KB
constexpr size_t kMaxDepth = 32;            // a spec nests 6 levels deep

// The released CDI versions berth reads, oldest first; an index stands for its version.
constexpr std::array<std::string_view, 7> kVersions = {"0.1.0", "0.2.0", "0.3.0", "0.4.0",
                                                       "0.5.0", "0.6.0", "0.7.0"};
constexpr std::array<std::string_view, 3> kNewerVersions = {"0.8.0", "1.0.0", "1.1.0"};
enum : size_t { kV040 = 3, kV050 = 4, kV060 = 5, kV070 = 6 };

// ---- names -------------------------------------------------------------------------------

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_letter(c) || is_digit(c);
}

// What is wrong with a vendor or class name, or "" when nothing is.
std::string label_problem(std::string_view what, std::string_view s) {
  std::string w(what);
  if (s.empty()) return w + " is empty";
  if (!is_letter(s.front())) return w + " " + quote(s) + " does not start with a letter";
  if (!is_alnum(s.back())) return w + " " + quote(s) + " does not end with a letter or digit";
  for (char c : s)
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-')
      return w + " " + quote(s) + " holds " + quote(std::string(1, c)) +
             " (allowed: letters, digits, _ . -)";
  return "";
}

std::string device_name_problem(std::string_view s) {
  if (s.empty()) return "device name is empty";
  if (!is_alnum(s.front()))
    return "device name " + quote(s) + " does not start with a letter or digit";
  if (!is_alnum(s.back()))
    return "device name " + quote(s) + " does not end with a letter or digit";
  for (char c : s)
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-' && c != ':')
      return "device name " + quote(s) + " holds " + quote(std::string(1, c)) +
             " (allowed: letters, digits, _ . - :)";
  return "";
}

// "vendor/class" split at the first '/', each part checked.
std::string kind_problem(std::string_view kind, std::string_view* vendor = nullptr,
                         std::string_view* device_class = nullptr) {
  size_t slash = kind.find('/');
  if (slash == std::string_view::npos) return quote(kind) + " is not vendor/class";
  std::string p = label_problem("vendor", kind.substr(0, slash));
  if (p.empty()) p = label_problem("class", kind.substr(slash + 1));
  if (vendor) *vendor = kind.substr(0, slash);
  if (device_class) *device_class = kind.substr(slash + 1);
  return p;
}

// Messages quote what they show, but a library's text could still hold a line break.
std::string one_line(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return s;
}

// ---- YAML to JSON ------------------------------------------------------------------------

// Thrown from a parser's callback and caught where that parser is called: yaml-cpp and
// nlohmann report through exceptions anyway, so this is the one way to stop them early.
struct Refusal {
  std::string message;
};

bool valid_utf8(std::string_view s) {
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};  // overlong forms are invalid
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 0;
    if (n == 0 || i + n >= s.size()) return false;
    uint32_t cp = c & (0x3fu >> n);
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3fu);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// An integer the way YAML 1.1 (and so the Go CDI library) reads one: decimal, 0x hex, 0o or
// leading-0 octal, 0b binary, with an optional sign. nullopt when s is not one, or too big.
std::optional<Json> plain_int(std::string_view s) {
  bool neg = !s.empty() && s.front() == '-';
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
    base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
  }
  if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
  uint64_t u = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), u, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (!neg) return Json(u);
  if (u > uint64_t{1} << 63) return std::nullopt;
  return Json(u == uint64_t{1} << 63 ? INT64_MIN : -static_cast<int64_t>(u));
}

std::optional<Json> plain_float(std::string_view s) {
  if (s.find_first_not_of("0123456789.eE+-") != std::string_view::npos) return std::nullopt;
  if (s.find_first_of("0123456789") == std::string_view::npos) return std::nullopt;
  std::string z(s);
  char* end = nullptr;
  double d = std::strtod(z.c_str(), &end);
  if (end != z.c_str() + z.size()) return std::nullopt;
  return Json(d);
}

// A plain (unquoted, untagged) scalar: null, a boolean, a number, else a string.
Json plain_scalar(const std::string& v) {
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") return nullptr;
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  if (auto i = plain_int(v)) return *i;
  if (auto f = plain_float(v)) return *f;
  return v;
}

// Builds a Json value from yaml-cpp's parse events.
class JsonBuilder final : public YAML::EventHandler {
 public:
  JsonBuilder() = default;  // NOLINT(bugprone-exception-escape): a null Json allocates nothing
  JsonBuilder(const JsonBuilder&) = delete;
  JsonBuilder& operator=(const JsonBuilder&) = delete;
  Json take() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { put(m, nullptr); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    refuse(m, "YAML aliases are not supported");
  }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    if (!valid_utf8(value)) refuse(m, "not valid UTF-8");
    if (expecting_key()) return take_key(m, tag, value);
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return put(m, value);
    if (tag != "?") refuse(m, "YAML tag " + quote(tag) + " is not supported");
    put(m, plain_scalar(value));
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(m, tag, "tag:yaml.org,2002:seq", Json::array());
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(m, tag, "tag:yaml.org,2002:map", Json::object());
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    Json value;
    std::string key;
    bool have_key = false;
  };

  [[noreturn]] static void refuse(const YAML::Mark& m, const std::string& msg) {
    throw Refusal{"line " + std::to_string(m.line + 1) + " column " + std::to_string(m.column + 1) +
                  ": " + msg};
  }
  bool expecting_key() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().have_key;
  }
  void take_key(const YAML::Mark& m, const std::string& tag, const std::string& key) {
    if (tag != "?" && tag != "!") refuse(m, "a mapping key must be a plain string");
    Frame& top = stack_.back();
    if (top.value.contains(key)) refuse(m, "duplicate key " + quote(key));
    top.key = key;
    top.have_key = true;
  }
  void open(const YAML::Mark& m, const std::string& tag, std::string_view std_tag, Json v) {
    if (expecting_key()) refuse(m, "a mapping key must be a plain string");
    if (tag != "?" && tag != "!" && tag != std_tag)
      refuse(m, "YAML tag " + quote(tag) + " is not supported");
    if (stack_.size() >= kMaxDepth)
      refuse(m, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    stack_.push_back(Frame{std::move(v), {}, false});
  }
  void close() {
    Json v = std::move(stack_.back().value);
    stack_.pop_back();
    place(std::move(v));
  }
  void put(const YAML::Mark& m, Json v) {
    if (expecting_key()) refuse(m, "a mapping key must be a plain string");
    place(std::move(v));
  }
  void place(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return;
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
      return;
    }
    top.value[top.key] = std::move(v);
    top.have_key = false;
  }

  std::vector<Frame> stack_;
  Json root_;
};

Result<Json> yaml_document(std::string_view text) {
  std::istringstream in{std::string(text)};
  try {
    YAML::Parser parser(in);
    JsonBuilder doc;
    if (!parser.HandleNextDocument(doc)) return Error::invalid("not valid YAML: no document");
    JsonBuilder rest;  // yaml-cpp cannot look for a next document without parsing it
    if (parser.HandleNextDocument(rest))
      return Error::invalid("not valid YAML: more than one document");
    return doc.take();
  } catch (const Refusal& r) {
    return Error::invalid("not valid YAML at " + r.message);
  } catch (const YAML::Exception& e) {
    return Error::invalid("not valid YAML at line " + std::to_string(e.mark.line + 1) + " column " +
                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return Error::invalid(std::string("not valid YAML: ") + e.what());
  }
}

// ---- JSON --------------------------------------------------------------------------------

// nlohmann keeps the last of duplicate keys; a strict reader refuses them, as the Go library
// does (it reads JSON with its YAML reader).
Result<Json> json_document(std::string_view text) {
  if (trim(text).empty()) return Error::invalid("not valid JSON: document is empty");
  std::vector<std::set<std::string>> keys;
  auto check = [&](int depth, Json::parse_event_t ev, Json& parsed) {
    using E = Json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start) && static_cast<size_t>(depth) >= kMaxDepth)
      throw Refusal{"nested deeper than " + std::to_string(kMaxDepth) + " levels"};
    if (ev == E::object_start) {
      keys.emplace_back();
    } else if (ev == E::object_end && !keys.empty()) {
      keys.pop_back();
    } else if (ev == E::key && !keys.empty()) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second) throw Refusal{"duplicate key " + quote(k)};
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), check);
  } catch (const Refusal& r) {
    return Error::invalid("not valid JSON: " + r.message);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    size_t colon = what.find(": ", what.find("parse error"));
    if (colon != std::string::npos) what = what.substr(colon + 2, 200);
    return Error::invalid("not valid JSON at byte " + std::to_string(e.byte > 0 ? e.byte - 1 : 0) +
                          ": " + what);
  } catch (const std::exception& e) {
    return Error::invalid(std::string("not valid JSON: ") + e.what());
  }
}

// ---- the strict reader -------------------------------------------------------------------

Status known_fields(const Json& v, const std::string& path,
                    std::initializer_list<std::string_view> known) {
  if (!v.is_object()) return codec::type_error(path, "object", v);
  for (auto it = v.begin(); it != v.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      return codec::path_error(path, "unknown field " + quote(it.key()));
  return ok();
}

const Json* member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

template <class T>
Status opt(const Json& obj, const std::string& path, const char* key, T& out) {
  const Json* v = member(obj, key);
  return v ? codec::read_value(*v, codec::key_path(path, key), out) : ok();
}

template <class T>
Status req(const Json& obj, const std::string& path, const char* key, T& out) {
  if (!member(obj, key)) return codec::path_error(codec::key_path(path, key), "missing");
  return opt(obj, path, key, out);
}

template <class T, class F>
Status read_list(const Json& obj, const std::string& path, const char* key, std::vector<T>& out,
                 F read_one) {
  const Json* v = member(obj, key);
  if (!v) return ok();
  std::string p = codec::key_path(path, key);
  if (!v->is_array()) return codec::type_error(p, "array", *v);
  out.resize(v->size());
  for (size_t i = 0; i < v->size(); ++i) TRY(read_one((*v)[i], codec::index_path(p, i), out[i]));
  return ok();
}

// Paths reach open(2) and mount(2): no relative ones, no NUL bytes cutting them short.
Status check_path(const std::string& path, const std::string& value) {
  if (value.find('\0') != std::string::npos) return codec::path_error(path, "holds a NUL byte");
  if (value.empty() || value.front() != '/')
    return codec::path_error(path, quote(value) + " is not an absolute path");
  return ok();
}

Status check_env(const std::string& path, const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    size_t eq = env[i].find('=');
    if (eq == 0 || eq == std::string::npos || env[i].find('\0') != std::string::npos)
      return codec::path_error(codec::index_path(path, i), quote(env[i]) + " is not KEY=VALUE");
  }
  return ok();
}

Status check_annotations(const std::string& path, const std::map<std::string, std::string>& a) {
  for (const auto& [k, v] : a)
    if (k.empty()) return codec::path_error(path, "annotation key is empty");
  return ok();
}

Status read_node(const Json& v, const std::string& p, DeviceNode& n) {
  TRY(known_fields(
      v, p,
      {"path", "hostPath", "type", "major", "minor", "fileMode", "permissions", "uid", "gid"}));
  TRY(req(v, p, "path", n.path));
  TRY(check_path(codec::key_path(p, "path"), n.path));
  TRY(opt(v, p, "hostPath", n.host_path));
  if (member(v, "hostPath")) TRY(check_path(codec::key_path(p, "hostPath"), n.host_path));
  TRY(opt(v, p, "type", n.type));
  if (!n.type.empty() && n.type != "b" && n.type != "c" && n.type != "u" && n.type != "p")
    return codec::path_error(codec::key_path(p, "type"), quote(n.type) + " is not b, c, u or p");
  TRY(opt(v, p, "major", n.major));
  TRY(opt(v, p, "minor", n.minor));
  if ((n.major && *n.major < 0) || (n.minor && *n.minor < 0))
    return codec::path_error(p, "negative device number");
  TRY(opt(v, p, "fileMode", n.file_mode));
  TRY(opt(v, p, "permissions", n.permissions));
  if (n.permissions != "none" && n.permissions.find_first_not_of("rwm") != std::string::npos)
    return codec::path_error(codec::key_path(p, "permissions"),
                             quote(n.permissions) + " is not made of r, w, m (or \"none\")");
  TRY(opt(v, p, "uid", n.uid));
  TRY(opt(v, p, "gid", n.gid));
  return ok();
}

Status read_mount(const Json& v, const std::string& p, MountEdit& m) {
  TRY(known_fields(v, p, {"hostPath", "containerPath", "type", "options"}));
  TRY(req(v, p, "hostPath", m.host_path));
  // Not necessarily a path: "tmpfs" for a tmpfs mount.
  if (m.host_path.empty() || m.host_path.find('\0') != std::string::npos)
    return codec::path_error(codec::key_path(p, "hostPath"), "empty or holds a NUL byte");
  TRY(req(v, p, "containerPath", m.container_path));
  TRY(check_path(codec::key_path(p, "containerPath"), m.container_path));
  TRY(opt(v, p, "type", m.type));
  TRY(opt(v, p, "options", m.options));
  return ok();
}

bool known_hook_name(std::string_view n) {
  return n == "prestart" || n == "createRuntime" || n == "createContainer" ||
         n == "startContainer" || n == "poststart" || n == "poststop";
}

Status read_hook(const Json& v, const std::string& p, HookEdit& h) {
  TRY(known_fields(v, p, {"hookName", "path", "args", "env", "timeout"}));
  TRY(req(v, p, "hookName", h.hook_name));
  if (!known_hook_name(h.hook_name))
    return codec::path_error(codec::key_path(p, "hookName"),
                             "unknown hook name " + quote(h.hook_name));
  TRY(req(v, p, "path", h.path));
  TRY(check_path(codec::key_path(p, "path"), h.path));
  TRY(opt(v, p, "args", h.args));
  TRY(opt(v, p, "env", h.env));
  TRY(check_env(codec::key_path(p, "env"), h.env));
  TRY(opt(v, p, "timeout", h.timeout));
  if (h.timeout && *h.timeout <= 0)
    return codec::path_error(codec::key_path(p, "timeout"), "must be greater than 0");
  return ok();
}

Status read_edits(const Json& v, const std::string& p, ContainerEdits& e) {
  TRY(known_fields(
      v, p, {"env", "deviceNodes", "mounts", "hooks", "additionalGids", "intelRdt", "netDevices"}));
  // intelRdt would need linux.intelRdt, which berth does not model: refused rather than
  // silently dropped. netDevices came with CDI 1.1.0.
  if (member(v, "intelRdt"))
    return codec::path_error(codec::key_path(p, "intelRdt"), "not supported by berth");
  if (member(v, "netDevices"))
    return codec::path_error(codec::key_path(p, "netDevices"),
                             "needs cdiVersion 1.1.0; berth reads CDI up to 0.7.0");
  TRY(opt(v, p, "env", e.env));
  TRY(check_env(codec::key_path(p, "env"), e.env));
  TRY(read_list(v, p, "deviceNodes", e.device_nodes, read_node));
  TRY(read_list(v, p, "mounts", e.mounts, read_mount));
  TRY(read_list(v, p, "hooks", e.hooks, read_hook));
  TRY(opt(v, p, "additionalGids", e.additional_gids));
  return ok();
}

Status read_device(const Json& v, const std::string& p, Device& d) {
  TRY(known_fields(v, p, {"name", "annotations", "containerEdits"}));
  TRY(req(v, p, "name", d.name));
  if (auto problem = device_name_problem(d.name); !problem.empty())
    return codec::path_error(codec::key_path(p, "name"), problem);
  TRY(opt(v, p, "annotations", d.annotations));
  TRY(check_annotations(codec::key_path(p, "annotations"), d.annotations));
  std::string ep = codec::key_path(p, "containerEdits");
  const Json* edits = member(v, "containerEdits");
  if (!edits) return codec::path_error(ep, "missing");
  TRY(read_edits(*edits, ep, d.edits));
  if (d.edits.empty()) return codec::path_error(ep, "a device needs at least one edit");
  return ok();
}

Status check_version_known(const std::string& v) {
  if (std::find(kVersions.begin(), kVersions.end(), v) != kVersions.end()) return ok();
  if (std::find(kNewerVersions.begin(), kNewerVersions.end(), v) != kNewerVersions.end())
    return codec::path_error("cdiVersion", v + " is newer than berth reads (up to 0.7.0)");
  return codec::path_error("cdiVersion", quote(v) + " is not a known CDI version");
}

struct Need {
  size_t version = 0;
  std::string what;  // the field that needs it
};

void need(std::optional<Need>& best, size_t version, std::string what) {
  if (!best || version > best->version) best = Need{version, std::move(what)};
}

void edit_needs(const ContainerEdits& e, const std::string& p, std::optional<Need>& best) {
  for (size_t i = 0; i < e.device_nodes.size(); ++i)
    if (!e.device_nodes[i].host_path.empty())
      need(best, kV050, codec::index_path(p + ".deviceNodes", i) + ".hostPath");
  for (size_t i = 0; i < e.mounts.size(); ++i)
    if (!e.mounts[i].type.empty()) need(best, kV040, codec::index_path(p + ".mounts", i) + ".type");
  if (!e.additional_gids.empty()) need(best, kV070, p + ".additionalGids");
}

// The field versions of the Go reference library (pkg/cdi/version.go) tie to a minimum.
Status check_version_needs(const Spec& s) {
  std::optional<Need> best;
  std::string_view device_class;
  (void)kind_problem(s.kind, nullptr, &device_class);
  if (device_class.find('.') != std::string_view::npos) need(best, kV060, "a '.' in kind's class");
  if (!s.annotations.empty()) need(best, kV060, "annotations");
  edit_needs(s.edits, "containerEdits", best);
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const Device& d = s.devices[i];
    std::string p = codec::index_path("devices", i);
    if (!is_letter(d.name.front())) need(best, kV050, p + ".name starting with a digit");
    if (!d.annotations.empty()) need(best, kV060, p + ".annotations");
    edit_needs(d.edits, p + ".containerEdits", best);
  }
  size_t have = static_cast<size_t>(std::find(kVersions.begin(), kVersions.end(), s.cdi_version) -
                                    kVersions.begin());
  if (!best || have >= best->version) return ok();
  return codec::path_error("cdiVersion", s.cdi_version + " is too old for " + best->what +
                                             " (needs " + std::string(kVersions[best->version]) +
                                             " or later)");
}

Status read_devices(const Json& doc, Spec& s) {
  if (!member(doc, "devices")) return codec::path_error("devices", "missing");
  TRY(read_list(doc, "", "devices", s.devices, read_device));
  if (s.devices.empty()) return codec::path_error("devices", "a spec needs at least one device");
  std::set<std::string_view> seen;
  for (size_t i = 0; i < s.devices.size(); ++i)
    if (!seen.insert(s.devices[i].name).second)
      return codec::path_error(codec::index_path("devices", i) + ".name",
                               "duplicate device name " + quote(s.devices[i].name));
  return ok();
}

Result<Spec> read_spec(const Json& doc) {
  Spec s;
  TRY(known_fields(doc, "", {"cdiVersion", "kind", "annotations", "devices", "containerEdits"}));
  TRY(req(doc, "", "cdiVersion", s.cdi_version));
  TRY(check_version_known(s.cdi_version));
  TRY(req(doc, "", "kind", s.kind));
  if (auto problem = kind_problem(s.kind); !problem.empty())
    return codec::path_error("kind", problem);
  TRY(opt(doc, "", "annotations", s.annotations));
  TRY(check_annotations("annotations", s.annotations));
  TRY(read_devices(doc, s));
  if (const Json* e = member(doc, "containerEdits")) TRY(read_edits(*e, "containerEdits", s.edits));
  TRY(check_version_needs(s));
  return s;
}

// Parses a spec; *kind gets the document's kind when it has a string one, so a registry can
// tell which names a broken file might have held.
Result<Spec> parse_text(std::string_view text, bool is_yaml, std::string* kind) {
  if (text.size() > kMaxSpecBytes)
    return Error::invalid("larger than " + std::to_string(kMaxSpecBytes >> 20) + " MiB");
  Json doc = TRY(is_yaml ? yaml_document(text) : json_document(text));
  if (kind && doc.is_object() && doc.contains("kind") && doc["kind"].is_string())
    *kind = doc["kind"].get<std::string>();
  return read_spec(doc);
}

// ---- writing -----------------------------------------------------------------------------

template <class T>
void put_opt(OJson& o, const char* key, const T& v) {
  if constexpr (requires { v.has_value(); }) {
    if (v) o[key] = *v;
  } else {
    if (!v.empty()) o[key] = v;
  }
}

OJson node_json(const DeviceNode& n) {
  OJson o = OJson::object();
  o["path"] = n.path;
  put_opt(o, "hostPath", n.host_path);
  put_opt(o, "type", n.type);
  put_opt(o, "major", n.major);
  put_opt(o, "minor", n.minor);
  put_opt(o, "fileMode", n.file_mode);
  put_opt(o, "permissions", n.permissions);
  put_opt(o, "uid", n.uid);
  put_opt(o, "gid", n.gid);
  return o;
}

OJson mount_json(const MountEdit& m) {
  OJson o = OJson::object();
  o["hostPath"] = m.host_path;
  o["containerPath"] = m.container_path;
  put_opt(o, "type", m.type);
  put_opt(o, "options", m.options);
  return o;
}

OJson hook_json(const HookEdit& h) {
  OJson o = OJson::object();
  o["hookName"] = h.hook_name;
  o["path"] = h.path;
  put_opt(o, "args", h.args);
  put_opt(o, "env", h.env);
  put_opt(o, "timeout", h.timeout);
  return o;
}

template <class T, class F>
void put_list(OJson& o, const char* key, const std::vector<T>& v, F to_json_one) {
  if (v.empty()) return;
  OJson a = OJson::array();
  for (const auto& e : v) a.push_back(to_json_one(e));
  o[key] = std::move(a);
}

// masked_paths is berth's own and has no CDI field: it is not written.
OJson edits_json(const ContainerEdits& e) {
  OJson o = OJson::object();
  put_opt(o, "env", e.env);
  put_list(o, "deviceNodes", e.device_nodes, node_json);
  put_list(o, "mounts", e.mounts, mount_json);
  put_list(o, "hooks", e.hooks, hook_json);
  put_opt(o, "additionalGids", e.additional_gids);
  return o;
}

OJson spec_json(const Spec& s) {
  OJson o = OJson::object();
  o["cdiVersion"] = s.cdi_version;
  o["kind"] = s.kind;
  put_opt(o, "annotations", s.annotations);
  OJson devices = OJson::array();
  for (const auto& d : s.devices) {
    OJson dj = OJson::object();
    dj["name"] = d.name;
    put_opt(dj, "annotations", d.annotations);
    dj["containerEdits"] = edits_json(d.edits);
    devices.push_back(std::move(dj));
  }
  o["devices"] = std::move(devices);
  OJson edits = edits_json(s.edits);
  if (!edits.empty()) o["containerEdits"] = std::move(edits);
  return o;
}

// Our field names go out plain; any other key (an annotation's) is quoted unless it is
// plainly a word that no YAML reader takes for a number, a boolean or null.
bool plain_key(const std::string& k) {
  static const std::set<std::string, std::less<>> kReserved = {
      "y",  "Y",    "yes",  "Yes",  "YES",   "n",     "N",     "no", "No",
      "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On",
      "ON", "off",  "Off",  "OFF",  "null",  "Null",  "NULL"};
  if (k.empty() || !is_letter(k.front()) || kReserved.contains(k)) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return is_alnum(c) || c == '_' || c == '-' || c == '.' || c == '/';
  });
}

void emit(YAML::Emitter& out, const OJson& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key;
      if (!plain_key(it.key())) out << YAML::DoubleQuoted;
      out << it.key() << YAML::Value;
      emit(out, *it);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& e : j) emit(out, e);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // Always quoted: "0" or "true" must come back as strings.
    out << YAML::DoubleQuoted << j.get_ref<const std::string&>();
  } else if (j.is_number_unsigned()) {
    out << j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    out << j.get<int64_t>();
  } else {
    out << YAML::Null;  // not produced by spec_json
  }
}

// ---- registry helpers --------------------------------------------------------------------

bool is_spec_file(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  return ends(".json") || ends(".yaml") || ends(".yml");
}

Result<std::string> read_spec_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat", path);
  // A FIFO named x.json would block the read forever.
  if (!S_ISREG(st.st_mode)) return Error::invalid("not a regular file");
  std::string text = TRY(read_file(path, kMaxSpecBytes + 1));
  if (text.size() > kMaxSpecBytes)
    return Error::invalid("larger than " + std::to_string(kMaxSpecBytes >> 20) + " MiB");
  return text;
}

}  // namespace

std::vector<std::string> default_spec_dirs() {
  return {"/etc/cdi", "/var/run/cdi"};
}

Result<QualifiedName> parse_qualified_name(std::string_view s) {
  auto bad = [&](const std::string& why) {
    return Error::invalid("CDI device name " + quote(s) + ": " + why);
  };
  size_t eq = s.find('=');
  if (eq == std::string_view::npos) return bad("no '=' (expected vendor/class=name)");
  std::string_view vendor, device_class;
  if (auto problem = kind_problem(s.substr(0, eq), &vendor, &device_class); !problem.empty())
    return bad(problem);
  std::string_view name = s.substr(eq + 1);
  if (auto problem = device_name_problem(name); !problem.empty()) return bad(problem);
  return QualifiedName{std::string(vendor), std::string(device_class), std::string(name)};
}

bool is_qualified_name(std::string_view s) {
  return parse_qualified_name(s).ok();
}

Result<Spec> parse_spec(std::string_view text, bool is_yaml) {
  auto r = parse_text(text, is_yaml, nullptr);
  if (!r.ok()) return Error::invalid("CDI spec: " + one_line(r.error().message()));
  return r;
}

std::string to_json(const Spec& spec) {
  return codec::dump_pretty(spec_json(spec)) + "\n";
}

std::string to_yaml(const Spec& spec) {
  YAML::Emitter out;
  emit(out, spec_json(spec));
  return std::string(out.c_str()) + "\n";
}

Registry Registry::load(const std::vector<std::string>& dirs) {
  Registry r;
  for (size_t prio = 0; prio < dirs.size(); ++prio) {
    const std::string& dir = dirs[prio];
    if (!path_exists(dir)) continue;
    auto names = list_dir(dir);
    if (!names.ok()) {
      r.errors_.push_back(dir + ": " + one_line(names.error().message()));
      continue;
    }
    std::sort(names->begin(), names->end());
    for (const auto& name : *names) {
      if (!is_spec_file(name)) continue;
      std::string path = path_join(dir, name);
      r.load_file(path, !name.ends_with(".json"), static_cast<int>(prio));
    }
  }
  return r;
}

void Registry::load_file(const std::string& path, bool is_yaml, int priority) {
  std::string kind;
  auto text = read_spec_file(path);
  auto spec = text.ok() ? parse_text(*text, is_yaml, &kind) : Result<Spec>(text.error());
  if (!spec.ok()) {
    std::string msg = path + ": " + one_line(spec.error().message());
    errors_.push_back(msg);
    failed_.push_back(Failed{kind, msg});
    return;
  }
  spec->path = path;
  spec->priority = priority;
  specs_.push_back(std::move(spec).value());
  add_devices(specs_.size() - 1);
}

// The highest priority that defines a name wins; two definitions at that priority conflict
// and neither is used.
void Registry::add_devices(size_t index) {
  const Spec& s = specs_[index];
  for (size_t i = 0; i < s.devices.size(); ++i) {
    std::string name = s.kind + "=" + s.devices[i].name;
    auto c = conflicts_.find(name);
    if (c != conflicts_.end()) {
      if (conflict_priority_[name] == s.priority) {
        c->second += ", " + s.path;
        continue;
      }
      conflicts_.erase(c);
      conflict_priority_.erase(name);
    }
    auto d = devices_.find(name);
    if (d != devices_.end() && specs_[d->second.spec].priority == s.priority) {
      const std::string& other = specs_[d->second.spec].path;
      std::string msg = "CDI device " + name;
      msg += " is defined more than once at the same priority, so not used: ";
      msg += other + ", " + s.path;
      errors_.push_back(s.path + ": " + msg);
      conflicts_[name] = std::move(msg);
      conflict_priority_[name] = s.priority;
      devices_.erase(d);
      continue;
    }
    devices_[name] = Entry{index, i};
  }
}

Result<ContainerEdits> Registry::resolve(const std::vector<std::string>& names) const {
  ContainerEdits out;
  std::vector<bool> spec_used(specs_.size(), false);
  std::set<std::string> done;
  std::vector<std::string> unresolved, notes;
  auto note = [&](const std::string& n) {
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  };
  for (const auto& name : names) {
    if (!done.insert(name).second) continue;  // asked twice: its edits once
    auto d = devices_.find(name);
    if (d == devices_.end()) {
      unresolved.push_back(name);
      if (auto c = conflicts_.find(name); c != conflicts_.end()) note(c->second);
      auto q = parse_qualified_name(name);
      for (const auto& f : failed_)
        if (f.kind.empty() || (q.ok() && f.kind == q->kind())) note(f.message);
      continue;
    }
    const Spec& s = specs_[d->second.spec];
    if (!spec_used[d->second.spec]) {
      spec_used[d->second.spec] = true;
      out.append(s.edits);
    }
    out.append(s.devices[d->second.device].edits);
  }
  if (unresolved.empty()) return out;
  std::string msg = "unresolvable CDI devices " + join(unresolved, ", ");
  if (!notes.empty()) msg += " (" + join(notes, "; ") + ")";
  return Error::invalid(msg);
}

std::vector<std::string> Registry::device_names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : devices_) out.push_back(name);
  return out;
}

}  // namespace berth::gpu::cdi
