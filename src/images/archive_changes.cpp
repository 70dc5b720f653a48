// archive_changes.cpp - Dockerfile instructions applied to an image config (`import -c`, and
// later `commit -c`): what docker's BuildFromConfig accepts, in Dockerfile syntax.
#include <algorithm>
#include <cctype>

#include "base/file.h"
#include "base/strings.h"
#include "images/archive.h"
#include "oci/json_codec.h"

namespace berth::images {

namespace {

constexpr size_t kMaxExposedPorts = 65536;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Splits at unquoted white space; quotes are removed, backslash escapes the next character
// (inside double quotes only before " \ $), as the Dockerfile's ENV and LABEL read words.
Result<std::vector<std::string>> words(std::string_view s, std::string_view instr) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        cur += c;
      continue;
    }
    if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < s.size() &&
                 (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$')) {
        cur += s[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (is_space(c)) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
    } else {
      cur += c;
    }
  }
  if (quote != 0)
    return Error::invalid(std::string(instr) + ": unterminated quote in " + oci::codec::quote(s));
  if (in_word) out.push_back(std::move(cur));
  return out;
}

// KEY=VALUE pairs, or the old one-pair form "KEY VALUE" (ENV, LABEL).
Result<std::vector<std::pair<std::string, std::string>>> pairs(std::string_view rest,
                                                               std::string_view instr) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t sp = 0;
  while (sp < rest.size() && !is_space(rest[sp])) ++sp;
  std::string_view first = rest.substr(0, sp);
  if (first.find('=') == std::string_view::npos) {
    std::string_view value = trim(rest.substr(sp));
    auto key = TRY(words(first, instr));
    if (value.empty() || key.size() != 1)
      return Error::invalid(std::string(instr) + " must have two arguments");
    auto v = TRY(words(value, instr));
    out.emplace_back(key[0], join(v, " "));
    return out;
  }
  for (auto& w : TRY(words(rest, instr))) {
    size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error::invalid(std::string(instr) +
                            " names must be followed by =VALUE: " + oci::codec::quote(w));
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

// ["a", "b"] (exec form) or nullopt for anything that is not a JSON array of strings.
std::optional<std::vector<std::string>> json_array(std::string_view s) {
  if (!s.starts_with('[')) return std::nullopt;
  auto doc = oci::codec::parse_document(s);
  if (!doc || !doc->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : *doc) {
    if (!v.is_string()) return std::nullopt;
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<std::string> command(std::string_view rest) {
  if (auto exec = json_array(rest)) return *exec;
  return {"/bin/sh", "-c", std::string(rest)};
}

Result<uint32_t> port_number(std::string_view s, std::string_view spec) {
  auto n = parse_uint(s);
  if (!n || *n > 65535) return Error::invalid("invalid containerPort: " + std::string(spec));
  return static_cast<uint32_t>(*n);
}

// "80", "80/tcp", "53/udp", "8000-8010/tcp".
Status expose(std::set<std::string>& ports, std::string_view spec) {
  std::string_view port = spec, proto = "tcp";
  if (size_t slash = spec.find('/'); slash != std::string_view::npos) {
    port = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
  }
  std::string p = lower(proto);
  if (p != "tcp" && p != "udp" && p != "sctp")
    return Error::invalid("invalid proto: " + std::string(proto));
  uint32_t lo = 0, hi = 0;
  if (size_t dash = port.find('-'); dash != std::string_view::npos) {
    lo = TRY(port_number(port.substr(0, dash), spec));
    hi = TRY(port_number(port.substr(dash + 1), spec));
    if (hi < lo)
      return Error::invalid("invalid range specified for container port: " + std::string(spec));
  } else {
    lo = hi = TRY(port_number(port, spec));
  }
  for (uint32_t i = lo; i <= hi; ++i) {
    if (ports.size() >= kMaxExposedPorts) break;
    ports.insert(std::to_string(i) + "/" + p);
  }
  return ok();
}

void set_env(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  auto it = std::find_if(env.begin(), env.end(), [&](const std::string& e) {
    return e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=';
  });
  std::string entry = key + "=" + value;
  if (it != env.end())
    *it = entry;
  else
    env.push_back(entry);
}

Status apply_one(image::ImageConfig::Config& c, std::string_view change, bool& cmd_set) {
  std::string_view text = trim(change);
  size_t sp = 0;
  while (sp < text.size() && !is_space(text[sp])) ++sp;
  std::string instr = lower(text.substr(0, sp));
  std::string_view rest = trim(text.substr(sp));
  static const char* kValid[] = {"cmd",     "entrypoint", "env",  "expose", "label",
                                 "onbuild", "stopsignal", "user", "volume", "workdir"};
  if (instr.empty()) return Error::invalid("empty change command");
  if (std::find(std::begin(kValid), std::end(kValid), instr) == std::end(kValid))
    return Error::invalid(instr + " is not a valid change command");
  std::string upper = text.substr(0, sp).empty() ? instr : std::string(text.substr(0, sp));
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (rest.empty()) return Error::invalid(upper + " requires at least one argument");

  if (instr == "env") {
    for (auto& [k, v] : TRY(pairs(rest, upper))) set_env(c.env, k, v);
  } else if (instr == "label") {
    for (auto& [k, v] : TRY(pairs(rest, upper))) c.labels[k] = v;
  } else if (instr == "cmd") {
    c.cmd = command(rest);
    cmd_set = true;
  } else if (instr == "entrypoint") {
    c.entrypoint = command(rest);
    if (!cmd_set) c.cmd.reset();  // docker: a new ENTRYPOINT drops an inherited CMD
  } else if (instr == "workdir") {
    auto w = TRY(words(rest, upper));
    std::string dir = w.empty() ? "" : w[0];
    c.working_dir = dir.starts_with('/')
                        ? clean_path(dir)
                        : clean_path(path_join(c.working_dir.empty() ? "/" : c.working_dir, dir));
  } else if (instr == "user") {
    c.user = std::string(rest);
  } else if (instr == "expose") {
    for (const auto& p : TRY(words(rest, upper))) TRY(expose(c.exposed_ports, p));
  } else if (instr == "volume") {
    auto list = json_array(rest);
    std::vector<std::string> vols = list ? *list : TRY(words(rest, upper));
    for (const auto& v : vols) {
      if (trim(v).empty()) return Error::invalid("VOLUME specified can not be an empty string");
      c.volumes.insert(std::string(trim(v)));
    }
  } else if (instr == "stopsignal") {
    c.stop_signal = std::string(rest);
  } else if (instr == "onbuild") {
    std::string_view trigger = rest.substr(0, rest.find_first_of(" \t"));
    std::string t = lower(trigger);
    if (t == "onbuild" || t == "from" || t == "maintainer")
      return Error::invalid(t + " isn't allowed as an ONBUILD trigger");
    c.on_build.push_back(std::string(rest));
  }
  return ok();
}

}  // namespace

Status apply_changes(image::ImageConfig::Config& config, const std::vector<std::string>& changes) {
  bool cmd_set = false;
  for (const auto& ch : changes) TRY(apply_one(config, ch, cmd_set));
  return ok();
}

}  // namespace berth::images
