// The berth command line: global options, exit status 125 for berth's own errors.
#include "fixture.h"

namespace berth::test {
namespace {

std::string berth_binary() {
  return build_dir() + "/bin/berth";
}

TEST(BerthCli, GlobalOptionsReachTheCommand) {
  Output o = run_cmd({berth_binary(), "--root", "/tmp/b-root", "--runroot", "/tmp/b-run",
                      "--config", "/tmp/b-cfg", "info"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("Root Dir: /tmp/b-root"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Run Root: /tmp/b-run"), std::string::npos);
  EXPECT_NE(o.out.find("Config Dir: /tmp/b-cfg"), std::string::npos);
  EXPECT_NE(o.out.find("Cgroup Version: "), std::string::npos);
}

TEST(BerthCli, UnknownCommandOrFlagExits125) {
  Output o = run_cmd({berth_binary(), "frobnicate"});
  EXPECT_EQ(o.status, 125);
  EXPECT_NE(o.err.find("frobnicate"), std::string::npos) << o.err;
  EXPECT_EQ(run_cmd({berth_binary(), "--no-such-flag", "info"}).status, 125);
  EXPECT_EQ(run_cmd({berth_binary(), "--help"}).status, 0);
  EXPECT_EQ(run_cmd({berth_binary(), "version"}).out.substr(0, 13), "berth version");
}

TEST(BerthCli, DockerConfigEnvironmentIsTheDefaultConfigDir) {
  Output o = run_cmd({"env", "DOCKER_CONFIG=/tmp/dc", berth_binary(), "info"});
  EXPECT_NE(o.out.find("Config Dir: /tmp/dc"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace berth::test
