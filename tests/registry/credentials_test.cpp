// docker's client config against real registries: credential helpers (fake
// docker-credential-* scripts on a temp PATH, one that fails) and the "config.json
// permission denied" problem (a ~/.docker owned by root after `sudo docker login`).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "fixture.h"
#include "sinks.h"

namespace berth::regtest {
namespace {

using registry::CredentialStore;

// Puts dir first on PATH for the life of the object.
class PathPrefix {
 public:
  explicit PathPrefix(const std::string& dir) : saved_(getenv("PATH") ? getenv("PATH") : "") {
    setenv("PATH", (dir + ":" + saved_).c_str(), 1);
  }
  ~PathPrefix() { setenv("PATH", saved_.c_str(), 1); }

 private:
  std::string saved_;
};

class Helpers : public RegistryTest<Variant::basic> {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    bin_ = std::make_unique<Scratch>();
    path_ = std::make_unique<PathPrefix>(bin_->path());
    log_ = *bin_ / "helper.log";
    // get: answers for our registry only; store/erase: log what arrived on stdin.
    write_text(*bin_ / "docker-credential-fake",
               "#!/bin/sh\nin=$(cat)\necho \"$1 $in\" >> " + log_ +
                   "\n"
                   "case \"$1\" in\n"
                   "get) if [ \"$in\" = \"" +
                   reg_->host() +
                   "\" ]; then\n"
                   "  printf '{\"ServerURL\":\"%s\",\"Username\":\"" +
                   Registry::kUser + "\",\"Secret\":\"" + Registry::kPassword +
                   "\"}' \"$in\"\n"
                   "  else echo 'credentials not found in native keychain'; exit 1; fi;;\n"
                   "store|erase) ;;\n"
                   "*) exit 2;;\nesac\n",
               0755);
    write_text(*bin_ / "docker-credential-broken",
               "#!/bin/sh\ncat >/dev/null\necho 'boom: keychain locked' >&2\nexit 3\n", 0755);
  }
  CredentialStore store_with(const std::string& config) {
    write_text(*bin_ / "config.json", config);
    return CredentialStore::open(bin_->path(), CredentialStore::Mode::strict).value();
  }
  std::unique_ptr<Scratch> bin_;
  std::unique_ptr<PathPrefix> path_;
  std::string log_;
};

TEST_F(Helpers, CredsStoreSuppliesCredentials) {
  CredentialStore store = store_with(R"({"credsStore":"fake"})");
  auto o = reg_->options();
  o.credentials = &store;
  auto m = client(o)->get_manifest(kRepo, "latest");
  ASSERT_TRUE(m) << m.error().trail();
  EXPECT_EQ(read_text(log_), "get " + reg_->host() + "\n");  // asked once, with the host
  EXPECT_FALSE(store.get("other.example").value());          // "not found" is not an error
}

TEST_F(Helpers, CredHelpersWinOverCredsStore) {
  CredentialStore store =
      store_with(R"({"credsStore":"broken","credHelpers":{")" + reg_->host() + R"(":"fake"}})");
  auto o = reg_->options();
  o.credentials = &store;
  EXPECT_TRUE(client(o)->get_manifest(kRepo, "latest"));
}

TEST_F(Helpers, StoreAndEraseGoThroughTheHelper) {
  CredentialStore store = store_with(R"({"credsStore":"fake"})");
  ASSERT_TRUE(store.store(reg_->host(), {"u", "p", ""}));
  ASSERT_TRUE(store.erase(reg_->host()));
  std::string log = read_text(log_);
  EXPECT_NE(
      log.find(R"(store {"Secret":"p","ServerURL":")" + reg_->host() + R"(","Username":"u"})"),
      std::string::npos)
      << log;
  EXPECT_NE(log.find("erase " + reg_->host()), std::string::npos) << log;
  std::string cfg = read_text(*bin_ / "config.json");
  EXPECT_EQ(cfg.find("\"auth\""), std::string::npos) << "the secret must not be in config.json";
}

TEST_F(Helpers, AFailingHelperIsAClearError) {
  CredentialStore store = store_with(R"({"credsStore":"broken"})");
  auto o = reg_->options();
  o.credentials = &store;
  auto m = client(o)->get_manifest(kRepo, "latest");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(),
            "credential helper docker-credential-broken failed to get "
            "credentials for " +
                reg_->host() + ": exit status 3: boom: keychain locked");
}

TEST_F(Helpers, AMissingHelperIsNamed) {
  CredentialStore store = store_with(R"({"credsStore":"nothere"})");
  auto r = store.get(reg_->host());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "credential helper docker-credential-nothere not found in PATH");
}

// The seeds' problem: config.json that this user cannot read. As root, the check runs in
// a child that has become nobody.
class ConfigPermission : public RegistryTest<Variant::plain> {};

struct PermissionReport {
  std::string soft_problem, strict_error, pull;
};

PermissionReport probe_as_other_user(const std::string& dir, const std::string& host,
                                     const registry::ClientOptions& opts) {
  int p[2];
  if (pipe(p) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(1);
    auto soft = CredentialStore::open(dir, CredentialStore::Mode::soft);
    auto strict = CredentialStore::open(dir, CredentialStore::Mode::strict);
    registry::ClientOptions o = opts;
    o.credentials = &*soft;
    auto c = registry::Client::create(host, o);
    auto m = (*c)->get_manifest("test/small", "latest");
    std::string out = (soft->problem() ? soft->problem()->message() : "") + "\n" +
                      (strict ? "" : strict.error().message()) + "\n" +
                      (m ? "ok" : m.error().message()) + "\n";
    (void)!write(p[1], out.data(), out.size());
    _exit(0);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  waitpid(pid, nullptr, 0);
  auto lines = std::vector<std::string>{};
  for (size_t pos = 0; pos < out.size();) {
    size_t nl = out.find('\n', pos);
    lines.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  lines.resize(3);
  return {lines[0], lines[1], lines[2]};
}

TEST_F(ConfigPermission, ExplainsAndStillPullsPublicImages) {
  Scratch home;
  std::string dir = home / ".docker";
  ASSERT_TRUE(mkdir_all(dir, 0700));
  write_text(dir + "/config.json", R"({"auths":{}})", 0600);
  if (getuid() != 0) chmod((dir + "/config.json").c_str(), 0);
  PermissionReport r = probe_as_other_user(dir, reg_->host(), reg_->options());
  std::string path = dir + "/config.json";
  EXPECT_NE(r.soft_problem.find("cannot read " + path + ": permission denied"), std::string::npos)
      << r.soft_problem;
  // As root the child (nobody) meets a root-owned file; as a user, a file of mode 000.
  std::string fix = getuid() == 0 ? "sudo chown -R nobody " : "chmod -R u+rwX ";
  EXPECT_NE(r.soft_problem.find(fix + dir), std::string::npos) << r.soft_problem;
  EXPECT_EQ(r.strict_error, r.soft_problem);
  EXPECT_EQ(r.pull, "ok");  // no credentials needed: the problem does not get in the way
}

}  // namespace
}  // namespace berth::regtest
