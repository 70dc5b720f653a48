#include "containers/options.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "base/strings.h"

namespace berth::containers {
namespace {

Error bad(std::string_view flag_msg, std::string_view value) {
  return Error::invalid(std::string(flag_msg) + ": " + std::string(value));
}

std::optional<uint32_t> port_number(std::string_view s) {
  auto v = parse_uint(s);
  if (!v || *v == 0 || *v > 65535) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

// "8000" or "8000-8010" -> [first, last].
std::optional<std::pair<uint32_t, uint32_t>> port_range(std::string_view s) {
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    auto p = port_number(s);
    if (!p) return std::nullopt;
    return std::make_pair(*p, *p);
  }
  auto a = port_number(s.substr(0, dash)), b = port_number(s.substr(dash + 1));
  if (!a || !b || *b < *a) return std::nullopt;
  return std::make_pair(*a, *b);
}

bool valid_ip(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

bool valid_proto(std::string_view p) {
  return p == "tcp" || p == "udp" || p == "sctp";
}

}  // namespace

Result<std::vector<PortBinding>> parse_publish(std::string_view spec) {
  std::string s(spec), proto = "tcp";
  if (auto slash = s.rfind('/'); slash != std::string::npos) {
    proto = s.substr(slash + 1);
    s.resize(slash);
    if (!valid_proto(proto)) return bad("invalid proto", proto);
  }
  std::string ip;
  if (!s.empty() && s[0] == '[') {  // [::1]:8080:80
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return bad("invalid IP address", spec);
    ip = s.substr(1, close - 1);
    s = s.substr(close + 2);
  }
  std::vector<std::string> parts = split(s, ':');
  if (parts.size() > 3 || (!ip.empty() && parts.size() > 2)) return bad("invalid port format", spec);
  if (parts.size() == 3) {
    ip = parts[0];
    parts.erase(parts.begin());
  }
  if (!ip.empty() && !valid_ip(ip)) return bad("invalid IP address", ip);
  std::string host = parts.size() == 2 ? parts[0] : "";
  auto cport = port_range(parts.back());
  if (!cport) return bad("invalid containerPort", parts.back());
  std::optional<std::pair<uint32_t, uint32_t>> hport;
  if (!host.empty()) {
    hport = port_range(host);
    if (!hport) return bad("invalid hostPort", host);
    bool single = hport->first == hport->second;
    if (!single && hport->second - hport->first != cport->second - cport->first)
      return bad("invalid ranges specified for container and host Ports", spec);
  }
  std::vector<PortBinding> out;
  for (uint32_t c = cport->first; c <= cport->second; ++c) {
    PortBinding b{.host_ip = ip, .container_port = static_cast<uint16_t>(c), .proto = proto};
    if (hport) {
      uint32_t h = hport->first == hport->second ? hport->first : hport->first + (c - cport->first);
      b.host_port = static_cast<uint16_t>(h);
    }
    out.push_back(b);
  }
  return out;
}

Result<std::vector<std::string>> parse_expose(std::string_view spec) {
  std::string s(spec), proto = "tcp";
  if (auto slash = s.rfind('/'); slash != std::string::npos) {
    proto = s.substr(slash + 1);
    s.resize(slash);
    if (!valid_proto(proto)) return bad("invalid proto", proto);
  }
  auto r = port_range(s);
  if (!r) return bad("invalid range format for --expose", spec);
  std::vector<std::string> out;
  for (uint32_t p = r->first; p <= r->second; ++p) out.push_back(port_key(static_cast<uint16_t>(p), proto));
  return out;
}

namespace {

Status apply_volume_option(std::string_view o, MountSpec& m) {
  if (o == "ro") m.read_only = true;
  else if (o == "rw") m.read_only = false;
  else if (o == "z" || o == "Z" || o == "nocopy" || o == "consistent" || o == "cached" || o == "delegated") {
  } else if (o == "shared" || o == "rshared" || o == "slave" || o == "rslave" || o == "private" ||
             o == "rprivate") {
    if (m.type != "bind") return bad("invalid mode", o);
    m.propagation = std::string(o);
  } else {
    return bad("invalid mode", o);
  }
  return ok();
}

bool is_volume_name(std::string_view s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

}  // namespace

Result<MountSpec> parse_volume(std::string_view spec) {
  std::vector<std::string> parts = split(spec, ':');
  if (spec.empty() || parts.size() > 3) return bad("invalid volume specification", spec);
  MountSpec m;
  std::string opts;
  if (parts.size() == 1) {
    m.type = "volume";
    m.target = parts[0];
  } else if (parts.size() == 2 && !parts[1].empty() && parts[1][0] != '/') {
    // DST:OPTS is not docker's grammar for 2 parts unless SRC is missing: treat as SRC:DST.
    m.target = parts[1];
    m.source = parts[0];
  } else {
    m.source = parts[0];
    m.target = parts[1];
    if (parts.size() == 3) opts = parts[2];
  }
  if (m.type.empty()) {
    if (!m.source.empty() && m.source[0] == '/') m.type = "bind";
    else if (is_volume_name(m.source)) m.type = "volume";
    else return bad("invalid volume specification", spec);
  }
  if (m.target.empty() || m.target[0] != '/')
    return bad("invalid volume specification", spec);
  if (m.target == "/") return bad("invalid volume specification: destination can't be '/'", spec);
  for (const auto& o : split(opts, ','))
    if (!o.empty()) TRY(apply_volume_option(o, m));
  return m;
}

Result<MountSpec> parse_mount(std::string_view spec) {
  MountSpec m;
  m.type = "volume";
  for (const auto& field : split(spec, ',')) {
    auto eq = field.find('=');
    std::string key = field.substr(0, eq), val = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (key == "type") m.type = val;
    else if (key == "source" || key == "src") m.source = val;
    else if (key == "target" || key == "destination" || key == "dst") m.target = val;
    else if (key == "readonly" || key == "ro") m.read_only = val.empty() || val == "true" || val == "1";
    else if (key == "bind-propagation") m.propagation = val;
    else if (key == "tmpfs-size") m.options.push_back("size=" + std::to_string(TRY(parse_bytes(val))));
    else if (key == "tmpfs-mode") m.options.push_back("mode=" + val);
    else if (key == "volume-nocopy" || key == "consistency" || key == "bind-nonrecursive") {
    } else return bad("unexpected key '" + key + "' in", spec);
  }
  if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs")
    return bad("invalid mount type", m.type);
  if (m.target.empty() || m.target[0] != '/') return bad("invalid mount config: target must be an absolute path", spec);
  if (m.type == "bind" && (m.source.empty() || m.source[0] != '/'))
    return bad("invalid mount config for type \"bind\": source must be an absolute path", spec);
  if (m.type == "volume" && !m.source.empty() && !is_volume_name(m.source))
    return bad("invalid volume name", m.source);
  if (m.type == "tmpfs" && !m.source.empty())
    return bad("invalid mount config for type \"tmpfs\": source must be empty", spec);
  return m;
}

Result<MountSpec> parse_tmpfs(std::string_view spec) {
  MountSpec m{.type = "tmpfs"};
  auto colon = spec.find(':');
  m.target = std::string(spec.substr(0, colon));
  if (m.target.empty() || m.target[0] != '/') return bad("invalid tmpfs", spec);
  if (colon != std::string_view::npos)
    for (const auto& o : split(spec.substr(colon + 1), ','))
      if (!o.empty()) m.options.push_back(o);
  return m;
}

namespace {

std::optional<int64_t> rlimit_value(std::string_view s) {
  if (s == "-1" || s == "unlimited") return -1;
  auto v = parse_int(s);
  if (!v || *v < 0) return std::nullopt;
  return *v;
}

}  // namespace

Result<Ulimit> parse_ulimit(std::string_view spec) {
  static const char* kNames[] = {"core",   "cpu",    "data",    "fsize",  "locks",
                                 "memlock", "msgqueue", "nice", "nofile", "nproc",
                                 "rss",    "rtprio", "rttime",  "sigpending", "stack", "as"};
  auto eq = spec.find('=');
  if (eq == std::string_view::npos) return bad("invalid ulimit argument", spec);
  Ulimit u{.name = std::string(spec.substr(0, eq))};
  bool known = false;
  for (const char* n : kNames) known = known || u.name == n;
  if (!known) return bad("invalid ulimit type", u.name);
  std::string_view vals = spec.substr(eq + 1);
  auto colon = vals.find(':');
  auto soft = rlimit_value(vals.substr(0, colon));
  auto hard = colon == std::string_view::npos ? soft : rlimit_value(vals.substr(colon + 1));
  if (!soft || !hard) return bad("invalid ulimit value", spec);
  if (*hard != -1 && (*soft == -1 || *soft > *hard))
    return bad("ulimit soft limit must be less than or equal to hard limit", spec);
  u.soft = *soft;
  u.hard = *hard;
  return u;
}

Result<int64_t> parse_bytes(std::string_view spec) {
  std::string s(trim(spec));
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return bad("invalid size", spec);
  char* end = nullptr;
  std::string num = s.substr(0, i);
  double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return bad("invalid size", spec);
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b' && unit.size() == 2) unit.pop_back();
  if (unit == "ib" || (unit.size() == 3 && unit.substr(1) == "ib")) unit = unit.substr(0, unit.size() - 2);
  double mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k") mult = 1024.0;
  else if (unit == "m") mult = 1024.0 * 1024;
  else if (unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "p") mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else return bad("invalid size", spec);
  double bytes = v * mult;
  if (bytes > 9.2e18) return bad("invalid size", spec);
  return static_cast<int64_t>(bytes);
}

Result<int64_t> parse_cpus(std::string_view spec) {
  std::string s(spec);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v > 0) || v > 1e6)
    return bad("invalid value for --cpus", spec);
  return static_cast<int64_t>(std::llround(v * 1e9));
}

Result<RestartPolicy> parse_restart(std::string_view spec) {
  RestartPolicy p;
  auto colon = spec.find(':');
  p.name = std::string(spec.substr(0, colon));
  if (p.name != "no" && p.name != "on-failure" && p.name != "always" && p.name != "unless-stopped")
    return bad("invalid restart policy", spec);
  if (colon != std::string_view::npos) {
    if (p.name != "on-failure")
      return bad("maximum retry count cannot be used with restart policy", spec);
    auto n = parse_int(spec.substr(colon + 1));
    if (!n || *n < 0) return bad("invalid maximum retry count", spec);
    p.max_retries = static_cast<int>(*n);
  }
  return p;
}

std::optional<std::string> resolve_env(std::string_view spec) {
  if (spec.find('=') != std::string_view::npos) return std::string(spec);
  const char* v = std::getenv(std::string(spec).c_str());
  if (!v) return std::nullopt;
  return std::string(spec) + "=" + v;
}

Result<std::vector<std::string>> parse_env_file(std::string_view content, std::string_view path) {
  std::vector<std::string> out;
  int line_no = 0;
  for (const auto& raw : split(content, '\n')) {
    ++line_no;
    std::string_view line = raw;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    if (key.empty() || key.find_first_of(" \t") != std::string_view::npos)
      return Error::invalid("invalid variable name '" + std::string(key) + "' in env file " +
                            std::string(path) + " line " + std::to_string(line_no));
    if (auto v = resolve_env(line)) out.push_back(*v);
  }
  return out;
}

Result<std::string> parse_add_host(std::string_view spec) {
  auto sep = spec.find_first_of(":=");
  if (sep == std::string_view::npos || sep == 0) return bad("bad format for add-host", spec);
  std::string name(spec.substr(0, sep)), ip(spec.substr(sep + 1));
  if (!ip.empty() && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip != "host-gateway" && !valid_ip(ip)) return bad("invalid IP address in add-host", ip);
  return name + ":" + ip;
}

Result<DeviceSpec> parse_device(std::string_view spec) {
  std::vector<std::string> parts = split(spec, ':');
  if (parts.empty() || parts.size() > 3 || parts[0].empty() || parts[0][0] != '/')
    return bad("invalid device specification", spec);
  DeviceSpec d{.host_path = parts[0], .container_path = parts[0]};
  auto perms_ok = [](const std::string& p) {
    return !p.empty() && p.find_first_not_of("rwm") == std::string::npos;
  };
  if (parts.size() == 2) {
    if (perms_ok(parts[1])) d.permissions = parts[1];
    else d.container_path = parts[1];
  } else if (parts.size() == 3) {
    d.container_path = parts[1];
    if (!perms_ok(parts[2])) return bad("invalid device mode", parts[2]);
    d.permissions = parts[2];
  }
  if (d.container_path.empty() || d.container_path[0] != '/')
    return bad("invalid device specification", spec);
  return d;
}

Result<std::string> validate_name(std::string_view name) {
  if (!name.empty() && name[0] == '/') name.remove_prefix(1);
  bool okay = name.size() >= 1 && name.size() <= 253 &&
              std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name)
    okay = okay && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!okay)
    return Error::invalid("Invalid container name (" + std::string(name) +
                          "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  return std::string(name);
}

}  // namespace berth::containers
