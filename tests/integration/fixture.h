// fixture.h - what the runtime's integration tests stand on: a bundle with a static rootfs
// (busybox from Debian's busybox-static and the probe), the real berth-runtime binary run
// as a subprocess, and cleanup that leaves no container, cgroup or directory behind.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::test {

struct Output {
  int status = -1;  // exit status (128+N when killed)
  std::string out;
  std::string err;
};

// Runs argv (no shell), optionally feeding stdin; waits at most timeout_s.
Output run_cmd(const std::vector<std::string>& argv, const std::string& input = "",
               int timeout_s = 30);
// Starts argv in the background with stdout/stderr to files; returns its pid.
pid_t spawn_cmd(const std::vector<std::string>& argv, const std::string& out_file);

std::string build_dir();       // where bin/ and tests/ are (BERTH_BUILD_DIR or from /proc/self/exe)
std::string runtime_binary();  // build/bin/berth-runtime
std::string probe_binary();    // build/tests/berth-probe
std::string busybox_binary();  // /bin/busybox (busybox-static), "" when missing

// A temp bundle: rootfs with /bin/busybox (+ applets), /bin/probe, and a config.json
// from `berth-runtime spec`, adjusted to run without a terminal.
class Bundle {
 public:
  Bundle();
  ~Bundle();
  const std::string& dir() const { return dir_; }
  std::string rootfs() const { return dir_ + "/rootfs"; }
  nlohmann::json& config() { return config_; }
  void set_args(const std::vector<std::string>& args) { config_["process"]["args"] = args; }
  void write_config() const;

 private:
  std::string dir_;
  nlohmann::json config_;
};

// Runs berth-runtime with a private --root; deletes every container it made on destruction
// and checks that no cgroup named after one is left.
class RuntimeFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  Output rt(std::vector<std::string> args, const std::string& input = "", int timeout_s = 30);
  // run --bundle B ID with the bundle's config written first.
  Output run(Bundle& b, const std::string& id, std::vector<std::string> extra = {});
  std::string unique_id(const std::string& base);
  // key=value lines of probe output -> values of key.
  static std::vector<std::string> values(const std::string& out, const std::string& key);
  static std::string value(const std::string& out, const std::string& key);

  std::string root_;
  std::vector<std::string> ids_;
};

// Skip unless root: the runtime needs namespaces, mounts and cgroups.
#define REQUIRE_ROOT()                                                                        \
  do {                                                                                        \
    if (geteuid() != 0) GTEST_SKIP() << "needs root: creates namespaces, mounts and cgroups"; \
  } while (0)

}  // namespace berth::test
