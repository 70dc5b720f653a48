#include "image/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::image {
namespace {

const std::string kDiffA =
    "sha256:589f0d58b9053a4ff7329b8fdb4f9dd120e29354c086ad0b3b10733f6cfd6de3";
const std::string kDiffB =
    "sha256:55fea2a37a9fc5963f1beccd0d162b856e6bd05ca07cdd3726847846ab740f0d";
const std::string kDiffC =
    "sha256:e6c65c655ca8172ab7a2b634dab3220a45472dd6571b6efd956ccc05e229a201";

// A docker-built config: the old container.Config fields, unknown ones, nulls.
const std::string kDockerConfig =
    R"({"architecture":"amd64","config":{"Hostname":"","Domainname":"",
"User":"1000:1000","AttachStdin":false,"ExposedPorts":{"8888/tcp":{},"53/udp":null},"Tty":false,
"Env":["PATH=/usr/local/bin:/usr/bin:/bin","NVIDIA_VISIBLE_DEVICES=all"],"Cmd":["python3"],
"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/"],"Interval":30000000000,
"Timeout":5000000000,"StartPeriod":10000000000,"Retries":3},"ArgsEscaped":true,"Image":"sha256:5d33",
"Volumes":{"/data":{}},"WorkingDir":"/workspace","Entrypoint":null,"OnBuild":null,
"Labels":{"maintainer":"NVIDIA CORPORATION <cudatools@nvidia.com>"},"StopSignal":"SIGINT",
"Shell":["/bin/bash","-c"]},"container":"3e1d1c2cb7e1","container_config":{"Cmd":["/bin/sh"]},
"created":"2024-01-11T03:24:19.123456789Z","docker_version":"20.10.23","history":[
{"created":"2024-01-10T23:39:07.514549385Z","created_by":"/bin/sh -c #(nop) ADD file:5d in / "},
{"created":"2024-01-10T23:39:07Z","created_by":"/bin/sh -c #(nop)  CMD [\"bash\"]","empty_layer":true},
{"created":"2024-01-11T03:24:18+01:00","created_by":"RUN apt-get update","comment":"buildkit.dockerfile.v0",
"author":"someone"}],"os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
    kDiffA + R"(",")" + kDiffB + R"("]}})";

TEST(ImageConfig, ParsesADockerConfig) {
  auto c = parse_image_config(kDockerConfig);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->os, "linux");
  EXPECT_EQ(c->created, "2024-01-11T03:24:19.123456789Z");
  EXPECT_EQ(c->docker_version, "20.10.23");
  EXPECT_EQ(c->container, "3e1d1c2cb7e1");
  const auto& cfg = c->config;
  EXPECT_EQ(cfg.user, "1000:1000");
  EXPECT_EQ(cfg.exposed_ports, (std::set<std::string>{"53/udp", "8888/tcp"}));
  EXPECT_EQ(cfg.env.size(), 2u);
  EXPECT_EQ(cfg.cmd, (std::vector<std::string>{"python3"}));
  EXPECT_FALSE(cfg.entrypoint.has_value());  // null: absent
  EXPECT_TRUE(cfg.on_build.empty());
  ASSERT_TRUE(cfg.healthcheck.has_value());
  EXPECT_EQ(cfg.healthcheck->interval, 30000000000);
  EXPECT_EQ(cfg.healthcheck->retries, 3);
  EXPECT_TRUE(cfg.args_escaped);
  EXPECT_EQ(cfg.volumes, (std::set<std::string>{"/data"}));
  EXPECT_EQ(cfg.working_dir, "/workspace");
  EXPECT_EQ(cfg.labels.at("maintainer"), "NVIDIA CORPORATION <cudatools@nvidia.com>");
  EXPECT_EQ(cfg.stop_signal, "SIGINT");
  EXPECT_EQ(cfg.shell, (std::vector<std::string>{"/bin/bash", "-c"}));
  ASSERT_EQ(c->rootfs.diff_ids.size(), 2u);
  EXPECT_EQ(c->rootfs.diff_ids[1].string(), kDiffB);
  ASSERT_EQ(c->history.size(), 3u);
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(c->history[2].author, "someone");
  EXPECT_EQ(c->history[2].comment, "buildkit.dockerfile.v0");
}

TEST(ImageConfig, SerializesWithDockersNamesAndRoundTrips) {
  auto c = parse_image_config(kDockerConfig);
  ASSERT_TRUE(c.ok());
  std::string json = serialize(*c);
  for (const char* key : {"\"Env\":", "\"Cmd\":", "\"WorkingDir\":", "\"User\":",
                          "\"ExposedPorts\":{\"53/udp\":{},\"8888/tcp\":{}}",
                          "\"Volumes\":", "\"Labels\":", "\"StopSignal\":", "\"Shell\":",
                          "\"Healthcheck\":", "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["})
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
  EXPECT_EQ(json.find("Entrypoint"), std::string::npos);  // absent stays absent
  EXPECT_EQ(json.find("Hostname"), std::string::npos);
  // Go's encoding/json escapes HTML characters, as docker's configs show.
  EXPECT_NE(json.find(R"("NVIDIA CORPORATION \u003ccudatools@nvidia.com\u003e")"),
            std::string::npos);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  auto again = parse_image_config(json);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *c);
  EXPECT_EQ(serialize(*again), json);
}

TEST(ImageConfig, EmptyEntrypointDiffersFromAbsent) {
  auto c = parse_image_config(
      R"({"config":{"Entrypoint":[],"Cmd":"/bin/sh"},"rootfs":{"type":"layers","diff_ids":[]}})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_TRUE(c->config.entrypoint.has_value());
  EXPECT_TRUE(c->config.entrypoint->empty());
  EXPECT_EQ(c->config.cmd, (std::vector<std::string>{"/bin/sh"}));  // strslice: one string
  std::string json = serialize(*c);
  EXPECT_NE(json.find("\"Entrypoint\":[]"), std::string::npos) << json;
  EXPECT_EQ(parse_image_config(json).value(), *c);
}

TEST(ImageConfig, BuildsAConfigFromScratch) {
  ImageConfig c;
  c.architecture = "amd64";
  c.os = "linux";
  c.created = "2024-03-01T00:00:00Z";
  c.config.env = {"A=1"};
  c.config.cmd = std::vector<std::string>{"sh"};
  c.config.stop_timeout = 0;
  c.rootfs.diff_ids = {parse_digest(kDiffA).value()};
  c.history.push_back(History{"2024-03-01T00:00:00Z", "", "ADD rootfs.tar /", "", false});
  std::string json = serialize(c);
  EXPECT_EQ(
      json,
      R"({"created":"2024-03-01T00:00:00Z","config":{"Env":["A=1"],"Cmd":["sh"],)"
      R"("StopTimeout":0},"architecture":"amd64","os":"linux","rootfs":{"type":"layers",)"
      R"("diff_ids":[")" +
          kDiffA +
          R"("]},"history":[{"created":"2024-03-01T00:00:00Z","created_by":"ADD rootfs.tar /"}]})");
  EXPECT_EQ(parse_image_config(json).value(), c);
  EXPECT_EQ(config_digest(json).string(), "sha256:" + sha256_hex(json));
}

struct Bad {
  std::string name;
  std::string json;
  std::string message;  // the whole message must start with this
};

std::string with_config(std::string_view config_fields) {
  return R"({"config":{)" + std::string(config_fields) +
         R"(},"rootfs":{"type":"layers","diff_ids":[]}})";
}

TEST(ImageConfig, RejectsWrongTypesNamingTheField) {
  const std::vector<Bad> cases = {
      {"env element", with_config(R"("Env":["A=1","B=2",3])"),
       "image config: config.Env[2]: expected string"},
      {"env not array", with_config(R"("Env":"A=1")"), "image config: config.Env: expected array"},
      {"cmd element", with_config(R"("Cmd":["a",{}])"),
       "image config: config.Cmd[1]: expected string"},
      {"entrypoint number", with_config(R"("Entrypoint":1)"),
       "image config: config.Entrypoint: expected array"},
      {"ports array", with_config(R"("ExposedPorts":["80/tcp"])"),
       "image config: config.ExposedPorts: expected object"},
      {"port value", with_config(R"("ExposedPorts":{"80/tcp":1})"),
       "image config: config.ExposedPorts[\"80/tcp\"]: expected object"},
      {"label value", with_config(R"("Labels":{"a":true})"),
       "image config: config.Labels[\"a\"]: expected string"},
      {"healthcheck retries", with_config(R"("Healthcheck":{"Retries":"3"})"),
       "image config: config.Healthcheck.Retries: expected integer"},
      {"interval float", with_config(R"("Healthcheck":{"Interval":1.5})"),
       "image config: config.Healthcheck.Interval: expected integer"},
      {"retries range", with_config(R"("Healthcheck":{"Retries":4294967296})"),
       "image config: config.Healthcheck.Retries: 4294967296 is out of range"},
      {"stop timeout", with_config(R"("StopTimeout":"10s")"),
       "image config: config.StopTimeout: expected integer"},
      {"args escaped", with_config(R"("ArgsEscaped":"yes")"),
       "image config: config.ArgsEscaped: expected boolean"},
      {"config not object", R"({"config":[],"rootfs":{"type":"layers"}})",
       "image config: config: expected object"},
      {"history", R"({"history":[{"empty_layer":1}],"rootfs":{"type":"layers"}})",
       "image config: history[0].empty_layer: expected boolean"},
      {"architecture", R"({"architecture":64,"rootfs":{"type":"layers"}})",
       "image config: architecture: expected string"},
      {"not an object", "[]", "image config: expected object"},
      {"no rootfs", R"({"os":"linux"})", "image config: rootfs: missing"},
      {"null rootfs", R"({"rootfs":null})", "image config: rootfs: missing"},
      {"rootfs type", R"({"rootfs":{"type":"layered","diff_ids":[]}})",
       "image config: rootfs.type: expected \"layers\", got \"layered\""},
      {"diff id", R"({"rootfs":{"type":"layers","diff_ids":[")" + kDiffA + R"(","sha256:x"]}})",
       "image config: rootfs.diff_ids[1]: invalid digest"},
      {"diff id type", R"({"rootfs":{"type":"layers","diff_ids":[null]}})",
       "image config: rootfs.diff_ids[0]: expected string"},
      {"created", R"({"created":"yesterday","rootfs":{"type":"layers"}})",
       "image config: created: not an RFC 3339 time: \"yesterday\""},
      {"history created",
       R"({"history":[{"created":"2024-02-30T00:00:00Z"}],"rootfs":{"type":"layers"}})",
       "image config: history[0].created: not an RFC 3339 time"},
      {"invalid utf-8",
       R"({"os":"li)"
       "\xc3\x28"
       R"(nux","rootfs":{"type":"layers"}})",
       "image config: not valid JSON"},
      {"truncated", kDockerConfig.substr(0, 500), "image config: not valid JSON"},
      {"deep", std::string(100000, '['), "image config: not valid JSON: nested deeper than"},
      {"too big", std::string(kMaxConfigBytes + 1, ' '), "image config: too big"},
      {"huge label key", with_config(R"("Labels":{")" + std::string(100000, 'k') + R"(":1})"),
       "image config: config.Labels[\"kkk"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_image_config(c.json);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message().rfind(c.message, 0), 0u) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    EXPECT_LT(r.error().message().size(), 400u);
  }
}

TEST(ImageConfig, ChainIds) {
  std::vector<Digest> diffs = {parse_digest(kDiffA).value(), parse_digest(kDiffB).value(),
                               parse_digest(kDiffC).value()};
  // Computed independently (Python hashlib) from the OCI definition.
  EXPECT_EQ(chain_ids(diffs),
            (std::vector<std::string>{
                kDiffA, "sha256:267c5fd16af60e52927fabf0a36a31f3b5a2069347f7f00c7bd7f93f6ebc01f4",
                "sha256:82c0ed5f6c15be9b9180a8c04b9f2c676d74af6db13c711f5bb47a0fa43b56df"}));
  EXPECT_TRUE(chain_ids({}).empty());
  EXPECT_EQ(chain_ids({diffs[1]}), (std::vector<std::string>{kDiffB}));
}

TEST(ImageConfig, Rfc3339) {
  struct Case {
    std::string text;
    int64_t want;  // -1: invalid
  };
  const std::vector<Case> cases = {
      {"1970-01-01T00:00:00Z", 0},
      {"2024-01-31T12:00:00Z", 1706702400},
      {"2024-01-31T12:00:00.123456789Z", 1706702400},
      {"2024-01-31T13:30:00+01:30", 1706702400},
      {"2024-01-31T10:00:00-02:00", 1706702400},
      {"2024-02-29T00:00:00Z", 1709164800},
      {"0001-01-01T00:00:00Z", -62135596800},
      {"2023-02-29T00:00:00Z", -1},
      {"2024-13-01T00:00:00Z", -1},
      {"2024-01-01T24:00:00Z", -1},
      {"2024-01-01T00:00:60Z", -1},
      {"2024-01-01 00:00:00Z", -1},
      {"2024-01-01T00:00:00", -1},
      {"2024-01-01T00:00:00z", -1},
      {"2024-01-01T00:00:00.Z", -1},
      {"2024-01-01T00:00:00+0100", -1},
      {"2024-01-01T00:00:00+24:00", -1},
      {"2024-01-01T00:00:00ZZ", -1},
      {"", -1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto t = parse_rfc3339(c.text);
    if (c.want == -1) {
      EXPECT_FALSE(t.ok());
    } else {
      ASSERT_TRUE(t.ok()) << t.error().message();
      EXPECT_EQ(*t, c.want);
    }
  }
}

}  // namespace
}  // namespace berth::image
