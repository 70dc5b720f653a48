// seccomp_cache.cpp - compiled seccomp programs kept on disk, keyed by SHA-256.
//
// Key input ("berth-seccomp-cache-v1", then each field length-prefixed in struct order, then
// the libseccomp version, API level and native architecture). A file is the raw sock_filter
// array, written with write_file_atomic, so a reader sees a whole program or none.
#include <fcntl.h>
#include <linux/filter.h>
#include <openssl/evp.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

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
  std::string out = "berth-seccomp-cache-v1;";
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

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; i++) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xf];
  }
  return hex;
}

bool trusted(const struct stat& st) {
  return S_ISREG(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
}

bool valid_program_size(size_t n) {
  return n > 0 && n <= kMaxCachedBytes && n % sizeof(sock_filter) == 0;
}

// A cached program, or nullopt when missing, unreadable, untrusted or malformed.
std::optional<std::string> read_cached(const std::string& path) {
  auto fd = open_fd(path, O_RDONLY | O_NOFOLLOW);
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd->get(), &st) < 0 || !trusted(st)) return std::nullopt;
  if (!valid_program_size(static_cast<size_t>(st.st_size))) return std::nullopt;
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd->get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace

std::string seccomp_cache_key(const oci::Seccomp& profile) {
  return sha256_hex(canonical(profile));
}

Result<std::string> compile_seccomp_cached(const oci::Seccomp& profile,
                                           const std::string& cache_dir) {
  if (cache_dir.empty()) return compile_seccomp(profile);
  std::string key = seccomp_cache_key(profile);
  if (key.empty()) return compile_seccomp(profile);  // no SHA-256 here: never guess a name
  std::string path = path_join(cache_dir, key + ".bpf");
  if (auto hit = read_cached(path)) return std::move(*hit);
  std::string bpf = TRY(compile_seccomp(profile));
  // The cache only saves time: a read-only or full disk must not fail the container.
  if (mkdir_all(cache_dir, 0700).ok()) (void)write_file_atomic(path, bpf, 0600);
  return bpf;
}

}  // namespace berth::security
