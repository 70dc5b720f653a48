// discover.cpp - see discover.h. Reads files: procfs and sysfs for the kernel module, the
// driver root's ld.so.cache and folders for its user-space files. Calls into the driver run in
// forked children: cuDriverGetVersion (cached per driver version) and, only for GPUs with MIG
// instances, NVML's MIG device list (not cached: MIG layouts change at run time).
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
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>
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

// The DeviceFileMinor of a capabilities file; -1 when it has none.
int device_file_minor(const std::string& path) {
  auto text = read_file(path, kMaxProcFile);
  if (!text.ok()) return -1;
  for (const auto& line : split(*text, '\n'))
    if (starts_with(line, "DeviceFileMinor:"))
      if (auto m = parse_int(trim(std::string_view(line).substr(16))); m && *m >= 0 && *m <= INT32_MAX)
        return static_cast<int>(*m);
  return -1;
}

// The minor of a MIG access capability (gpu "gpu0", rest "gi1/access"): from its
// capabilities file, which exists for the instances the driver has now, else from the
// driver's fixed mig-minors table. -1 when neither has it.
int cap_minor(const HostRoots& roots, const std::map<std::string, int>& minors,
              const std::string& gpu, const std::string& rest) {
  int m = device_file_minor(
      path_join(roots.proc, "driver/nvidia/capabilities/" + gpu + "/mig/" + rest));
  if (m >= 0) return m;
  auto it = minors.find(gpu + "/" + rest);
  return it != minors.end() ? it->second : -1;
}

// Whether the GPU has MIG instances now: PROC/driver/nvidia/capabilities/gpu<minor>/mig/
// holds gi<N> folders. Only then is NVML loaded, so the common start path never is.
bool has_gpu_instances(const HostRoots& roots, const GpuInfo& g) {
  auto names = list_dir(
      path_join(roots.proc, "driver/nvidia/capabilities/gpu" + std::to_string(g.minor) + "/mig"));
  if (!names.ok()) return false;
  return std::any_of(names->begin(), names->end(), [](const std::string& n) {
    return n.size() > 2 && starts_with(n, "gi") && std::all_of(n.begin() + 2, n.end(), [](char c) {
             return std::isdigit(static_cast<unsigned char>(c));
           });
  });
}

void fill_access_minors(const HostRoots& roots, const std::map<std::string, int>& minors,
                        const GpuInfo& g, std::vector<MigDevice>& migs) {
  std::string gpu = "gpu" + std::to_string(g.minor);
  for (auto& m : migs) {
    std::string gi_dir = "gi" + std::to_string(m.gi);
    m.gi_access_minor = cap_minor(roots, minors, gpu, gi_dir + "/access");
    m.ci_access_minor = cap_minor(roots, minors, gpu, gi_dir + "/ci" + std::to_string(m.ci) + "/access");
  }
}

// The MIG devices of the GPUs with MIG instances, from NVML in one child. Every failure is
// a warning: only a caller that needs a MIG device can tell whether it matters.
void find_migs(const HostRoots& roots, int timeout_ms, DriverInfo& d) {
  std::vector<GpuInfo*> gpus;
  for (auto& g : d.gpus)
    if (has_gpu_instances(roots, g)) gpus.push_back(&g);
  if (gpus.empty()) return;
  std::vector<std::string> buses;
  for (const auto* g : gpus) buses.push_back(g->bus_id);
  auto lib = d.libraries.find("libnvidia-ml");
  if (lib == d.libraries.end() || lib->second.empty()) {
    d.warnings.push_back("MIG instances on " + join(buses, ", ") + " but no libnvidia-ml.so." +
                         d.version + " under " + roots.driver + ": MIG devices are not listed");
    return;
  }
  auto all = nvml_mig_devices_for(lib->second.front().host_path, buses, timeout_ms);
  if (!all.ok()) {
    d.warnings.push_back("cannot list the MIG devices: " + all.error().message());
    return;
  }
  auto minors = read_mig_minors(roots);
  for (size_t i = 0; i < gpus.size(); ++i) {
    auto& one = (*all)[i];
    if (!one.ok()) {
      d.warnings.push_back("cannot list the MIG devices of GPU " + buses[i] + ": " +
                           one.error().message());
      continue;
    }
    fill_access_minors(roots, minors, *gpus[i], *one);
    gpus[i]->migs = std::move(*one);
  }
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

enum class ReadEnd { kFull, kTimeout, kClosed };

// Reads exactly n bytes from a probing child's pipe before deadline.
ReadEnd read_exact(int fd, std::chrono::steady_clock::time_point deadline, void* buf, size_t n) {
  size_t got = 0;
  auto* out = static_cast<char*>(buf);
  while (got < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                       std::chrono::steady_clock::now());
    if (left.count() <= 0) return ReadEnd::kTimeout;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    int k = ::poll(&p, 1, static_cast<int>(left.count()));
    if (k < 0 && errno == EINTR) continue;
    if (k == 0) return ReadEnd::kTimeout;
    if (k < 0) return ReadEnd::kClosed;
    ssize_t r = ::read(fd, out + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return ReadEnd::kClosed;
    got += static_cast<size_t>(r);
  }
  return ReadEnd::kFull;
}

// Reads the child's report, waiting at most timeout_ms. False on timeout or a short read.
bool read_report(int fd, int timeout_ms, ProbeReport* r) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  return read_exact(fd, deadline, r, sizeof *r) == ReadEnd::kFull;
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

// ---------------------------------------------------------------- NVML: MIG devices

// The few NVML declarations the probe needs, so building berth needs no nvml.h.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlNotFound = 6;  // NVML_ERROR_NOT_FOUND: an empty MIG slot
constexpr unsigned kNvmlUuidSize = 96;     // NVML_DEVICE_UUID_V2_BUFFER_SIZE
// A GPU has at most 7 MIG devices today (A100, H100, B200); libnvidia-container allows 8.
constexpr unsigned kMaxMigsPerGpu = 16;
constexpr size_t kMaxProbeGpus = 64;

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*by_bus)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*max_migs)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*mig_by_index)(nvmlDevice_t, unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*gi_id)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*ci_id)(nvmlDevice_t, unsigned*) = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;  // optional: only for messages
};

// The call a failure record is about.
enum NvmlStep : int32_t {
  kStepDlopen = 1,
  kStepDlsym,
  kStepInit,
  kStepHandle,
  kStepMaxMigs,
  kStepMigHandle,
  kStepUuid,
  kStepGiId,
  kStepCiId
};

const char* step_name(int32_t step) {
  switch (step) {
    case kStepInit:
      return "nvmlInit_v2";
    case kStepHandle:
      return "nvmlDeviceGetHandleByPciBusId_v2";
    case kStepMaxMigs:
      return "nvmlDeviceGetMaxMigDeviceCount";
    case kStepMigHandle:
      return "nvmlDeviceGetMigDeviceHandleByIndex";
    case kStepUuid:
      return "nvmlDeviceGetUUID";
    case kStepGiId:
      return "nvmlDeviceGetGpuInstanceId";
    case kStepCiId:
      return "nvmlDeviceGetComputeInstanceId";
    default:
      return "NVML";
  }
}

enum NvmlKind : int32_t { kMigFound = 1, kGpuFailed, kProbeFailed, kProbeDone };

// One record of the NVML child: a MIG device, one GPU's failure, the whole probe's failure,
// or the end. Fixed size, so the child writes from the stack and allocates nothing.
struct NvmlRecord {
  int32_t kind = 0;
  int32_t gpu = 0;   // position in the bus id list
  int32_t step = 0;  // NvmlStep of a failure
  int32_t rc = 0;    // nvmlReturn_t of a failure
  uint32_t index = 0, gi = 0, ci = 0;
  std::array<char, 128> text{};  // the MIG UUID, or dlerror's / nvmlErrorString's text
};

void copy_text(std::array<char, 128>& to, const char* from) {
  if (from != nullptr) std::strncpy(to.data(), from, to.size() - 1);
}

void send_record(int fd, const NvmlRecord& r) {
  const auto* p = reinterpret_cast<const char*>(&r);
  size_t left = sizeof r;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(1);  // the parent stopped listening
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Looks up every call; returns the name of the first one missing, nullptr when all are there.
const char* load_nvml(void* h, NvmlApi* api) {
  auto get = [h](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
    return fn != nullptr;
  };
  if (!get(api->init, "nvmlInit_v2")) return "nvmlInit_v2";
  if (!get(api->shutdown, "nvmlShutdown")) return "nvmlShutdown";
  if (!get(api->by_bus, "nvmlDeviceGetHandleByPciBusId_v2"))
    return "nvmlDeviceGetHandleByPciBusId_v2";
  if (!get(api->max_migs, "nvmlDeviceGetMaxMigDeviceCount"))
    return "nvmlDeviceGetMaxMigDeviceCount";
  if (!get(api->mig_by_index, "nvmlDeviceGetMigDeviceHandleByIndex"))
    return "nvmlDeviceGetMigDeviceHandleByIndex";
  if (!get(api->uuid, "nvmlDeviceGetUUID")) return "nvmlDeviceGetUUID";
  if (!get(api->gi_id, "nvmlDeviceGetGpuInstanceId")) return "nvmlDeviceGetGpuInstanceId";
  if (!get(api->ci_id, "nvmlDeviceGetComputeInstanceId")) return "nvmlDeviceGetComputeInstanceId";
  get(api->error_string, "nvmlErrorString");
  return nullptr;
}

// Sends the MIG devices of one GPU, or the call that failed. Slots NVML reports empty
// (NOT_FOUND) are skipped and the others keep their NVML index, as go-nvlib does.
void probe_gpu(const NvmlApi& api, int fd, int32_t gpu, const char* bus) {
  auto fail = [&](int32_t step, nvmlReturn_t rc, unsigned index) {
    NvmlRecord r{.kind = kGpuFailed, .gpu = gpu, .step = step, .rc = rc, .index = index};
    if (api.error_string != nullptr) copy_text(r.text, api.error_string(rc));
    send_record(fd, r);
  };
  nvmlDevice_t dev = nullptr;
  unsigned max = 0;
  if (nvmlReturn_t rc = api.by_bus(bus, &dev); rc != 0) return fail(kStepHandle, rc, 0);
  if (nvmlReturn_t rc = api.max_migs(dev, &max); rc != 0) return fail(kStepMaxMigs, rc, 0);
  for (unsigned j = 0; j < max && j < kMaxMigsPerGpu; ++j) {
    nvmlDevice_t mig = nullptr;
    nvmlReturn_t rc = api.mig_by_index(dev, j, &mig);
    if (rc == kNvmlNotFound) continue;
    if (rc != 0) return fail(kStepMigHandle, rc, j);
    NvmlRecord r{.kind = kMigFound, .gpu = gpu, .index = j};
    std::array<char, kNvmlUuidSize> uuid{};
    if ((rc = api.uuid(mig, uuid.data(), static_cast<unsigned>(uuid.size()))) != 0)
      return fail(kStepUuid, rc, j);
    if ((rc = api.gi_id(mig, &r.gi)) != 0) return fail(kStepGiId, rc, j);
    if ((rc = api.ci_id(mig, &r.ci)) != 0) return fail(kStepCiId, rc, j);
    uuid.back() = '\0';
    copy_text(r.text, uuid.data());
    send_record(fd, r);
  }
}

// The NVML child: everything it needs was prepared before fork; it reports over fd.
[[noreturn]] void nvml_child(const char* lib, const std::vector<const char*>& buses, int fd) {
  NvmlRecord r{.kind = kProbeFailed};
  void* h = ::dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  NvmlApi api;
  const char* missing = h != nullptr ? load_nvml(h, &api) : nullptr;
  if (h == nullptr || missing != nullptr) {
    r.step = h == nullptr ? kStepDlopen : kStepDlsym;
    copy_text(r.text, h == nullptr ? ::dlerror() : missing);
    send_record(fd, r);
    ::_exit(0);
  }
  if (nvmlReturn_t rc = api.init(); rc != 0) {
    r.step = kStepInit;
    r.rc = rc;
    if (api.error_string != nullptr) copy_text(r.text, api.error_string(rc));
    send_record(fd, r);
    ::_exit(0);
  }
  for (size_t i = 0; i < buses.size(); ++i) probe_gpu(api, fd, static_cast<int32_t>(i), buses[i]);
  api.shutdown();
  send_record(fd, NvmlRecord{.kind = kProbeDone});
  ::_exit(0);
}

bool is_hex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

// "0000:01:00.0" (procfs) or "00000000:01:00.0" -> "00000000:01:00.0", the 32-bit domain
// form NVML takes, in the upper case NVML itself prints; "" when bus is neither.
std::string nvml_bus_id(std::string_view bus) {
  size_t colon = bus.find(':');
  if (colon == std::string_view::npos) return "";
  std::string_view domain = bus.substr(0, colon), rest = bus.substr(colon + 1);
  if (!(is_hex(domain, 4) || is_hex(domain, 8)) || rest.size() != 7 || rest[2] != ':' ||
      rest[5] != '.' || !is_hex(rest.substr(0, 2), 2) || !is_hex(rest.substr(3, 2), 2) ||
      rest[6] < '0' || rest[6] > '7')
    return "";
  std::string out = std::string(8 - domain.size(), '0') + std::string(bus);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string nvml_error(const NvmlRecord& r) {
  std::string out = "NVML error " + std::to_string(r.rc);
  if (r.text[0] != '\0') out += std::string(" (") + r.text.data() + ")";
  return out;
}

// A MIG record that is what NVML documents: a "MIG-" UUID of [A-Za-z0-9-], ids in range.
bool valid_mig(const NvmlRecord& r) {
  std::string_view uuid(r.text.data());
  return starts_with(uuid, "MIG-") && uuid.size() > 4 && r.index < kMaxMigsPerGpu && r.gi < 1000 &&
         r.ci < 1000 && std::all_of(uuid.begin(), uuid.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
         });
}

// Applies one record from the child to out; an error for what ends the whole probe.
Status take_record(NvmlRecord& r, const std::vector<std::string>& buses, const std::string& lib,
                   std::vector<Result<std::vector<MigDevice>>>& out) {
  r.text.back() = '\0';
  if (r.kind == kProbeFailed) {
    if (r.step == kStepDlopen) return Error::invalid("dlopen " + lib + ": " + r.text.data());
    if (r.step == kStepDlsym)
      return Error::invalid(lib + " is not libnvidia-ml: no " + r.text.data());
    return Error::invalid(std::string(step_name(r.step)) + " in " + lib +
                          " failed: " + nvml_error(r));
  }
  if (r.gpu < 0 || static_cast<size_t>(r.gpu) >= buses.size() ||
      (r.kind != kMigFound && r.kind != kGpuFailed))
    return Error::invalid("the NVML probe of " + lib + " sent a garbled record");
  auto& gpu = out[static_cast<size_t>(r.gpu)];
  if (!gpu.ok()) return ok();
  const std::string& bus = buses[static_cast<size_t>(r.gpu)];
  if (r.kind == kGpuFailed) {
    std::string call = std::string(step_name(r.step)) + "(" + bus +
                       (r.step >= kStepMigHandle ? ", " + std::to_string(r.index) : "") + ")";
    gpu = Error::invalid(call + " failed: " + nvml_error(r));
  } else if (!valid_mig(r)) {
    gpu =
        Error::invalid("NVML answered a bad MIG device " + std::to_string(r.index) + " for " + bus);
  } else {
    gpu->push_back({.uuid = r.text.data(),
                    .index = static_cast<int>(r.index),
                    .gi = static_cast<int>(r.gi),
                    .ci = static_cast<int>(r.ci)});
  }
  return ok();
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
  return discover(roots, cache_dir, kNvmlProbeTimeoutMs);
}

Result<DriverInfo> discover(const HostRoots& roots, const std::string& cache_dir,
                            int nvml_timeout_ms) {
  DriverInfo d;
  d.version = TRY(driver_version(roots, d.warnings));
  read_majors(roots, d);
  d.gpus = TRY(read_gpus(roots));
  check_control_node(roots, d);
  TRY(find_libraries(roots, d));
  find_migs(roots, nvml_timeout_ms, d);  // needs libnvidia-ml
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

Result<std::vector<Result<std::vector<MigDevice>>>> nvml_mig_devices_for(
    const std::string& libnvidia_ml_path, const std::vector<std::string>& bus_ids, int timeout_ms) {
  const std::string& lib = libnvidia_ml_path;
  // A bare name would make dlopen search the host's library path: only a path is loaded.
  if (lib.find('/') == std::string::npos)
    return Error::invalid("load libnvidia-ml: not a path", lib);
  if (bus_ids.empty() || bus_ids.size() > kMaxProbeGpus)
    return Error::invalid("NVML probe: " + std::to_string(bus_ids.size()) + " GPUs (1 to " +
                          std::to_string(kMaxProbeGpus) + ")");
  std::vector<std::string> ids;
  for (const auto& b : bus_ids) {
    ids.push_back(nvml_bus_id(b));
    if (ids.back().empty()) return Error::invalid("bad PCI bus id", b);
  }
  std::vector<const char*> id_ptrs;  // built before fork: the child allocates nothing
  for (const auto& id : ids) id_ptrs.push_back(id.c_str());
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return sys_error("pipe2");
  UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork", "NVML probe");
  if (pid == 0) nvml_child(lib.c_str(), id_ptrs, wr.get());
  wr.reset();

  std::vector<Result<std::vector<MigDevice>>> out(ids.size(), std::vector<MigDevice>{});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // A child that keeps sending (a broken library) is cut off: one record per MIG slot and
  // per GPU failure, the end record.
  size_t max_records = ids.size() * (kMaxMigsPerGpu + 1) + 1;
  for (size_t n = 0; n < max_records; ++n) {
    NvmlRecord r;
    ReadEnd end = read_exact(rd.get(), deadline, &r, sizeof r);
    if (end != ReadEnd::kFull) {
      reap(pid, true);
      if (end == ReadEnd::kTimeout)
        return Error(ETIMEDOUT, "NVML: no answer within " + std::to_string(timeout_ms) + " ms from",
                     lib);
      return Error::invalid("the NVML probe of " + lib + " ended without an answer (crashed?)");
    }
    if (r.kind == kProbeDone) {
      reap(pid, false);
      return out;
    }
    if (Status st = take_record(r, ids, lib, out); !st.ok()) {
      reap(pid, true);
      return st.error();
    }
  }
  reap(pid, true);
  return Error::invalid("the NVML probe of " + lib + " sent too many records");
}

Result<std::vector<MigDevice>> nvml_mig_devices(const std::string& libnvidia_ml_path,
                                                const std::string& bus_id, int timeout_ms) {
  auto all = TRY(nvml_mig_devices_for(libnvidia_ml_path, {bus_id}, timeout_ms));
  return std::move(all.front());
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
