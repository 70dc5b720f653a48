// discover.cpp - see discover.h. Reads only files: procfs and sysfs for the kernel module,
// the driver root's ld.so.cache and folders for its user-space files. The one call into the
// driver (cuDriverGetVersion) runs in a forked child and is cached per driver version.
#include "gpu/discover.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "base/file.h"
#include "base/strings.h"
#include "gpu/ldcache.h"
#include "gpu/request.h"

namespace berth::gpu {
namespace {

constexpr size_t kMaxProcFile = 1u << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "550.54.15", "470.82": digits and dots, starting and ending with a digit, one dot at least.
bool is_version(std::string_view v) {
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v.front())) ||
      !std::isdigit(static_cast<unsigned char>(v.back())) || v.find('.') == std::string_view::npos)
    return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '.' && i > 0 && v[i - 1] == '.') return false;
    if (v[i] != '.' && !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

// "libcuda.so.550.54.15" -> {"libcuda", "550.54.15"}; {"", ""} when not "NAME.so.VERSION".
std::pair<std::string, std::string> split_library_name(std::string_view file) {
  size_t so = file.find(".so.");
  if (so == std::string_view::npos || so == 0) return {};
  return {std::string(file.substr(0, so)), std::string(file.substr(so + 4))};
}

// ---------------------------------------------------------------- driver version

// The token after "Kernel Module" ("... x86_64 Kernel Module  550.54.15  <date>") or after
// "Kernel Module for <arch>" (the open modules).
Result<std::string> parse_proc_version(std::string_view text, const std::string& path) {
  std::string_view line = text.substr(0, text.find('\n'));
  size_t at = line.find("Kernel Module");
  if (at == std::string_view::npos)
    return Error::invalid(path + ": no \"Kernel Module\" in its first line");
  std::vector<std::string> words;
  for (auto& w : split(line.substr(at + std::strlen("Kernel Module")), ' '))
    if (!trim(w).empty()) words.emplace_back(trim(w));
  size_t i = words.size() >= 2 && words[0] == "for" ? 2 : 0;
  if (i >= words.size() || !is_version(words[i]))
    return Error::invalid(path + ": no driver version after \"Kernel Module\"");
  return words[i];
}

Result<std::string> driver_version(const HostRoots& roots, std::vector<std::string>& warnings) {
  std::string path = path_join(roots.proc, "driver/nvidia/version");
  if (!path_exists(path))
    return Error::invalid("no NVIDIA driver found: " + path +
                          " does not exist (is the nvidia kernel module loaded?)");
  std::string text = TRY(read_file(path, kMaxProcFile));
  std::string version = TRY(parse_proc_version(text, path));
  std::string sys = path_join(roots.sys, "module/nvidia/version");
  if (auto s = read_file(sys, 4096); s.ok() && std::string(trim(*s)) != version)
    warnings.push_back("the nvidia kernel module is " + version + " in " + path + " but " +
                       std::string(trim(*s)) + " in " + sys);
  return version;
}

// ---------------------------------------------------------------- GPUs

// The words of a model name: "NVIDIA A100-SXM4-80GB" -> nvidia, a100, sxm4, 80gb.
std::vector<std::string> model_words(std::string_view model) {
  std::vector<std::string> out;
  for (auto& w : split(lower(model), ' '))
    for (auto& part : split(w, '-'))
      if (!part.empty()) out.push_back(part);
  return out;
}

bool has_word(const std::vector<std::string>& words, std::initializer_list<std::string_view> any) {
  for (const auto& w : words)
    for (auto a : any)
      if (w == a) return true;
  return false;
}

// NVML's brand, lower case, from the model name (NVIDIA_REQUIRE_* "brand=" compares it).
std::string brand_of(std::string_view model) {
  auto w = model_words(model);
  if (has_word(w, {"geforce"})) return "geforce";
  if (has_word(w, {"titan"})) return "titan";
  if (has_word(w, {"quadro"})) return "quadro";
  if (has_word(w, {"tesla", "a100", "a800", "a30", "a40", "a10", "a10g", "a16", "a2", "h100",
                   "h200", "h800", "h20", "gh200", "l4", "l20", "l40", "l40s", "t4", "v100",
                   "p100", "p40", "p4", "k80", "b100", "b200", "gb200"}))
    return "tesla";
  return "nvidia";
}

// The compute capability of the common datacenter parts; "" for the rest.
std::string arch_of(std::string_view model) {
  struct Row {
    std::initializer_list<std::string_view> words;
    const char* arch;
  };
  static const std::array<Row, 8> table{{
      {{"h100", "h200", "h800", "h20", "gh200"}, "9.0"},
      {{"a100", "a800", "a30"}, "8.0"},
      {{"a10", "a10g", "a16", "a2", "a40"}, "8.6"},
      {{"l4", "l20", "l40", "l40s"}, "8.9"},
      {{"t4"}, "7.5"},
      {{"v100"}, "7.0"},
      {{"p100"}, "6.0"},
      {{"b100", "b200", "gb200"}, "10.0"},
  }};
  auto w = model_words(model);
  for (const auto& row : table)
    if (has_word(w, row.words)) return row.arch;
  return "";
}

// One gpus/<bus>/information file ("Key: \t value" lines).
Result<GpuInfo> parse_information(std::string_view text, const std::string& bus,
                                  const std::string& path) {
  std::map<std::string, std::string> kv;
  for (const auto& line : split(text, '\n')) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    kv[std::string(trim(std::string_view(line).substr(0, colon)))] =
        std::string(trim(std::string_view(line).substr(colon + 1)));
  }
  for (const char* key : {"Model", "GPU UUID", "Device Minor"})
    if (kv[key].empty()) return Error::invalid(path + ": no \"" + std::string(key) + "\" line");
  GpuInfo g;
  g.bus_id = bus;
  g.model = kv["Model"];
  g.uuid = kv["GPU UUID"];
  if (!starts_with(g.uuid, "GPU-")) return Error::invalid(path + ": bad GPU UUID \"" + g.uuid + "\"");
  auto minor = parse_int(kv["Device Minor"]);
  // 254 and 255 are nvidia-modeset and nvidiactl.
  if (!minor || *minor < 0 || *minor > 253)
    return Error::invalid(path + ": bad Device Minor \"" + kv["Device Minor"] + "\"");
  g.minor = static_cast<int>(*minor);
  g.brand = brand_of(g.model);
  g.arch = arch_of(g.model);
  return g;
}

Result<std::vector<GpuInfo>> read_gpus(const HostRoots& roots) {
  std::string dir = path_join(roots.proc, "driver/nvidia/gpus");
  std::vector<GpuInfo> gpus;
  if (!path_exists(dir)) return gpus;  // a driver without GPUs bound to it
  auto names = TRY(list_dir(dir));
  // NVML's index order is PCI bus order; the names are fixed-width hex.
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return lower(a) < lower(b); });
  for (const auto& bus : names) {
    std::string path = path_join(dir, bus + "/information");
    auto text = read_file(path, kMaxProcFile);
    if (!text.ok()) return Error(text.error().code(), "read GPU information", path);
    GpuInfo g = TRY(parse_information(*text, bus, path));
    g.index = static_cast<int>(gpus.size());
    gpus.push_back(std::move(g));
  }
  return gpus;
}

// ---------------------------------------------------------------- MIG

// proc/driver/nvidia-caps/mig-minors: "gpu0/gi1/access 12" lines.
std::map<std::string, int> read_mig_minors(const HostRoots& roots) {
  std::map<std::string, int> out;
  auto text = read_file(path_join(roots.proc, "driver/nvidia-caps/mig-minors"), kMaxProcFile);
  if (!text.ok()) return out;
  for (const auto& line : split(*text, '\n')) {
    auto words = split(std::string(trim(line)), ' ');
    if (words.size() != 2) continue;
    if (auto m = parse_int(words[1]); m && *m >= 0 && *m <= INT32_MAX)
      out[words[0]] = static_cast<int>(*m);
  }
  return out;
}

// The minor of a MIG access capability ("gpu0/gi1/access"): from mig-minors, else from the
// DeviceFileMinor line of its capabilities file. -1 when neither has it.
int cap_minor(const HostRoots& roots, const std::map<std::string, int>& minors,
              const std::string& gpu, const std::string& rest) {
  if (auto it = minors.find(gpu + "/" + rest); it != minors.end()) return it->second;
  auto text = read_file(path_join(roots.proc, "driver/nvidia/capabilities/" + gpu + "/mig/" + rest),
                        kMaxProcFile);
  if (!text.ok()) return -1;
  for (const auto& line : split(*text, '\n'))
    if (starts_with(line, "DeviceFileMinor:"))
      if (auto m = parse_int(trim(std::string_view(line).substr(16))); m && *m >= 0 && *m <= INT32_MAX)
        return static_cast<int>(*m);
  return -1;
}

// The MIG devices of one GPU. A real driver has no file listing them (NVML does); the fake
// driver of the tests writes gpus/<bus>/mig: "index gi ci profile uuid" lines, '#' comments.
Result<std::vector<MigDevice>> read_migs(const HostRoots& roots, const GpuInfo& g,
                                         const std::map<std::string, int>& minors) {
  std::vector<MigDevice> out;
  std::string path = path_join(roots.proc, "driver/nvidia/gpus/" + g.bus_id + "/mig");
  if (!path_exists(path)) return out;
  std::string text = TRY(read_file(path, kMaxProcFile));
  std::string gpu = "gpu" + std::to_string(g.minor);
  for (const auto& raw : split(text, '\n')) {
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> w;
    for (auto& x : split(line, ' '))
      if (!x.empty()) w.push_back(x);
    auto index = w.size() == 5 ? parse_int(w[0]) : std::nullopt;
    auto gi = w.size() == 5 ? parse_int(w[1]) : std::nullopt;
    auto ci = w.size() == 5 ? parse_int(w[2]) : std::nullopt;
    if (!index || !gi || !ci || *index < 0 || *gi < 0 || *ci < 0 || *index > 1000 || *gi > 1000 ||
        *ci > 1000 || !starts_with(w[4], "MIG-"))
      return Error::invalid(path + ": bad line \"" + std::string(line) + "\"");
    MigDevice m;
    m.uuid = w[4];
    m.index = static_cast<int>(*index);
    m.gi = static_cast<int>(*gi);
    m.ci = static_cast<int>(*ci);
    std::string gi_dir = "gi" + std::to_string(m.gi);
    m.gi_access_minor = cap_minor(roots, minors, gpu, gi_dir + "/access");
    m.ci_access_minor = cap_minor(roots, minors, gpu, gi_dir + "/ci" + std::to_string(m.ci) + "/access");
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const MigDevice& a, const MigDevice& b) { return a.index < b.index; });
  return out;
}

// ---------------------------------------------------------------- /proc/devices, /dev

void read_majors(const HostRoots& roots, DriverInfo& d) {
  std::string path = path_join(roots.proc, "devices");
  auto text = read_file(path, kMaxProcFile);
  if (!text.ok()) {
    d.warnings.push_back("cannot read " + path + ": " + text.error().message() +
                         "; assuming major 195 for the GPUs");
    return;
  }
  bool chars = false;
  for (const auto& raw : split(*text, '\n')) {
    std::string_view line = trim(raw);
    if (line == "Character devices:") chars = true;
    if (line == "Block devices:") chars = false;
    size_t sp = line.find(' ');
    if (!chars || sp == std::string_view::npos) continue;
    auto major = parse_int(line.substr(0, sp));
    std::string_view name = trim(line.substr(sp));
    if (!major || *major < 0 || *major > 4095) continue;
    int m = static_cast<int>(*major);
    // Drivers before 550.40 name the GPU major "nvidia-frontend".
    if (name == "nvidia" || name == "nvidia-frontend") d.nvidia_major = m;
    if (name == "nvidia-uvm") d.uvm_major = m;
    if (name == "nvidia-caps") d.caps_major = m;
  }
}

void check_control_node(const HostRoots& roots, DriverInfo& d) {
  std::string ctl = path_join(roots.dev, "dev/nvidiactl");
  if (!path_exists(ctl))
    d.warnings.push_back(ctl + " does not exist: the control nodes are made by nvidia-modprobe "
                               "or the first nvidia-smi run as root");
}

// ---------------------------------------------------------------- libraries

// Follows symlinks as if root were "/": absolute targets stay under root (for the file's own
// links; a directory link on the way is the kernel's to follow). Returns the
// root-relative path of the final file ("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"),
// or nullopt when it does not resolve to a regular file.
std::optional<std::string> resolve_in_root(const std::string& root, std::string rel) {
  for (int hops = 0; hops < 16; ++hops) {
    rel = clean_path(rel);
    std::string host = path_join(root, rel);
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) return std::nullopt;
    if (S_ISREG(st.st_mode)) return rel;
    if (!S_ISLNK(st.st_mode)) return std::nullopt;
    std::array<char, 4096> buf{};
    ssize_t n = ::readlink(host.c_str(), buf.data(), buf.size() - 1);
    if (n <= 0) return std::nullopt;
    std::string target(buf.data(), static_cast<size_t>(n));
    rel = target.front() == '/' ? target : dirname_of(rel) + "/" + target;
  }
  return std::nullopt;
}

struct LibraryScan {
  const std::string& root;
  const std::string& version;
  DriverInfo& d;
  std::set<std::pair<dev_t, ino_t>> seen;
  // Versions of libcuda / libnvidia-ml found that are not the driver's (stale or newer).
  std::set<std::string> other_versions;
};

enum class Added { kNew, kDuplicate, kOtherVersion };

// Adds the real file at rel (root-relative) when its name ends in the driver version; the
// same file reached twice (a second link, /lib and /usr/lib merged) is added once.
Added add_library(LibraryScan& s, const std::string& rel) {
  std::string file = basename_of(rel);
  auto [prefix, version] = split_library_name(file);
  if (prefix.empty() || version != s.version) {
    if (prefix == "libcuda" || prefix == "libnvidia-ml") s.other_versions.insert(prefix + ".so." + version);
    return Added::kOtherVersion;
  }
  std::string host = path_join(s.root, rel);
  struct stat st {};
  if (::stat(host.c_str(), &st) != 0 || !s.seen.insert({st.st_dev, st.st_ino}).second)
    return Added::kDuplicate;
  s.d.libraries[prefix].push_back({.host_path = host, .container_path = rel});
  return Added::kNew;
}

void libraries_from_cache(LibraryScan& s, const std::vector<LdCacheEntry>& entries) {
  for (const auto& e : entries) {
    if (!e.x86_64 || e.path.empty() || e.path.front() != '/') continue;
    auto real = resolve_in_root(s.root, e.path);
    if (!real || add_library(s, *real) == Added::kOtherVersion) continue;
    std::string file = basename_of(*real);
    // "libcuda.so" entries are development links (ldconfig lists them too), not sonames.
    if (e.name != file && !e.name.ends_with(".so") && dirname_of(*real) == dirname_of(clean_path(e.path)))
      s.d.sonames[e.name] = file;
  }
}

constexpr std::array<const char*, 5> kLibraryFolders = {
    "usr/lib/x86_64-linux-gnu", "usr/lib64", "lib64", "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu/nvidia/current"};

// Without a cache: the regular files of the standard folders, sonames from their ELF headers.
void libraries_from_folders(LibraryScan& s) {
  for (const char* folder : kLibraryFolders) {
    auto names = list_dir(path_join(s.root, folder));
    if (!names.ok()) continue;
    std::sort(names->begin(), names->end());
    for (const auto& name : *names) {
      std::string rel = "/" + std::string(folder) + "/" + name;
      struct stat st {};
      if (::lstat(path_join(s.root, rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (add_library(s, rel) != Added::kNew) continue;
      auto soname = read_elf_soname(path_join(s.root, rel));
      if (!soname.ok())
        s.d.warnings.push_back("no soname for " + path_join(s.root, rel) + ": " + soname.error().message());
      else if (!soname->empty() && *soname != name)
        s.d.sonames[*soname] = name;
    }
  }
}

Status find_libraries(const HostRoots& roots, DriverInfo& d) {
  LibraryScan s{roots.driver, d.version, d, {}, {}};
  std::string cache = path_join(roots.driver, "etc/ld.so.cache");
  if (path_exists(cache))
    libraries_from_cache(s, TRY(read_ldcache(cache)));
  else
    libraries_from_folders(s);
  // A library of another version and none of this one: the driver was upgraded (or
  // downgraded) without a reboot, and containers would get a mismatched pair.
  for (const auto& other : s.other_versions) {
    std::string prefix = other.substr(0, other.find(".so."));
    if (d.libraries.count(prefix) == 0)
      d.warnings.push_back("the kernel module is " + d.version + " but the library is " + other +
                           " (driver upgraded without a reboot?)");
  }
  return ok();
}

// ---------------------------------------------------------------- binaries, firmware

void find_binaries(const HostRoots& roots, DriverInfo& d) {
  std::vector<std::string> names = binaries_for(kAllCapabilities);
  names.insert(names.end(), {"nvidia-imex", "nvidia-imex-ctl"});
  for (const auto& name : names) {
    for (const char* dir : {"usr/bin", "bin"}) {
      std::string rel = "/" + std::string(dir) + "/" + name;
      auto real = resolve_in_root(roots.driver, rel);
      if (!real) continue;
      d.binaries[name] = {.host_path = path_join(roots.driver, *real), .container_path = rel};
      break;
    }
  }
}

void find_firmware(const HostRoots& roots, DriverInfo& d) {
  std::string rel_dir = "/lib/firmware/nvidia/" + d.version;
  auto names = list_dir(path_join(roots.driver, rel_dir));
  if (!names.ok()) return;
  std::sort(names->begin(), names->end());
  for (const auto& n : *names)
    if (starts_with(n, "gsp") && n.ends_with(".bin"))
      d.firmware.push_back({.host_path = path_join(roots.driver, rel_dir + "/" + n),
                            .container_path = rel_dir + "/" + n});
}

// ---------------------------------------------------------------- CUDA version

// What the probing child sends back: one fixed-size record, so the child writes it with one
// write(2) and allocates nothing of its own after fork.
struct ProbeReport {
  int32_t step = 0;  // 0 ok, 1 dlopen, 2 dlsym, 3 cuDriverGetVersion failed
  int32_t value = 0;
  std::array<char, 256> text{};
};

[[noreturn]] void probe_child(const char* lib, int fd) {
  ProbeReport r;
  void* h = ::dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  // cuInit is looked up but not called: it opens /dev/nvidia*, which can block for seconds
  // on an idle GPU without persistence mode; cuDriverGetVersion needs no initialisation.
  void* init = h != nullptr ? ::dlsym(h, "cuInit") : nullptr;
  void* get = h != nullptr ? ::dlsym(h, "cuDriverGetVersion") : nullptr;
  if (h == nullptr || init == nullptr || get == nullptr) {
    r.step = h == nullptr ? 1 : 2;
    const char* e = ::dlerror();
    if (e != nullptr) std::strncpy(r.text.data(), e, r.text.size() - 1);
  } else {
    using GetVersion = int (*)(int*);
    int v = 0;
    int rc = reinterpret_cast<GetVersion>(get)(&v);
    r.step = rc == 0 ? 0 : 3;
    r.value = rc == 0 ? v : rc;
  }
  (void)!::write(fd, &r, sizeof r);
  ::_exit(0);
}

// Reads the child's report, waiting at most timeout_ms. False on timeout or a short read.
bool read_report(int fd, int timeout_ms, ProbeReport* r) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t got = 0;
  auto* out = reinterpret_cast<char*>(r);
  while (got < sizeof *r) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                       std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ssize_t k = ::read(fd, out + got, sizeof *r - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    got += static_cast<size_t>(k);
  }
  return true;
}

void reap(pid_t pid, bool kill_it) {
  if (kill_it) ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::string cuda_cache_path(const std::string& cache_dir, const std::string& version) {
  return path_join(cache_dir, "cuda-version-" + version + ".json");
}

// The cached CUDA version for this driver version and libcuda, or "".
std::string cached_cuda_version(const std::string& path, const std::string& version,
                                const std::string& libcuda) {
  auto text = read_file(path, 4096);
  if (!text.ok()) return "";
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "";
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (str("driver_version") != version || str("libcuda") != libcuda) return "";
  std::string cuda = str("cuda_version");
  return is_version(cuda) ? cuda : "";
}

void find_cuda_version(const std::string& cache_dir, DriverInfo& d) {
  auto it = d.libraries.find("libcuda");
  if (it == d.libraries.end() || it->second.empty()) return;
  const std::string& libcuda = it->second.front().host_path;
  std::string path = cache_dir.empty() ? "" : cuda_cache_path(cache_dir, d.version);
  if (!path.empty()) d.cuda_version = cached_cuda_version(path, d.version, libcuda);
  if (!d.cuda_version.empty()) return;
  auto v = cuda_driver_version(libcuda);
  if (!v.ok()) {
    d.warnings.push_back("cannot read the CUDA version: " + v.error().message());
    return;
  }
  d.cuda_version = *v;
  if (path.empty()) return;
  nlohmann::json j = {{"driver_version", d.version}, {"libcuda", libcuda}, {"cuda_version", *v}};
  Status st = mkdir_all(cache_dir, 0700);
  if (st.ok()) st = write_file_atomic(path, j.dump() + "\n", 0644, Durability::volatile_ok);
  if (!st.ok()) d.warnings.push_back("cannot cache the CUDA version: " + st.error().message());
}

}  // namespace

HostRoots roots_from_env(HostRoots base) {
  auto set = [](const char* var, std::string& field) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') field = v;
  };
  set("BERTH_NVIDIA_DRIVER_ROOT", base.driver);
  set("BERTH_NVIDIA_DEV_ROOT", base.dev);
  set("BERTH_NVIDIA_PROC_ROOT", base.proc);
  set("BERTH_NVIDIA_SYS_ROOT", base.sys);
  set("BERTH_NVIDIA_RUN_ROOT", base.run);
  return base;
}

Result<DriverInfo> discover(const HostRoots& roots, const std::string& cache_dir) {
  DriverInfo d;
  d.version = TRY(driver_version(roots, d.warnings));
  read_majors(roots, d);
  d.gpus = TRY(read_gpus(roots));
  auto minors = read_mig_minors(roots);
  for (auto& g : d.gpus) g.migs = TRY(read_migs(roots, g, minors));
  check_control_node(roots, d);
  TRY(find_libraries(roots, d));
  find_binaries(roots, d);
  find_firmware(roots, d);
  find_cuda_version(cache_dir, d);
  return d;
}

Result<std::string> cuda_driver_version(const std::string& libcuda_path, int timeout_ms) {
  // A bare name would make dlopen search the host's library path: only a path is loaded.
  if (libcuda_path.find('/') == std::string::npos)
    return Error::invalid("load libcuda: not a path", libcuda_path);
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return sys_error("pipe2");
  UniqueFd rd(fds[0]), wr(fds[1]);
  const char* lib = libcuda_path.c_str();
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork", "cuDriverGetVersion probe");
  if (pid == 0) probe_child(lib, wr.get());
  wr.reset();
  ProbeReport r;
  bool answered = read_report(rd.get(), timeout_ms, &r);
  reap(pid, !answered);
  if (!answered)
    return Error(ETIMEDOUT, "cuDriverGetVersion: no answer within " + std::to_string(timeout_ms) +
                                " ms from", libcuda_path);
  r.text.back() = '\0';
  switch (r.step) {
    case 0: break;
    case 1: return Error::invalid("dlopen " + libcuda_path + ": " + r.text.data());
    case 2: return Error::invalid(libcuda_path + " is not libcuda: " + r.text.data());
    default:
      return Error::invalid("cuDriverGetVersion in " + libcuda_path + " failed with CUDA error " +
                            std::to_string(r.value));
  }
  if (r.value < 1000) return Error::invalid("cuDriverGetVersion in " + libcuda_path +
                                            ": bad version " + std::to_string(r.value));
  return std::to_string(r.value / 1000) + "." + std::to_string(r.value % 1000 / 10);
}

namespace {
struct CapabilityFiles {
  Capability cap;
  std::vector<std::string> libraries, binaries;
};

const std::vector<CapabilityFiles>& capability_files() {
  static const std::vector<CapabilityFiles> table = {
      {kUtility,
       {"libnvidia-ml", "libnvidia-cfg", "libnvidia-nscq"},
       {"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nv-fabricmanager"}},
      {kCompute,
       {"libcuda", "libcudadebugger", "libnvidia-opencl", "libnvidia-gpucomp",
        "libnvidia-ptxjitcompiler", "libnvidia-fatbinaryloader", "libnvidia-allocator",
        "libnvidia-compiler", "libnvidia-pkcs11", "libnvidia-pkcs11-openssl3", "libnvidia-nvvm",
        "libnvidia-tileiras"},
       {"nvidia-cuda-mps-control", "nvidia-cuda-mps-server"}},
      {kVideo, {"libvdpau_nvidia", "libnvidia-encode", "libnvidia-opticalflow", "libnvcuvid"}, {}},
      {kGraphics,
       {"libnvidia-eglcore", "libnvidia-glcore", "libnvidia-tls", "libnvidia-glsi", "libnvidia-fbc",
        "libnvidia-ifr", "libnvidia-rtcore", "libnvoptix", "libGLX_nvidia", "libEGL_nvidia",
        "libGLESv2_nvidia", "libGLESv1_CM_nvidia", "libnvidia-glvkspirv", "libnvidia-cbl"},
       {}},
      {kNgx, {"libnvidia-ngx"}, {}},
  };
  return table;
}

// video turns on compute, display turns on graphics (GPU.md 1.2), whoever parsed the bits.
unsigned with_implied(unsigned caps) {
  if (caps & kVideo) caps |= kCompute;
  if (caps & kDisplay) caps |= kGraphics;
  return caps;
}
}  // namespace

std::vector<std::string> libraries_for(unsigned capabilities) {
  std::vector<std::string> out;
  unsigned caps = with_implied(capabilities);
  for (const auto& row : capability_files())
    if (caps & row.cap) out.insert(out.end(), row.libraries.begin(), row.libraries.end());
  return out;
}

std::vector<std::string> binaries_for(unsigned capabilities) {
  std::vector<std::string> out;
  unsigned caps = with_implied(capabilities);
  for (const auto& row : capability_files())
    if (caps & row.cap) out.insert(out.end(), row.binaries.begin(), row.binaries.end());
  return out;
}

}  // namespace berth::gpu
