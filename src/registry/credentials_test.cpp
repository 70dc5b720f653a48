#include "registry/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file.h"

namespace berth::registry {
namespace {

TEST(CredentialKeys, DockerHubAndOthers) {
  struct Case {
    std::string registry, key;
  } cases[] = {{"docker.io", "https://index.docker.io/v1/"},
               {"index.docker.io", "https://index.docker.io/v1/"},
               {"registry-1.docker.io", "https://index.docker.io/v1/"},
               {"ghcr.io", "ghcr.io"},
               {"localhost:5000", "localhost:5000"}};
  for (const auto& c : cases) EXPECT_EQ(credential_key(c.registry), c.key);
  EXPECT_EQ(key_hostname("https://index.docker.io/v1/"), "index.docker.io");
  EXPECT_EQ(key_hostname("docker.io"), "index.docker.io");
  EXPECT_EQ(key_hostname("http://reg:5000/v2/"), "reg:5000");
  EXPECT_EQ(key_hostname("reg:5000"), "reg:5000");
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp/berth-creds-");
    ASSERT_TRUE(t);
    tmp_.emplace(std::move(*t));
    dir_ = tmp_->path() + "/docker";
  }
  void write_config(const std::string& text) {
    ASSERT_TRUE(mkdir_all(dir_, 0700));
    ASSERT_TRUE(write_file_atomic(dir_ + "/config.json", text, 0600));
  }
  CredentialStore open_strict() {
    auto s = CredentialStore::open(dir_, CredentialStore::Mode::strict);
    EXPECT_TRUE(s) << s.error().message();
    return std::move(s).value();
  }
  std::optional<TempDir> tmp_;
  std::string dir_;
};

TEST_F(CredentialsTest, MissingConfigIsEmpty) {
  CredentialStore s = open_strict();
  EXPECT_FALSE(s.problem());
  EXPECT_FALSE(s.get("ghcr.io").value());
}

TEST_F(CredentialsTest, ReadsAuthsAnyKeyForm) {
  write_config(R"({"auths":{
    "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
    "http://reg.example:5000/v2/":{"auth":"dTpwOnE="},
    "tok.example":{"identitytoken":"refresh"},
    "legacy.example":{"username":"lu","password":"lp"},
    "broken.example":{"auth":"!!!"}},
    "unknownField":{"kept":true}})");
  CredentialStore s = open_strict();
  auto hub = s.get("docker.io").value();
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "secret");
  auto reg = s.get("reg.example:5000").value();
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->password, "p:q");
  EXPECT_EQ(s.get("tok.example").value()->identity_token, "refresh");
  EXPECT_EQ(s.get("legacy.example").value()->username, "lu");
  EXPECT_FALSE(s.get("broken.example").value());
  EXPECT_FALSE(s.get("reg.example").value());  // the port is part of the name
}

TEST_F(CredentialsTest, HelperChoice) {
  write_config(
      R"({"credsStore":"desktop","credHelpers":{"gcr.io":"gcloud","https://index.docker.io/v1/":"hub"}})");
  CredentialStore s = open_strict();
  EXPECT_EQ(s.helper_for("gcr.io"), "gcloud");
  EXPECT_EQ(s.helper_for("docker.io"), "hub");
  EXPECT_EQ(s.helper_for("quay.io"), "desktop");
}

TEST_F(CredentialsTest, StoreWritesPrivateFileAndKeepsOtherFields) {
  write_config(R"({"auths":{"other.example":{"auth":"YTpi"}},"psFormat":"table"})");
  CredentialStore s = open_strict();
  ASSERT_TRUE(s.store("docker.io", AuthConfig{"me", "pw", ""}));
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  CredentialStore again = open_strict();
  EXPECT_EQ(again.get("index.docker.io").value()->password, "pw");
  EXPECT_EQ(again.get("other.example").value()->username, "a");
  std::string text = read_file(dir_ + "/config.json").value();
  EXPECT_NE(text.find("\"psFormat\""), std::string::npos);
  EXPECT_NE(text.find("https://index.docker.io/v1/"), std::string::npos);
  EXPECT_TRUE(again.erase("docker.io").value());
  EXPECT_FALSE(again.erase("docker.io").value());
  EXPECT_FALSE(open_strict().get("docker.io").value());
}

TEST_F(CredentialsTest, PasswordsThatAreNotUtf8DoNotThrow) {
  CredentialStore s = open_strict();
  ASSERT_TRUE(s.store("localhost:5000", AuthConfig{"u", "p\xff", "tok\xfe"}));
  EXPECT_TRUE(open_strict().get("localhost:5000").value());
}

TEST_F(CredentialsTest, StoreCreatesAPrivateFolder) {
  CredentialStore s = open_strict();
  ASSERT_TRUE(s.store("localhost:5000", AuthConfig{"u", "p", ""}));
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(CredentialsTest, InvalidConfig) {
  write_config("{not json");
  auto strict = CredentialStore::open(dir_, CredentialStore::Mode::strict);
  ASSERT_FALSE(strict);
  EXPECT_NE(strict.error().message().find(dir_ + "/config.json"), std::string::npos);
  auto soft = CredentialStore::open(dir_, CredentialStore::Mode::soft);
  ASSERT_TRUE(soft);
  EXPECT_TRUE(soft->problem());
  EXPECT_FALSE(soft->get("docker.io").value());
  EXPECT_FALSE(soft->store("docker.io", AuthConfig{"u", "p", ""}));
  write_config(R"({"auths":[]})");
  EXPECT_FALSE(CredentialStore::open(dir_, CredentialStore::Mode::strict));
}

TEST(DefaultConfigDir, FollowsDockerConfigThenHome) {
  std::string saved_dc = getenv("DOCKER_CONFIG") ? getenv("DOCKER_CONFIG") : "";
  std::string saved_home = getenv("HOME") ? getenv("HOME") : "";
  setenv("DOCKER_CONFIG", "/x/dc", 1);
  EXPECT_EQ(default_config_dir(), "/x/dc");
  unsetenv("DOCKER_CONFIG");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_config_dir(), "/home/u/.docker");
  if (!saved_dc.empty()) setenv("DOCKER_CONFIG", saved_dc.c_str(), 1);
  setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace berth::registry
