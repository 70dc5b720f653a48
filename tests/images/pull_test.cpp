#include "images_fixture.h"

namespace berth::imgtest {
namespace {

TEST(FixtureTest, InstallFixtureImage) {
  BerthEnv env;
  Scratch s;
  FixtureImage img = make_busybox_image(s.path());
  std::string id = install_fixture(env, img, {"docker.io/library/bb:latest"});
  EXPECT_EQ(id, img.config_digest);
}

}  // namespace
}  // namespace berth::imgtest
