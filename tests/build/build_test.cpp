// build_test.cpp - `berth build` end to end: the real binary on the busybox fixture image
// (real overlayfs, namespaces, the monitor for RUN steps). Each test writes a context with
// a Dockerfile, builds it, and checks the image's exact config (inspect) and files (a run of
// the image), which steps came from the cache, and the one-line errors of bad input.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "images_fixture.h"
#include "test_util.h"

namespace berth::ctest {
namespace {

namespace fs = std::filesystem;
using imgtest::BerthEnv;
using regtest::Output;
using json = nlohmann::json;

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

class BuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "builds run containers: they need root (namespaces, overlayfs)";
    img_ = imgtest::make_busybox_image(env_.path("img"));
    imgtest::install_fixture(env_, img_, {"docker.io/library/bb:latest"});
    ctx_ = env_.path("ctx");
    fs::create_directories(ctx_);
  }
  void TearDown() override {
    remove_containers_and_check_mounts(env_);
    // No build step's container is left behind, even when a step failed.
    EXPECT_EQ(trim_end(env_.berth({"ps", "-aq"}).out), "");
  }
  // Writes a context file (parents created).
  void file(const std::string& rel, const std::string& content, mode_t mode = 0644) {
    fs::path p = fs::path(ctx_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
  }
  Output berth(const std::vector<std::string>& args, const std::string& in = "") {
    return env_.berth(args, in, 180);
  }
  // Builds ctx_ with extra args; the build must succeed.
  Output build_ok(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"build"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(ctx_);
    Output o = berth(argv);
    EXPECT_EQ(o.status, 0) << o.out << o.err;
    return o;
  }
  Output build_fails(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"build"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(ctx_);
    Output o = berth(argv);
    EXPECT_NE(o.status, 0) << o.out;
    return o;
  }
  json config(const std::string& image) {
    Output o = berth({"inspect", "--format", "{{json .Config}}", image});
    EXPECT_EQ(o.status, 0) << o.err;
    return json::parse(o.out, nullptr, false);
  }
  // `run --rm --network none IMAGE sh -c SCRIPT`: its output.
  std::string sh(const std::string& image, const std::string& script) {
    Output o = berth({"run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", script});
    EXPECT_EQ(o.status, 0) << o.out << o.err;
    return trim_end(o.out);
  }

  BerthEnv env_;
  imgtest::FixtureImage img_;
  std::string ctx_;
};

TEST_F(BuildTest, ConfigAndFilesOfASimpleBuild) {
  file("src/app.py", "print('hi')\n");
  file("src/run.sh", "#!/bin/sh\necho run\n", 0755);
  file("Dockerfile",
       "# a comment\n"
       "FROM bb\n"
       "ENV GREETING=\"hello world\" \\\n"
       "    # a comment inside a continuation\n"
       "\n"
       "    NAME=berth\n"
       "LABEL org.example.team=\"ml\" version=1.0\n"
       "WORKDIR /app\n"
       "COPY src/ ./src/\n"
       "RUN echo \"$GREETING from $NAME\" > /app/out.txt\n"
       "USER nobody\n"
       "EXPOSE 8888 9000-9001/udp\n"
       "VOLUME [\"/data/vol\"]\n"
       "STOPSIGNAL SIGINT\n"
       "HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD cat /app/out.txt\n"
       "ENTRYPOINT [\"/bin/sh\", \"-c\"]\n"
       "CMD [\"cat /app/out.txt\"]\n");
  Output o = build_ok({"-t", "demo:1"});
  EXPECT_NE(o.out.find("Step 1/13 : FROM bb"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Step 13/13 : CMD [\"cat /app/out.txt\"]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Successfully tagged demo:1"), std::string::npos) << o.out;
  json c = config("demo:1");
  EXPECT_EQ(c["Env"], json({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1",
                            "GREETING=hello world", "NAME=berth"}));
  EXPECT_EQ(c["Labels"]["org.example.team"], "ml");
  EXPECT_EQ(c["Labels"]["version"], "1.0");
  EXPECT_EQ(c["WorkingDir"], "/app");
  EXPECT_EQ(c["User"], "nobody");
  EXPECT_TRUE(c["ExposedPorts"].contains("8888/tcp"));
  EXPECT_TRUE(c["ExposedPorts"].contains("9000/udp"));
  EXPECT_TRUE(c["ExposedPorts"].contains("9001/udp"));
  EXPECT_TRUE(c["Volumes"].contains("/data/vol"));
  EXPECT_EQ(c["StopSignal"], "SIGINT");
  EXPECT_EQ(c["Healthcheck"]["Test"], json({"CMD-SHELL", "cat /app/out.txt"}));
  EXPECT_EQ(c["Healthcheck"]["Interval"], 30000000000LL);
  EXPECT_EQ(c["Healthcheck"]["Retries"], 3);
  EXPECT_EQ(c["Entrypoint"], json({"/bin/sh", "-c"}));
  EXPECT_EQ(c["Cmd"], json({"cat /app/out.txt"}));
  // The image runs as built: its CMD, the RUN step's file, the copied tree with its modes.
  Output run = berth({"run", "--rm", "--network", "none", "demo:1"});
  EXPECT_EQ(trim_end(run.out), "hello world from berth") << run.err;
  std::string ls = sh("demo:1", "ls -ln /app/src | grep -v total | awk '{print $1, $3, $4, $NF}'; id -u");
  EXPECT_EQ(ls, "-rw-r--r-- 0 0 app.py\n-rwxr-xr-x 0 0 run.sh\n65534");
  // history: one entry per step after FROM, layers only where files changed.
  Output h = berth({"history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "demo:1"});
  EXPECT_NE(h.out.find("/bin/sh -c echo \"$GREETING from $NAME\" > /app/out.txt|"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("/bin/sh -c #(nop)  USER nobody|0B"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("/bin/sh -c #(nop) COPY dir:"), std::string::npos) << h.out;
  // Every step's image is local: history names them (12 steps and the base's top), as docker's does.
  std::vector<std::string> ids = lines_of(berth({"history", "-q", "demo:1"}).out);
  ASSERT_GE(ids.size(), 13u);
  for (size_t i = 0; i < 13; ++i) EXPECT_NE(ids[i], "<missing>") << i;
  EXPECT_EQ(ids[12], trim_end(berth({"images", "-q", "bb"}).out));
}

TEST_F(BuildTest, CacheReusesUnchangedStepsAndRebuildsFromTheFirstChange) {
  file("a.txt", "one\n");
  file("b.txt", "bee\n");
  file("Dockerfile",
       "FROM bb\n"
       "ARG V=1\n"
       "COPY a.txt /a.txt\n"
       "RUN echo v=$V > /v.txt\n"
       "COPY b.txt /b.txt\n"
       "CMD [\"cat\", \"/a.txt\", \"/v.txt\", \"/b.txt\"]\n");
  Output first = build_ok({"-t", "c:1"});
  EXPECT_EQ(count_of(first.out, "Using cache"), 0) << first.out;
  // Nothing changed: every step from the cache, the same image.
  Output again = build_ok({"-t", "c:1"});
  EXPECT_EQ(count_of(again.out, "Using cache"), 5) << again.out;  // ARG, COPY, RUN, COPY, CMD
  EXPECT_EQ(count_of(again.out, "Running in"), 0);
  std::string id1 = trim_end(berth({"images", "-q", "c:1"}).out);
  // Only the mtime changes: still cached (contents are what count).
  ::utimensat(AT_FDCWD, (ctx_ + "/a.txt").c_str(), nullptr, 0);
  Output touched = build_ok({"-t", "c:1"});
  EXPECT_EQ(count_of(touched.out, "Using cache"), 5) << touched.out;
  EXPECT_EQ(trim_end(berth({"images", "-q", "c:1"}).out), id1);
  // b.txt changed: the steps before its COPY are cached, that COPY and CMD are not.
  file("b.txt", "bee2\n");
  Output b = build_ok({"-t", "c:1"});
  EXPECT_EQ(count_of(b.out, "Using cache"), 3) << b.out;
  EXPECT_EQ(sh("c:1", "cat /b.txt"), "bee2");
  // A build arg changes the RUN after its ARG (and what follows), not the COPY before it.
  Output arg = build_ok({"-t", "c:1", "--build-arg", "V=2"});
  EXPECT_EQ(count_of(arg.out, "Using cache"), 2) << arg.out;  // the ARG and the COPY before the RUN
  EXPECT_EQ(sh("c:1", "cat /v.txt"), "v=2");
  // a.txt changed: everything from its COPY on.
  file("a.txt", "two\n");
  Output a = build_ok({"-t", "c:1", "--build-arg", "V=2"});
  EXPECT_EQ(count_of(a.out, "Using cache"), 1) << a.out;  // the ARG
  Output run = berth({"run", "--rm", "--network", "none", "c:1"});
  EXPECT_EQ(run.out, "two\nv=2\nbee2\n");
  // --no-cache: nothing from the cache.
  Output nc = build_ok({"-t", "c:1", "--no-cache", "--build-arg", "V=2"});
  EXPECT_EQ(count_of(nc.out, "Using cache"), 0) << nc.out;
  EXPECT_EQ(count_of(nc.out, "Running in"), 1);
}

TEST_F(BuildTest, MultiStageCopyFromAndTarget) {
  file("Dockerfile",
       "FROM bb AS builder\n"
       "RUN mkdir -p /out && echo built > /out/artifact && echo tool > /out/tool\n"
       "FROM bb AS second\n"
       "RUN echo second > /second\n"
       "FROM scratch\n"
       "COPY --from=builder /out/artifact /artifact\n"
       "COPY --from=1 /second /bin/busybox /\n"
       "COPY --from=bb /etc/passwd /etc/\n"
       "COPY --from=builder /out/a* /out/t?ol /globbed/\n"
       "CMD [\"/busybox\", \"cat\", \"/artifact\", \"/second\"]\n");
  build_ok({"-t", "ms:final"});
  Output run = berth({"run", "--rm", "--network", "none", "ms:final"});
  EXPECT_EQ(run.out, "built\nsecond\n") << run.err;
  Output ls = berth({"run", "--rm", "--network", "none", "ms:final", "/busybox", "ls", "/etc"});
  EXPECT_EQ(ls.out, "hostname\nhosts\npasswd\nresolv.conf\n") << ls.err;
  ls = berth({"run", "--rm", "--network", "none", "ms:final", "/busybox", "ls", "/globbed"});
  EXPECT_EQ(ls.out, "artifact\ntool\n") << ls.err;
  // --target stops at that stage: its image is the builder's.
  Output t = build_ok({"-t", "ms:builder", "--target", "builder"});
  EXPECT_EQ(count_of(t.out, "Step "), 2) << t.out;
  file("Dockerfile", "FROM bb AS b\nFROM scratch\nCOPY --from=b /nothing* /x/\n");
  Output none = build_fails();
  EXPECT_NE(none.err.find("matches nothing in b"), std::string::npos) << none.err;
  EXPECT_EQ(sh("ms:builder", "cat /out/tool"), "tool");
  Output bad = build_fails({"--target", "nope"});
  EXPECT_NE(bad.err.find("failed to reach build target nope"), std::string::npos) << bad.err;
}

TEST_F(BuildTest, ArgAndEnvSubstitution) {
  file("Dockerfile",
       "ARG TAG=latest\n"
       "ARG UNUSED_GLOBAL\n"
       "FROM bb:${TAG}\n"
       "ARG TAG\n"
       "ARG WHO=world\n"
       "ENV GREET=hello \\\n"
       "    DEF=${UNSET:-fallback} \\\n"
       "    ALT=${WHO:+set} \\\n"
       "    LIT=\\$WHO \\\n"
       "    SQ='$WHO' \\\n"
       "    BR=${WHO}_x\n"
       "ENV COMBINED=\"$GREET $WHO\"\n"
       "RUN echo \"tag=$TAG who=$WHO\" > /args.txt\n"
       "LABEL from.arg=$WHO\n");
  build_ok({"-t", "subst", "--build-arg", "WHO=berth"});
  json c = config("subst");
  std::vector<std::string> env = c["Env"];
  auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
  EXPECT_TRUE(has("GREET=hello"));
  EXPECT_TRUE(has("DEF=fallback"));
  EXPECT_TRUE(has("ALT=set"));
  EXPECT_TRUE(has("LIT=$WHO"));
  EXPECT_TRUE(has("SQ=$WHO"));
  EXPECT_TRUE(has("BR=berth_x"));
  EXPECT_TRUE(has("COMBINED=hello berth"));
  // ARGs are not ENV: they are not in the image's config.
  for (const auto& e : env) EXPECT_NE(e.rfind("WHO=", 0), 0u) << e;
  EXPECT_EQ(c["Labels"]["from.arg"], "berth");
  EXPECT_EQ(sh("subst", "cat /args.txt"), "tag=latest who=berth");
  // A --build-arg no ARG declares is reported.
  Output o = build_ok({"-t", "subst", "--build-arg", "WHO=berth", "--build-arg", "NOPE=1"});
  EXPECT_NE(o.out.find("[Warning] One or more build-args [NOPE] were not consumed"), std::string::npos) << o.out;
}

TEST_F(BuildTest, WorkdirChainsAndUsers) {
  file("Dockerfile",
       "FROM bb\n"
       "WORKDIR /a\n"
       "WORKDIR b\n"
       "ENV DIRNAME=c\n"
       "WORKDIR $DIRNAME\n"
       "RUN pwd > /pwd.txt && id -u > /uid0.txt\n"
       "USER 65534:65534\n"
       "RUN id -u > /tmp/uid.txt\n"
       "USER nobody\n");
  build_ok({"-t", "wd"});
  EXPECT_EQ(config("wd")["WorkingDir"], "/a/b/c");
  EXPECT_EQ(sh("wd", "cat /pwd.txt /uid0.txt /tmp/uid.txt; pwd; stat -c %u /a/b/c"),
            "/a/b/c\n0\n65534\n/a/b/c\n0");
  EXPECT_EQ(config("wd")["User"], "nobody");
}

TEST_F(BuildTest, DockerignoreWithExceptions) {
  file(".dockerignore",
       "# comments and blank lines are ignored\n"
       "\n"
       "*.log\n"
       "!keep.log\n"
       "**/*.tmp\n"
       "secret/\n"
       "docs/*.md\n"
       "!docs/README.md\n");
  file("app.log", "x");
  file("keep.log", "x");
  file("a/deep/x.tmp", "x");
  file("a/deep/ok.txt", "x");
  file("secret/key", "x");
  file("docs/guide.md", "x");
  file("docs/README.md", "x");
  file("sub/app.log", "x");  // *.log is anchored at the root: this one stays
  file("Dockerfile", "FROM bb\nCOPY . /ctx/\n");
  build_ok({"-t", "ign"});
  EXPECT_EQ(sh("ign", "cd /ctx && find . -type f | sort | tr '\\n' ' '"),
            "./.dockerignore ./Dockerfile ./a/deep/ok.txt ./docs/README.md ./keep.log ./sub/app.log");
  // An excluded file does not exist for COPY.
  file("Dockerfile", "FROM bb\nCOPY secret/key /key\n");
  Output o = build_fails();
  EXPECT_NE(o.err.find("Dockerfile line 2: COPY secret/key /key: file not found in build context or "
                       "excluded by .dockerignore: stat secret/key: file does not exist"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(count_of(o.err, "\n"), 1) << o.err;
  // Changing an excluded file keeps the cache.
  file("Dockerfile", "FROM bb\nCOPY . /ctx/\n");
  file("app.log", "changed");
  Output again = build_ok({"-t", "ign"});
  EXPECT_EQ(count_of(again.out, "Using cache"), 1) << again.out;
}

TEST_F(BuildTest, CopyGlobsDestinationsOwnersAndModes) {
  file("files/one.txt", "1");
  file("files/two.txt", "2");
  file("files/three.md", "3");
  file("single", "s");
  file("Dockerfile",
       "FROM bb\n"
       "COPY files/*.txt /globbed/\n"
       "COPY single /renamed\n"
       "COPY single /existing-dir-is-used/\n"
       "COPY --chown=nobody:nogroup single /owned\n"
       "COPY --chown=123 single /numeric\n"
       "COPY --chmod=0600 files/ /modes/\n"
       "WORKDIR /w\n"
       "COPY single rel\n");
  build_ok({"-t", "cp"});
  EXPECT_EQ(sh("cp",
               "ls /globbed | tr '\\n' ' '; cat /renamed; cat /existing-dir-is-used/single; echo;"
               "stat -c '%u:%g' /owned /numeric; stat -c '%a %n' /modes/one.txt /modes/three.md; cat /w/rel"),
            "one.txt two.txt ss\n65534:65534\n123:123\n600 /modes/one.txt\n600 /modes/three.md\ns");
  // Several sources need a directory destination ending in '/'.
  file("Dockerfile", "FROM bb\nCOPY files/one.txt files/two.txt /notadir\n");
  Output o = build_fails();
  EXPECT_NE(o.err.find("When using COPY with more than one source file, the destination must be a directory and end with a /"),
            std::string::npos)
      << o.err;
  // A glob that matches nothing.
  file("Dockerfile", "FROM bb\nCOPY *.nothing /x/\n");
  o = build_fails();
  EXPECT_NE(o.err.find("Dockerfile line 2: COPY *.nothing /x/:"), std::string::npos) << o.err;
  // A path that climbs out of the context stays inside it.
  file("Dockerfile", "FROM bb\nCOPY ../../../../etc/hostname /h\n");
  o = build_fails();
  EXPECT_NE(o.err.find("file not found in build context"), std::string::npos) << o.err;
}

TEST_F(BuildTest, AddExtractsLocalArchives) {
  fs::create_directories(env_.path("tarsrc/pkg"));
  std::ofstream(env_.path("tarsrc/pkg/lib.txt")) << "lib\n";
  Output t = regtest::run({"tar", "-czf", ctx_ + "/pkg.tar.gz", "-C", env_.path("tarsrc"), "pkg"});
  ASSERT_EQ(t.status, 0) << t.err;
  file("plain.txt", "plain\n");
  file("Dockerfile",
       "FROM bb\n"
       "ADD pkg.tar.gz /opt/\n"
       "ADD plain.txt /opt/plain.txt\n");
  build_ok({"-t", "add"});
  EXPECT_EQ(sh("add", "cat /opt/pkg/lib.txt /opt/plain.txt; ls /opt | tr '\\n' ' '"),
            "lib\nplain\nold pkg plain.txt");
}

// A static HTTP server on a loopback port (python3's http.server), killed at the end.
class HttpServer {
 public:
  explicit HttpServer(const std::string& dir) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::close(s);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::chdir(dir.c_str());
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      std::string port = std::to_string(port_);
      ::execlp("python3", "python3", "-m", "http.server", port.c_str(), "--bind", "127.0.0.1", nullptr);
      ::_exit(127);
    }
    // Ready when it accepts a connection.
    for (int i = 0; i < 200; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM, 0);
      a.sin_port = htons(static_cast<uint16_t>(port_));
      bool up = ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(c);
      if (up) return;
      ::usleep(50000);
    }
  }
  ~HttpServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
  }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(BuildTest, AddFromUrls) {
  ASSERT_TRUE(regtest::have("python3")) << "the ADD URL test serves files with python3 -m http.server";
  fs::create_directories(env_.path("www"));
  std::ofstream(env_.path("www/file.txt")) << "served\n";
  Output t = regtest::run({"tar", "-czf", env_.path("www/a.tar.gz"), "-C", env_.path("www"), "file.txt"});
  ASSERT_EQ(t.status, 0);
  HttpServer http(env_.path("www"));
  std::string sum = "sha256:" + trim_end(regtest::run({"sh", "-c", "sha256sum " + env_.path("www/file.txt") + " | cut -d' ' -f1"}).out);
  file("Dockerfile",
       "FROM bb\n"
       "ADD " + http.url("file.txt") + " /dl/\n"
       "ADD " + http.url("a.tar.gz") + " /dl/arch.tgz\n"
       "ADD --checksum=" + sum + " " + http.url("file.txt?x=1") + " /named\n");
  build_ok({"-t", "urls"});
  // Saved as given (a remote archive is not extracted), mode 0600, owned by root.
  EXPECT_EQ(sh("urls", "stat -c '%a %u %n' /dl/file.txt /dl/arch.tgz /named; cat /named"),
            "600 0 /dl/file.txt\n600 0 /dl/arch.tgz\n600 0 /named\nserved");
  // Downloaded again each build: the same content is a cache hit, a new one is not.
  Output again = build_ok({"-t", "urls"});
  EXPECT_EQ(count_of(again.out, "Using cache"), 3) << again.out;
  std::ofstream(env_.path("www/file.txt")) << "changed\n";
  again = build_fails({"-t", "urls"});  // the checksum no longer matches
  EXPECT_NE(again.err.find("digest mismatch for " + http.url("file.txt?x=1")), std::string::npos) << again.err;
  file("Dockerfile", "FROM bb\nADD " + http.url("nope") + " /x\n");
  Output o = build_fails();
  EXPECT_NE(o.err.find("with status 404"), std::string::npos) << o.err;
  file("Dockerfile", "FROM bb\nADD " + http.url("") + " /dir/\n");
  o = build_fails();
  EXPECT_NE(o.err.find("cannot determine filename from url"), std::string::npos) << o.err;
}

TEST_F(BuildTest, EscapeDirectiveExecAndShellForms) {
  file("Dockerfile",
       "# escape=`\n"
       "FROM bb\n"
       "RUN echo one `\n"
       "    two > /words.txt\n"
       "RUN [\"/bin/sh\", \"-c\", \"echo exec form > /exec.txt\"]\n"
       "SHELL [\"/bin/sh\", \"-ec\"]\n"
       "RUN echo $0 > /shell.txt\n"
       "ENV P=C:\\path\n"
       "CMD echo shell form\n");
  build_ok({"-t", "esc"});
  EXPECT_EQ(sh("esc", "cat /words.txt /exec.txt"), "one two\nexec form");
  json c = config("esc");
  EXPECT_EQ(c["Cmd"], json({"/bin/sh", "-ec", "echo shell form"}));
  EXPECT_EQ(c["Shell"], json({"/bin/sh", "-ec"}));
  std::vector<std::string> env = c["Env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "P=C:\\path"), env.end());
  // An ENTRYPOINT resets the CMD the base image had (bb has Cmd ["/bin/sh"]).
  file("Dockerfile", "FROM bb\nENTRYPOINT [\"echo\"]\n");
  build_ok({"-t", "ep"});
  EXPECT_TRUE(config("ep")["Cmd"].is_null()) << config("ep").dump();
}

TEST_F(BuildTest, OnbuildTriggersRunInTheChildBuild) {
  file("Dockerfile",
       "FROM bb\n"
       "ONBUILD RUN echo triggered > /trigger.txt\n"
       "ONBUILD COPY child.txt /child.txt\n");
  build_ok({"-t", "parent"});
  EXPECT_EQ(config("parent")["OnBuild"], json({"RUN echo triggered > /trigger.txt", "COPY child.txt /child.txt"}));
  file("child.txt", "from the child's context\n");
  file("Dockerfile", "FROM parent\nRUN cat /trigger.txt /child.txt > /both.txt\n");
  Output o = build_ok({"-t", "child"});
  EXPECT_NE(o.out.find("# Executing 2 build triggers"), std::string::npos) << o.out;
  EXPECT_EQ(sh("child", "cat /both.txt"), "triggered\nfrom the child's context");
  EXPECT_TRUE(config("child")["OnBuild"].is_null());
}

TEST_F(BuildTest, HeredocsAndStdinContexts) {
  file("Dockerfile",
       "FROM bb\n"
       "RUN <<EOF\n"
       "echo line1 > /h.txt\n"
       "echo line2 >> /h.txt\n"
       "EOF\n"
       "RUN cat <<-END > /tabs.txt\n"
       "\tindented\n"
       "\tEND\n"
       "ENV WHO=berth\n"
       "COPY <<CONF /etc/app.conf\n"
       "key=value\n"
       "who=\"$WHO\" '${WHO}' \\$WHO back\\slash\n"
       "CONF\n"
       "COPY <<'RAW' /etc/raw.conf\n"
       "raw=$WHO\n"
       "RAW\n");
  build_ok({"-t", "heredoc"});
  EXPECT_EQ(sh("heredoc", "cat /h.txt /tabs.txt /etc/app.conf /etc/raw.conf"),
            "line1\nline2\nindented\nkey=value\nwho=\"berth\" 'berth' $WHO back\\slash\nraw=$WHO");
  // A Dockerfile on stdin: no context.
  Output o = berth({"build", "-t", "stdin1", "-"}, "FROM bb\nRUN echo from-stdin > /s.txt\n");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(sh("stdin1", "cat /s.txt"), "from-stdin");
  // A tar of the context on stdin.
  file("Dockerfile", "FROM bb\nCOPY single.txt /single.txt\n");
  file("single.txt", "tarred\n");
  Output tar = regtest::run({"tar", "-cf", "-", "-C", ctx_, "Dockerfile", "single.txt"});
  ASSERT_EQ(tar.status, 0);
  o = berth({"build", "-q", "-t", "stdin2", "-"}, tar.out);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(trim_end(o.out).rfind("sha256:", 0), 0u) << o.out;  // -q: only the id
  EXPECT_EQ(count_of(o.out, "\n"), 1) << o.out;
  EXPECT_EQ(sh("stdin2", "cat /single.txt"), "tarred");
  // -f outside the context.
  std::ofstream(env_.path("Other.dockerfile")) << "FROM bb\nLABEL which=other\n";
  build_ok({"-t", "other", "-f", env_.path("Other.dockerfile")});
  EXPECT_EQ(config("other")["Labels"]["which"], "other");
}

// Hostile contexts: a tar on stdin whose names climb out, a symlink in the context that
// points at the host's files, a garbage "context".
TEST_F(BuildTest, HostileContextsStayInside) {
  std::string script =
      "import io, sys, tarfile\n"
      "t = tarfile.open(fileobj=sys.stdout.buffer, mode='w|')\n"
      "for name, data in [('Dockerfile', b'FROM bb\\nCOPY . /ctx/\\n'), ('../../escaped', b'x')]:\n"
      "    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n"
      "t.close()\n";
  Output tar = regtest::run({"python3", "-c", script});
  ASSERT_EQ(tar.status, 0) << tar.err;
  Output o = berth({"build", "-t", "hostile", "-"}, tar.out);
  EXPECT_NE(o.status, 0);
  EXPECT_EQ(count_of(o.err, "\n"), 1) << o.err;
  EXPECT_FALSE(fs::exists("/tmp/escaped"));
  EXPECT_NE(berth({"inspect", "hostile"}).status, 0);
  // A symlink to /etc/passwd is resolved inside the context: there is no such file there.
  fs::create_symlink("/etc/passwd", ctx_ + "/link");
  fs::create_symlink("../../../../../../etc", ctx_ + "/etcdir");
  file("Dockerfile", "FROM bb\nCOPY link /x\n");
  o = build_fails();
  EXPECT_NE(o.err.find("file not found in build context"), std::string::npos) << o.err;
  file("Dockerfile", "FROM bb\nCOPY etcdir/passwd /x\n");
  o = build_fails();
  EXPECT_NE(o.err.find("file not found in build context"), std::string::npos) << o.err;
  // COPY . copies the links as links, never what they point at on the host.
  file("Dockerfile", "FROM bb\nCOPY . /ctx/\n");
  build_ok({"-t", "links"});
  EXPECT_EQ(sh("links", "readlink /ctx/link; readlink /ctx/etcdir"), "/etc/passwd\n../../../../../../etc");
  // Not a tar, not a Dockerfile: one line.
  o = berth({"build", "-"}, std::string("\x1f\x8b\x08garbage", 11));
  EXPECT_NE(o.status, 0);
  EXPECT_EQ(count_of(o.err, "\n"), 1) << o.err;
}

TEST_F(BuildTest, BadDockerfilesFailWithOneLineNamingTheLine) {
  struct Case {
    std::string dockerfile, expect;
  };
  std::vector<Case> cases = {
      {"FROM bb\nRUNN echo\n", "Dockerfile line 2: unknown instruction: RUNN"},
      {"RUN echo\n", "no FROM"},
      {"", "the Dockerfile is empty"},
      {"FROM bb\nRUN <<EOF\necho never closed\n", "Dockerfile line 2: unterminated heredoc"},
      {"FROM bb\nCOPY missing.txt /\n", "Dockerfile line 2: COPY missing.txt /: file not found in build context"},
      {"FROM bb\nRUN echo out; exit 3\n",
       "Dockerfile line 2: RUN echo out; exit 3: The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"},
      {"FROM no-such-image-here\n", "Dockerfile line 1: FROM no-such-image-here: "},
      {"FROM bb\nSHELL /bin/bash -c\n", "SHELL requires the arguments to be in JSON form"},
      {"FROM bb\nEXPOSE 99999\n", "invalid containerPort: 99999"},
  };
  for (const auto& c : cases) {
    file("Dockerfile", c.dockerfile);
    Output o = berth({"build", "-t", "bad:1", ctx_});
    EXPECT_NE(o.status, 0) << c.dockerfile;
    std::string err_line = o.err.substr(o.err.find("Error: ") == std::string::npos ? 0 : o.err.find("Error: "));
    EXPECT_NE(err_line.find(c.expect), std::string::npos) << c.dockerfile << "\n" << o.err;
    EXPECT_EQ(count_of(err_line, "\n"), 1) << o.err;
    // Nothing half-built is tagged.
    EXPECT_NE(berth({"inspect", "bad:1"}).status, 0) << c.dockerfile;
  }
  file("Dockerfile", "FROM bb\n");
  Output o = berth({"build", "--build-arg", "=x", ctx_});
  EXPECT_NE(o.err.find("invalid --build-arg '=x'"), std::string::npos) << o.err;
  o = berth({"build", env_.path("does-not-exist")});
  EXPECT_NE(o.err.find("unable to prepare context"), std::string::npos) << o.err;
}

TEST_F(BuildTest, RunMountsCacheBindAndTmpfs) {
  file("src/a.txt", "from the context\n");
  file("Dockerfile",
       "FROM bb\n"
       "RUN --mount=type=cache,target=/var/cache/pkgs echo x >> /var/cache/pkgs/count && wc -l < /var/cache/pkgs/count > /seen\n"
       "RUN --mount=type=bind,source=src,target=/mnt/src cat /mnt/src/a.txt > /copied && (touch /mnt/src/new 2>/dev/null || echo ro > /bind-ro)\n"
       "RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpfs-listed\n");
  build_ok({"-t", "mnt"});
  build_ok({"-t", "mnt", "--no-cache"});
  // The cache folder outlived the first build; the bind was read-only and its content, like
  // the cache's and the tmpfs', is not in the image.
  EXPECT_EQ(sh("mnt", "cat /seen /copied /bind-ro /tmpfs-listed; ls /var/cache/pkgs /mnt/src /scratch 2>/dev/null | wc -l"),
            "2\nfrom the context\nro\nx\n0");
  EXPECT_FALSE(fs::exists(ctx_ + "/src/new"));
  // A changed bound file changes the step's key.
  Output again = build_ok({"-t", "mnt"});
  EXPECT_EQ(count_of(again.out, "Using cache"), 3) << again.out;
  file("src/a.txt", "changed\n");
  again = build_ok({"-t", "mnt"});
  EXPECT_EQ(count_of(again.out, "Using cache"), 1) << again.out;
  // builder prune empties the cache folders: the next build starts counting again.
  Output pr = berth({"builder", "prune", "-f"});
  EXPECT_EQ(pr.status, 0) << pr.err;
  EXPECT_NE(pr.out.find("Deleted build cache mount: "), std::string::npos) << pr.out;
  EXPECT_NE(pr.out.find("Total reclaimed space: "), std::string::npos) << pr.out;
  build_ok({"-t", "mnt", "--no-cache"});
  EXPECT_EQ(sh("mnt", "cat /seen"), "1");
  file("Dockerfile", "FROM bb\nRUN --mount=type=ssh true\n");
  Output o = build_fails();
  EXPECT_NE(o.err.find("RUN --mount=type=ssh is not supported"), std::string::npos) << o.err;
}

TEST_F(BuildTest, SecretsAreMountedButNeverStored) {
  std::ofstream(env_.path("token")) << "s3cr3t";
  file("Dockerfile",
       "FROM bb\n"
       "RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /len && ls /run/secrets > /listed\n"
       "RUN --mount=type=secret,id=other,target=/opt/other test ! -e /opt/other && echo absent > /optional\n");
  build_ok({"-t", "sec", "--secret", "id=token,src=" + env_.path("token")});
  EXPECT_EQ(sh("sec", "cat /len /listed /optional; ls /run/secrets 2>/dev/null | wc -l; grep -rs s3cr3t /run /etc /opt /len /listed | wc -l"),
            "6\ntoken\nabsent\n0\n0");
  // A changed secret does not rebuild the step (BuildKit's rule): it is not in the key.
  std::ofstream(env_.path("token")) << "other-value";
  Output again = build_ok({"-t", "sec", "--secret", "id=token,src=" + env_.path("token")});
  EXPECT_EQ(count_of(again.out, "Using cache"), 2) << again.out;
  // A required secret that was not given, and a --secret that names no file.
  file("Dockerfile", "FROM bb\nRUN --mount=type=secret,id=token,required=true cat /run/secrets/token\n");
  Output o = build_fails();
  EXPECT_NE(o.err.find("secret token not found"), std::string::npos) << o.err;
  o = build_fails({"--secret", "id=token,src=" + env_.path("nope")});
  EXPECT_NE(o.err.find("no such file"), std::string::npos) << o.err;
}

// Ctrl-C during a RUN step: the step's process is killed, the build fails at once and its
// container is removed (the fixture's TearDown checks none is left and nothing is mounted).
TEST_F(BuildTest, InterruptedRunStepLeavesNothing) {
  file("Dockerfile", "FROM bb\nRUN echo started && sleep 60\n");
  std::string out = env_.path("interrupted.out");
  std::vector<std::string> argv = env_.argv({"build", "-t", "never", ctx_});
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  auto text = [&] {
    std::ifstream f(out);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  ASSERT_TRUE(eventually([&] { return text().find("\nstarted\n") != std::string::npos; })) << text();
  auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status << "\n" << text();
  EXPECT_NE(text().find("the build was interrupted (Interrupt)"), std::string::npos) << text();
  EXPECT_NE(berth({"inspect", "never"}).status, 0);
}

TEST_F(BuildTest, IntermediateImagesAreHiddenAndRemovedWithTheImage) {
  file("Dockerfile", "FROM bb\nRUN echo 1 > /1\nENV X=1\nLABEL l=1\n");
  build_ok({"-t", "inter", "--label", "extra=yes"});
  EXPECT_EQ(config("inter")["Labels"]["extra"], "yes");
  auto names = [&](bool all) {
    std::vector<std::string> a = {"images", "--format", "{{.Repository}}:{{.Tag}}"};
    if (all) a.push_back("-a");
    return lines_of(berth(a).out);
  };
  EXPECT_EQ(names(false).size(), 2u);  // inter and bb
  EXPECT_EQ(names(true).size(), 5u);   // + RUN, ENV and LABEL (the --label step's is inter)
  // A dangling filter does not show intermediate images either.
  EXPECT_EQ(trim_end(berth({"images", "-q", "--filter", "dangling=true"}).out), "");
  Output rm = berth({"rmi", "inter"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(count_of(rm.out, "Deleted: "), 5) << rm.out;  // 4 images, the RUN step's layer
  EXPECT_EQ(names(true).size(), 1u) << berth({"images", "-a"}).out;
  // The cache went with the images: the next build runs every step.
  Output again = build_ok({"-t", "inter"});
  EXPECT_EQ(count_of(again.out, "Using cache"), 0) << again.out;
}

// The same Dockerfile built by berth and by docker's classic builder (when a docker engine
// runs here: `../shared/peers/setup.sh` or Debian's docker.io): the image configs and the
// exported root filesystems (paths, types, modes, owners, sizes, link targets) are equal.
TEST_F(BuildTest, SameResultAsDockersClassicBuilder) {
  if (regtest::run({"docker", "info", "--format", "{{.ServerVersion}}"}, "", 20).status != 0)
    GTEST_SKIP() << "no docker engine runs here to compare with (../shared/peers/setup.sh starts one)";
  std::string tag = "berth-compare-" + std::to_string(::getpid());
  // docker gets the same base image: berth's bb, saved and loaded.
  Output save = berth({"save", "-o", env_.path("bb.tar"), "bb"});
  ASSERT_EQ(save.status, 0) << save.err;
  ASSERT_EQ(regtest::run({"docker", "load", "-i", env_.path("bb.tar")}, "", 120).status, 0);
  ASSERT_EQ(regtest::run({"docker", "tag", "bb:latest", tag + "-base"}).status, 0);
  ASSERT_EQ(berth({"tag", "bb", tag + "-base"}).status, 0);
  struct Cleanup {
    std::string tag;
    ~Cleanup() {
      regtest::run({"docker", "rm", "-f", tag + "-c"}, "", 60);
      for (const char* suffix : {"", "-base"}) regtest::run({"docker", "rmi", "-f", tag + suffix}, "", 60);
      regtest::run({"docker", "rmi", "bb:latest"}, "", 60);  // what `docker load` of berth's bb named
      regtest::run({"docker", "image", "prune", "-f", "--filter", "label=berth.compare=" + tag}, "", 60);
    }
  } cleanup{tag};
  fs::create_directories(env_.path("tarsrc/pkg/sub"));
  std::ofstream(env_.path("tarsrc/pkg/sub/lib.txt")) << "lib\n";
  ASSERT_EQ(regtest::run({"tar", "--owner=7", "--group=8", "-czf", ctx_ + "/pkg.tar.gz", "-C", env_.path("tarsrc"), "pkg"}).status, 0);
  file(".dockerignore", "*.log\n!keep.log\n**/*.tmp\n");
  file("app.log", "x");
  file("keep.log", "kept\n");
  file("src/main.py", "print('hi')\n");
  file("src/tool.sh", "#!/bin/sh\n", 0755);
  file("src/x.tmp", "t");
  file("src/pkg/mod.py", "m = 1\n");
  file("conf/a.conf", "a\n");
  file("conf/b.conf", "b\n");
  file("Dockerfile",
       "ARG BASE=" + tag + "-base\n"
       "FROM ${BASE} AS deps\n"
       "LABEL berth.compare=" + tag + "\n"  // docker's dangling stage image: pruned by label
       "RUN mkdir -p /opt/deps && echo dep > /opt/deps/dep.txt && ln -s dep.txt /opt/deps/link\n"
       "FROM ${BASE}\n"
       "LABEL berth.compare=" + tag + "\n"
       "ARG VERSION=1.2\n"
       "ENV APP_HOME=/srv/app \\\n"
       "    VERSION=${VERSION} \\\n"
       "    DEF=${UNSET:-fallback}\n"
       "LABEL version=\"$VERSION\" description=\"a \\\"quoted\\\" value\"\n"
       "WORKDIR $APP_HOME\n"
       "WORKDIR sub\n"
       "COPY src/ ./src/\n"
       "COPY conf/*.conf /etc/app/\n"
       "COPY keep.log .\n"
       "COPY --chown=nobody:nogroup src/main.py /owned/main.py\n"
       "COPY --chown=1234 src/tool.sh /owned/\n"
       "COPY --from=deps /opt/deps /opt/deps\n"
       "ADD pkg.tar.gz /opt/\n"
       "RUN echo \"$VERSION\" > version.txt && mkdir -p /var/empty && rm -f /etc/group && touch /etc/group\n"
       "USER nobody\n"
       "EXPOSE 8888 6006/udp\n"
       "VOLUME [\"/data/vol\"]\n"
       "SHELL [\"/bin/sh\", \"-ec\"]\n"
       "STOPSIGNAL SIGINT\n"
       "HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD cat version.txt\n"
       "ONBUILD RUN echo child\n"
       "ENTRYPOINT [\"/bin/sh\", \"-c\"]\n"
       "CMD echo $APP_HOME\n");
  build_ok({"-t", tag});
  Output d = regtest::run({"env", "DOCKER_BUILDKIT=0", "docker", "build", "-q", "-t", tag, ctx_}, "", 300);
  ASSERT_EQ(d.status, 0) << d.out << d.err;
  json mine = config(tag);
  ASSERT_TRUE(mine.is_object());
  Output dc = regtest::run({"docker", "inspect", "--format", "{{json .Config}}", tag});
  json theirs = json::parse(dc.out, nullptr, false);
  ASSERT_TRUE(theirs.is_object()) << dc.out << dc.err;
  for (const char* k : {"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                        "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell"})
    EXPECT_EQ(mine.value(k, json()), theirs.value(k, json())) << k;
  // The file trees, from an export of a container of each image.
  std::string listing = std::string(BERTH_SOURCE_DIR) + "/tests/build/tar_listing.py";
  Output bc = berth({"create", "--network", "none", tag});
  ASSERT_EQ(bc.status, 0) << bc.err;
  // The fixture base has a file whose hard link entry comes later with other owners: docker's
  // unpacker chowns the shared inode when it makes the link, berth's does not (a difference
  // of the base image's unpacking, not of the build): those two paths are not compared.
  Output bx = regtest::run({"sh", "-c", "\"$0\" --root \"$1\" --runroot \"$2\" --config \"$3\" export \"$4\" | python3 \"$5\" data/file data/link",
                            imgtest::berth_binary(), env_.root(), env_.runroot(), env_.config(), trim_end(bc.out), listing},
                           "", 120);
  ASSERT_EQ(regtest::run({"docker", "create", "--name", tag + "-c", tag}).status, 0);
  Output dx = regtest::run({"sh", "-c", "docker export \"$0\" | python3 \"$1\" data/file data/link", tag + "-c", listing}, "", 120);
  ASSERT_EQ(bx.status, 0) << bx.err;
  ASSERT_EQ(dx.status, 0) << dx.err;
  EXPECT_EQ(bx.out, dx.out);
}

}  // namespace
}  // namespace berth::ctest
