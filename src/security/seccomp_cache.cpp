// seccomp_cache.cpp - compiled seccomp programs kept on disk.
//
// The profile's canonical form ("berth-seccomp-cache-v2", then each field length-prefixed in
// struct order, then the libseccomp version, API level and native architecture) names the
// file through a 64-bit hash (std::hash) and is stored at its head: a file is the canonical
// form followed by the raw sock_filter array, written with write_file_atomic, so a reader
// sees a whole entry or none, and a hit is a byte-for-byte match of the whole profile, never
// a hash match alone. (SHA-256 was the key before: loading OpenSSL's default provider for it
// cost ~0.8 ms of every container start.)
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>

#include "base/file.h"
#include "security/seccomp.h"

namespace berth::security {
namespace {

constexpr size_t kMaxCachedBytes = BPF_MAXINSNS * sizeof(sock_filter);

// Length-prefixed fields make the serialization unambiguous ("ab","c" != "a","bc").
void put(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

void put(std::string& out, uint64_t v) {
  put(out, std::to_string(v));
}

void put(std::string& out, const std::optional<uint32_t>& v) {
  if (v)
    put(out, static_cast<uint64_t>(*v));
  else
    put(out, std::string_view("-"));
}

void put(std::string& out, const std::vector<std::string>& v) {
  put(out, static_cast<uint64_t>(v.size()));
  for (const auto& s : v) put(out, s);
}

void put(std::string& out, const oci::SeccompSyscall& s) {
  put(out, s.names);
  put(out, s.action);
  put(out, s.errno_ret);
  put(out, static_cast<uint64_t>(s.args.size()));
  for (const auto& a : s.args) {
    put(out, static_cast<uint64_t>(a.index));
    put(out, a.value);
    put(out, a.value_two);
    put(out, a.op);
  }
}

// Every field of oci::Seccomp goes in: a field added there must be added here too, or two
// profiles that differ only in it would share a cached program.
std::string canonical(const oci::Seccomp& p) {
  std::string out = "berth-seccomp-cache-v2;";
  put(out, p.default_action);
  put(out, p.default_errno_ret);
  put(out, p.architectures);
  put(out, p.flags);
  put(out, p.listener_path);
  put(out, p.listener_metadata);
  put(out, static_cast<uint64_t>(p.syscalls.size()));
  for (const auto& s : p.syscalls) put(out, s);
  const scmp_version* v = seccomp_version();
  put(out, static_cast<uint64_t>(v->major));
  put(out, static_cast<uint64_t>(v->minor));
  put(out, static_cast<uint64_t>(v->micro));
  put(out, static_cast<uint64_t>(seccomp_api_get()));
  put(out, static_cast<uint64_t>(seccomp_arch_native()));
  return out;
}

std::string hash_hex(std::string_view data) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string_view>{}(data));
  return hex;
}

bool trusted(const struct stat& st) {
  return S_ISREG(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
}

bool valid_program_size(size_t n) {
  return n > 0 && n <= kMaxCachedBytes && n % sizeof(sock_filter) == 0;
}

// The cached program of the profile whose canonical form is head, or nullopt when missing,
// unreadable, untrusted, malformed or another profile's.
std::optional<std::string> read_cached(const std::string& path, const std::string& head) {
  auto fd = open_fd(path, O_RDONLY | O_NOFOLLOW);
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd->get(), &st) < 0 || !trusted(st)) return std::nullopt;
  auto size = static_cast<size_t>(st.st_size);
  if (size < head.size() || !valid_program_size(size - head.size())) return std::nullopt;
  std::string out(size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd->get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += static_cast<size_t>(n);
  }
  if (out.compare(0, head.size(), head) != 0) return std::nullopt;
  return out.substr(head.size());
}

}  // namespace

std::string seccomp_cache_key(const oci::Seccomp& profile) {
  return hash_hex(canonical(profile));
}

Result<std::string> compile_seccomp_cached(const oci::Seccomp& profile,
                                           const std::string& cache_dir) {
  if (cache_dir.empty()) return compile_seccomp(profile);
  std::string head = canonical(profile);
  std::string path = path_join(cache_dir, hash_hex(head) + ".bpf");
  if (auto hit = read_cached(path, head)) return std::move(*hit);
  std::string bpf = TRY(compile_seccomp(profile));
  // The cache only saves time: a read-only or full disk must not fail the container.
  if (mkdir_all(cache_dir, 0700).ok()) (void)write_file_atomic(path, head + bpf, 0600);
  return bpf;
}

}  // namespace berth::security
