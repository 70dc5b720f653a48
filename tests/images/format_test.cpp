// Unit tests of src/cli/berth/format.h: docker's durations, sizes, tables, templates and the
// JSON for an image, against outputs taken from docker itself.
#include "cli/berth/format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace berth::cli {
namespace {

class FormatTest : public ::testing::Test {
 protected:
  // Local times in these tests are UTC, like a CI machine's.
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    saved_tz_ = tz ? std::optional<std::string>(tz) : std::nullopt;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  void TearDown() override {
    if (saved_tz_) {
      ::setenv("TZ", saved_tz_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  std::optional<std::string> saved_tz_;
};

TEST_F(FormatTest, HumanDurationLikeGoUnits) {
  struct {
    int64_t s;
    const char* want;
  } cases[] = {
      {0, "Less than a second"},
      {1, "1 second"},
      {59, "59 seconds"},
      {60, "About a minute"},
      {119, "About a minute"},
      {120, "2 minutes"},
      {3599, "59 minutes"},
      {3600, "About an hour"},
      {5399, "About an hour"},
      {5400, "2 hours"},
      {47 * 3600, "47 hours"},
      {48 * 3600, "2 days"},
      {13 * 86400, "13 days"},
      {14 * 86400, "2 weeks"},
      {59 * 86400, "8 weeks"},
      {60 * 86400, "2 months"},
      {729 * 86400, "24 months"},
      {730 * 86400, "2 years"},
      {10 * 365 * 86400, "10 years"},
  };
  for (const auto& c : cases) EXPECT_EQ(human_duration(c.s), c.want) << c.s;
  EXPECT_EQ(created_since(1000, 1000 + 3600), "About an hour ago");
  EXPECT_EQ(created_since(-1, 1000), "N/A");
}

TEST_F(FormatTest, HumanSizeLikeGoUnits) {
  EXPECT_EQ(human_size(0, 3), "0B");
  EXPECT_EQ(human_size(977, 3), "977B");
  EXPECT_EQ(human_size(1234, 3), "1.23kB");
  EXPECT_EQ(human_size(77'800'000, 3), "77.8MB");
  EXPECT_EQ(human_size(16'430'000, 4), "16.43MB");
  EXPECT_EQ(human_size(1'130'000'000, 3), "1.13GB");
  EXPECT_EQ(human_size(13'256, 4), "13.26kB");
}

TEST_F(FormatTest, TimesInTheLocalZone) {
  EXPECT_EQ(go_time_string(1714557600), "2024-05-01 10:00:00 +0000 UTC");
  EXPECT_EQ(rfc3339_local(1714557600), "2024-05-01T10:00:00Z");
  EXPECT_EQ(go_time_rfc3339(0), "0001-01-01T00:00:00Z");
  ::setenv("TZ", "CET-1CEST", 1);
  ::tzset();
  EXPECT_EQ(rfc3339_local(1704103200), "2024-01-01T11:00:00+01:00");
}

TEST_F(FormatTest, EllipsisAndIds) {
  EXPECT_EQ(ellipsis("short", 45), "short");
  std::string by = "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789 in /";
  std::string cut = ellipsis(by, 45);
  EXPECT_EQ(display_width(cut), 45u);
  EXPECT_EQ(cut, by.substr(0, 44) + "…");
  EXPECT_EQ(ellipsis("äöüäöü", 4), "äöü…");
  EXPECT_EQ(short_id("sha256:1a2b3c4d5e6f7a8b9c0d"), "1a2b3c4d5e6f");
}

TEST_F(FormatTest, PathMatchLikeGo) {
  struct {
    const char* pattern;
    const char* name;
    bool want;
  } cases[] = {
      {"ubuntu", "ubuntu", true},
      {"ubu*", "ubuntu", true},
      {"*", "library/ubuntu", false},
      {"*/*", "user/repo", true},
      {"ubuntu:2?.04", "ubuntu:22.04", true},
      {"ubuntu:[0-9]*", "ubuntu:latest", false},
      {"ubuntu:[^0-9]*", "ubuntu:latest", true},
      {"a\\*b", "a*b", true},
      {"a\\*b", "axb", false},
      {"", "", true},
  };
  for (const auto& c : cases) EXPECT_EQ(path_match(c.pattern, c.name), c.want) << c.pattern;
}

TEST_F(FormatTest, TabWriterLikeDockers) {
  TabWriter tw;
  tw.write("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n");
  tw.write("ubuntu\t22.04\t1a2b3c4d5e6f\t2 weeks ago\t77.8MB\n");
  tw.write("localhost:5000/x\tv1\t9f8e7d6c5b4a\tAbout an hour ago\t1.2kB\n");
  EXPECT_EQ(tw.flush(),
            "REPOSITORY         TAG       IMAGE ID       CREATED             SIZE\n"
            "ubuntu             22.04     1a2b3c4d5e6f   2 weeks ago         77.8MB\n"
            "localhost:5000/x   v1        9f8e7d6c5b4a   About an hour ago   1.2kB\n");
  // The last cell is not padded; an empty last column leaves the padding before it.
  tw.write("A\tB\n\tx\n");
  EXPECT_EQ(tw.flush(), "A         B\n          x\n");
  tw.write("IMAGE\tSIZE\tCOMMENT\n<missing>\t0B\t\n");
  EXPECT_EQ(tw.flush(), "IMAGE       SIZE      COMMENT\n<missing>   0B        \n");
  // Widths count characters, not bytes.
  tw.write("ab…\tx\nabcd\ty\n");
  EXPECT_EQ(tw.flush(), "ab…       x\nabcd      y\n");
}

TEST_F(FormatTest, DockerJson) {
  Json j = Json::object();
  j["Digest"] = "<none>";
  j["Env"] = nil_slice();
  j["Labels"] = nil_map();
  j["Sep"] = "a\u2028b & c";
  EXPECT_EQ(docker_json(j),
            R"({"Digest":"\u003cnone\u003e","Env":null,"Labels":null,"Sep":"a\u2028b \u0026 c"})");
  EXPECT_EQ(docker_json(j, -1, false),
            R"({"Digest":"<none>","Env":null,"Labels":null,"Sep":"a\u2028b & c"})");
  EXPECT_EQ(docker_json(Json::array(), 4), "[]");
  Json nested = {{"A", Json::object({{"80/tcp", Json::object()}})}};
  EXPECT_EQ(docker_json(Json::array({nested}), 4),
            "[\n    {\n        \"A\": {\n            \"80/tcp\": {}\n        }\n    }\n]");
  EXPECT_EQ(docker_json(Json("bad \xff utf8")), "\"bad \xef\xbf\xbd utf8\"");
}

TEST_F(FormatTest, GoPrint) {
  EXPECT_EQ(go_print(Json("x")), "x");
  EXPECT_EQ(go_print(Json::array({"A=1", "B=2"})), "[A=1 B=2]");
  EXPECT_EQ(go_print(Json({{"b", "2"}, {"a", "1"}})), "map[a:1 b:2]");
  EXPECT_EQ(go_print(nil_slice()), "[]");
  EXPECT_EQ(go_print(nil_map()), "map[]");
  EXPECT_EQ(go_print(Json(nullptr)), "<nil>");
  EXPECT_EQ(go_print(Json(42)), "42");
  EXPECT_EQ(go_print(Json(true)), "true");
}

Json sample() {
  Json j = Json::object();
  j["Id"] = "sha256:abc";
  j["Repository"] = "ubuntu";
  j["Tag"] = "22.04";
  j["Config"] = {{"Env", {"A=1", "B=2"}},
                 {"Labels", {{"org.x", "yes"}}},
                 {"Entrypoint", nil_slice()},
                 {"Cmd", {"/bin/sh"}}};
  return j;
}

TEST_F(FormatTest, TemplateFields) {
  struct {
    const char* tmpl;
    const char* want;
  } cases[] = {
      {"{{.Repository}}:{{.Tag}}", "ubuntu:22.04"},
      {"{{ .Id }}", "sha256:abc"},
      {"{{.Config.Env}}", "[A=1 B=2]"},
      {"{{.Config.Entrypoint}}", "[]"},
      {"{{json .Config.Entrypoint}}", "null"},
      {"{{json .Config.Env}}", R"(["A=1","B=2"])"},
      {"{{json .Config}}",
       R"({"Env":["A=1","B=2"],"Labels":{"org.x":"yes"},"Entrypoint":null,"Cmd":["/bin/sh"]})"},
      {"{{index .Config.Labels \"org.x\"}}", "yes"},
      {"{{index .Config.Labels \"nope\"}}", ""},
      {"{{index .Config.Env 1}}", "B=2"},
      {"{{join .Config.Env \",\"}}", "A=1,B=2"},
      {"{{upper .Repository}}", "UBUNTU"},
      {R"({{.Repository}}\t{{.Tag}})", "ubuntu\t22.04"},
      {R"(a\nb)", "a\nb"},
      {"x {{- .Tag -}} y", "x22.04y"},
      {"no actions", "no actions"},
      {"{{.Tag}}}}", "22.04}}"},
  };
  for (const auto& c : cases) {
    auto t = Template::parse(c.tmpl);
    ASSERT_TRUE(t) << c.tmpl << ": " << t.error().message();
    auto out = t->render(sample());
    ASSERT_TRUE(out) << c.tmpl << ": " << out.error().message();
    EXPECT_EQ(*out, c.want) << c.tmpl;
  }
}

TEST_F(FormatTest, TemplateRefusesWhatItCannotDo) {
  for (const char* bad : {"{{range .Config.Env}}{{.}}{{end}}", "{{if .Tag}}x{{end}}",
                          "{{.Tag | upper}}", "{{$x := .Tag}}", "{{printf \"%s\" .Tag}}", "{{.Tag",
                          "{{}}", "{{json}}", "{{join .Config.Env}}", "{{.a-b}}"}) {
    auto t = Template::parse(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_NE(t.error().message().find("template parsing error"), std::string::npos)
        << t.error().message();
  }
  auto t = Template::parse("{{.Range}}");
  EXPECT_NE(Template::parse("{{range .X}}").error().message().find("{{range .X}}"),
            std::string::npos);
  ASSERT_TRUE(t);
  auto strict = t->render(sample(), true);
  ASSERT_FALSE(strict);
  EXPECT_NE(strict.error().message().find("can't evaluate field Range"), std::string::npos);
  EXPECT_EQ(t->render(sample(), false).value(), "<no value>");
  auto deep = Template::parse("{{.Tag.X}}").value().render(sample());
  EXPECT_FALSE(deep);
}

TEST_F(FormatTest, RowPrinterModes) {
  Json headers = {{"Repository", "REPOSITORY"}, {"Tag", "TAG"}};
  Json row = {{"Repository", "ubuntu"}, {"Tag", "22.04"}};
  auto table = RowPrinter::make("", "{{.Repository}}\t{{.Tag}}", headers).value();
  ASSERT_TRUE(table.add(row));
  EXPECT_EQ(table.finish(), "REPOSITORY   TAG\nubuntu       22.04\n");

  auto custom =
      RowPrinter::make("table {{.Tag}}\\t{{.Repository}}\\t{{.Other}}", "{{.Repository}}", headers)
          .value();
  EXPECT_FALSE(custom.add(row));  // a row without the field is an error, like docker's
  auto plain = RowPrinter::make("{{.Repository}}:{{.Tag}}", "", headers).value();
  ASSERT_TRUE(plain.add(row));
  ASSERT_TRUE(plain.add(row));
  EXPECT_EQ(plain.finish(), "ubuntu:22.04\nubuntu:22.04\n");

  auto json = RowPrinter::make("json", "", headers).value();
  ASSERT_TRUE(json.add(row));
  EXPECT_EQ(json.finish(), "{\"Repository\":\"ubuntu\",\"Tag\":\"22.04\"}\n");
  // A listing row is marshalled by docker itself: {{json .}} escapes like the API, a field
  // does not.
  auto esc = RowPrinter::make("{{json .}} {{json .Tag}}", "", headers).value();
  ASSERT_TRUE(esc.add(Json{{"Tag", "<none>"}}));
  EXPECT_EQ(esc.finish(), "{\"Tag\":\"\\u003cnone\\u003e\"} \"<none>\"\n");

  auto t2 = RowPrinter::make("table {{.Tag}}\t{{.Repository}}", "", headers).value();
  ASSERT_TRUE(t2.add(row));
  EXPECT_EQ(t2.finish(), "TAG       REPOSITORY\n22.04     ubuntu\n");
  EXPECT_FALSE(RowPrinter::make("{{range .}}", "", headers));
}

TEST_F(FormatTest, ImageInspectJsonShape) {
  auto config = image::parse_image_config(
      R"({"architecture":"arm64","variant":"v8","os":"linux","created":"2024-05-01T10:00:00.5Z",
          "config":{"Env":["A=1"],"Cmd":["/bin/sh"],"ExposedPorts":{"80/tcp":{}},"Shell":["/bin/bash","-c"]},
          "rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111",
          "sha256:2222222222222222222222222222222222222222222222222222222222222222"]}})");
  ASSERT_TRUE(config) << config.error().message();
  storage::ImageRecord rec;
  rec.id = "sha256:" + std::string(64, 'a');
  rec.size = 1234;
  rec.tags = {"docker.io/library/ubuntu:22.04", "localhost:5000/x:1"};
  rec.repo_digests = {"docker.io/library/ubuntu@sha256:" + std::string(64, 'b')};
  ImageView v{&rec, &*config, {"/s/layers/l0", "/s/layers/l1"}, 0};
  Json j = image_inspect_json(v);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"Id", "RepoTags", "RepoDigests", "Parent", "Comment",
                                            "Created", "DockerVersion", "Author", "Config",
                                            "Architecture", "Variant", "Os", "Size", "GraphDriver",
                                            "RootFS", "Metadata"}));
  EXPECT_EQ(j["RepoTags"], Json({"ubuntu:22.04", "localhost:5000/x:1"}));
  EXPECT_EQ(j["RepoDigests"][0], "ubuntu@sha256:" + std::string(64, 'b'));
  EXPECT_EQ(j["Created"], "2024-05-01T10:00:00.5Z");
  EXPECT_EQ(j["Config"]["ExposedPorts"], Json({{"80/tcp", Json::object()}}));
  EXPECT_EQ(j["Config"]["Shell"], Json({"/bin/bash", "-c"}));
  EXPECT_FALSE(j["Config"].contains("Healthcheck"));
  EXPECT_EQ(go_print(j["Config"]["Entrypoint"]), "[]");
  EXPECT_EQ(j["GraphDriver"]["Data"]["LowerDir"], "/s/layers/l0/diff");
  EXPECT_EQ(j["GraphDriver"]["Data"]["UpperDir"], "/s/layers/l1/diff");
  EXPECT_EQ(j["GraphDriver"]["Name"], "overlay2");
  EXPECT_EQ(j["RootFS"]["Layers"].size(), 2u);
  EXPECT_EQ(j["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
  std::string text = docker_json(j, 4);
  EXPECT_NE(text.find("\"Entrypoint\": null,"), std::string::npos);
  EXPECT_NE(text.find("\"Volumes\": null,"), std::string::npos);
  EXPECT_NE(text.find("    \"Id\": \"sha256:aaaa"), std::string::npos);
}

}  // namespace
}  // namespace berth::cli
