// user_etc.cpp - the user a container runs as (looked up in its own /etc/passwd and
// /etc/group, resolved inside the rootfs) and the /etc files docker writes for it.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "base/file.h"
#include "base/strings.h"
#include "containers/spec_parts.h"
#include "sys/path_resolve.h"

namespace berth::containers {
namespace {

// An /etc file of the image, read through the rootfs (symlinks resolved inside it); "" when
// it is missing.
std::string read_in_root(const std::string& rootfs, const char* path) {
  auto root = open_fd(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (!root) return "";
  auto fd = sys::open_in_root(root->get(), path, O_RDONLY | O_CLOEXEC);
  if (!fd) return "";
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd->get(), buf, sizeof buf)) > 0 && out.size() < (8u << 20))
    out.append(buf, static_cast<size_t>(n));
  return out;
}

struct Entry {
  std::string name;
  uint32_t id = 0;
  uint32_t gid = 0;       // passwd
  std::string home;       // passwd
  std::vector<std::string> members;  // group
};

std::vector<Entry> parse_db(const std::string& text, bool passwd) {
  std::vector<Entry> out;
  for (const auto& line : split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < (passwd ? 6u : 3u)) continue;
    auto id = parse_uint(f[2]);
    if (!id || *id > 0xffffffffu) continue;
    Entry e{.name = f[0], .id = static_cast<uint32_t>(*id)};
    if (passwd) {
      auto gid = parse_uint(f[3]);
      e.gid = gid ? static_cast<uint32_t>(*gid) : 0;
      e.home = f[5];
    } else if (f.size() > 3 && !f[3].empty()) {
      e.members = split(f[3], ',');
    }
    out.push_back(std::move(e));
  }
  return out;
}

const Entry* find(const std::vector<Entry>& db, const std::string& name_or_id) {
  auto id = parse_uint(name_or_id);
  for (const auto& e : db)
    if (e.name == name_or_id) return &e;
  if (id)
    for (const auto& e : db)
      if (e.id == *id) return &e;
  return nullptr;
}

Result<uint32_t> group_id(const std::vector<Entry>& groups, const std::string& g) {
  if (const Entry* e = find(groups, g)) return e->id;
  auto id = parse_uint(g);
  if (!id || *id > 0xffffffffu) return Error::invalid("unable to find group " + g + ": no matching entries in group file");
  return static_cast<uint32_t>(*id);
}

}  // namespace

Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& spec,
                                  const std::vector<std::string>& group_add) {
  std::string user = spec.empty() ? "0" : spec, group;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    group = user.substr(colon + 1);
    user.resize(colon);
  }
  auto passwd = parse_db(read_in_root(rootfs, "/etc/passwd"), true);
  auto groups = parse_db(read_in_root(rootfs, "/etc/group"), false);
  ResolvedUser r;
  const Entry* pw = find(passwd, user);
  if (pw) {
    r.user.uid = pw->id;
    r.user.gid = pw->gid;
    r.user.username = pw->name;
    r.home = pw->home.empty() ? "/" : pw->home;
  } else {
    auto uid = parse_uint(user);
    if (!uid || *uid > 0xffffffffu)
      return Error::invalid("unable to find user " + user + ": no matching entries in passwd file");
    r.user.uid = static_cast<uint32_t>(*uid);
    r.user.gid = 0;
    if (r.user.uid == 0) r.home = "/root";
  }
  if (!group.empty()) r.user.gid = TRY(group_id(groups, group));
  if (pw && group.empty())
    for (const auto& g : groups)
      for (const auto& m : g.members)
        if (m == pw->name && g.id != r.user.gid) r.user.additional_gids.push_back(g.id);
  for (const auto& g : group_add) r.user.additional_gids.push_back(TRY(group_id(groups, g)));
  return r;
}

namespace {

std::string host_resolv_conf() {
  // systemd-resolved's stub (127.0.0.53) is useless inside a network namespace: use the
  // real upstreams it writes, as docker does.
  for (const char* p : {"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"}) {
    auto t = read_file(p, 1 << 20);
    if (t && (std::string(p) != "/run/systemd/resolve/resolv.conf" ||
              std::string(t->data()).find("nameserver") != std::string::npos))
      return *t;
  }
  return "";
}

// docker drops localhost nameservers (they mean the host's loopback, not the container's)
// unless the container shares the host's network.
std::string filter_resolv(const std::string& text, bool host_network) {
  std::string out;
  bool has_ns = false;
  for (const auto& line : split(text, '\n')) {
    std::string_view t = trim(line);
    if (starts_with(t, "nameserver")) {
      std::string_view addr = trim(t.substr(10));
      if (!host_network && (starts_with(addr, "127.") || addr == "::1")) continue;
      has_ns = true;
    }
    out += line + "\n";
  }
  if (!has_ns && !host_network) out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
  return out;
}

}  // namespace

Status write_etc_files(const std::string& dir, const EtcInputs& in) {
  TRY(write_file_atomic(path_join(dir, "hostname"), in.hostname + "\n", 0644, Durability::volatile_ok));
  std::string hosts;
  if (in.host_network) {
    auto host = read_file("/etc/hosts", 1 << 20);
    hosts = host ? *host : "127.0.0.1\tlocalhost\n";
  } else {
    hosts =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n";
  }
  for (const auto& h : in.extra_hosts) {
    auto colon = h.find(':');
    hosts += h.substr(colon + 1) + "\t" + h.substr(0, colon) + "\n";
  }
  for (const auto& [name, ip] : in.peers) hosts += ip + "\t" + name + "\n";
  if (!in.ip.empty()) hosts += in.ip + "\t" + in.hostname + "\n";
  if (!in.ip6.empty()) hosts += in.ip6 + "\t" + in.hostname + "\n";
  TRY(write_file_atomic(path_join(dir, "hosts"), hosts, 0644, Durability::volatile_ok));
  std::string resolv;
  if (in.dns.empty() && in.dns_search.empty() && in.dns_options.empty()) {
    resolv = filter_resolv(host_resolv_conf(), in.host_network);
  } else {
    std::string base = filter_resolv(host_resolv_conf(), in.host_network);
    if (!in.dns_search.empty()) resolv += "search " + join(in.dns_search, " ") + "\n";
    else
      for (const auto& line : split(base, '\n'))
        if (starts_with(line, "search") || starts_with(line, "domain")) resolv += line + "\n";
    if (!in.dns.empty())
      for (const auto& ns : in.dns) resolv += "nameserver " + ns + "\n";
    else
      for (const auto& line : split(base, '\n'))
        if (starts_with(line, "nameserver")) resolv += line + "\n";
    if (!in.dns_options.empty()) resolv += "options " + join(in.dns_options, " ") + "\n";
  }
  return write_file_atomic(path_join(dir, "resolv.conf"), resolv, 0644, Durability::volatile_ok);
}

}  // namespace berth::containers
