#include "oci/state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::oci {
namespace {

TEST(State, RoundTrips) {
  State st{.oci_version = "1.1.0",
           .id = "box",
           .status = "running",
           .pid = 4242,
           .bundle = "/var/lib/berth/box",
           .annotations = {{"org.example", "1"}}};
  std::string text = state_to_json(st);
  EXPECT_EQ(
      text,
      "{\"ociVersion\":\"1.1.0\",\"id\":\"box\",\"status\":\"running\",\"pid\":4242,"
      "\"bundle\":\"/var/lib/berth/box\",\"annotations\":{\"org.example\":\"1\"}}");  // one line,
                                                                                      // for hooks
  auto back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->id, "box");
  EXPECT_EQ(back->status, "running");
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->bundle, "/var/lib/berth/box");
  EXPECT_EQ(back->annotations.at("org.example"), "1");
}

TEST(State, OmitsZeroPidAndEmptyAnnotations) {
  State st{.oci_version = "1.1.0", .id = "box", .status = "stopped", .bundle = "/b"};
  std::string text = state_to_json(st);
  EXPECT_EQ(text.find("pid"), std::string::npos);
  EXPECT_EQ(text.find("annotations"), std::string::npos);
  auto back = parse_state(text);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->pid, 0);
}

TEST(State, IgnoresUnknownFields) {
  auto st = parse_state(
      R"({"ociVersion": "1.0.2", "id": "a", "status": "created", "pid": 7, "bundle": "/b",
          "rootfs": "/b/rootfs"})");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->pid, 7);
}

TEST(State, RejectsBadInput) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "state.json: not valid JSON: document is empty"},
      {"{", "state.json: not valid JSON at byte"},
      {"[1]", "state.json: expected object, got array"},
      {R"({"ociVersion": "1.1.0", "status": "running", "bundle": "/b"})",
       "state.json: id must be set"},
      {R"({"ociVersion": "1.1.0", "id": "a", "status": "sleeping", "bundle": "/b"})",
       R"(state.json: status: "sleeping" is not one of creating, created, running, stopped, paused)"},
      {R"({"ociVersion": "1.1.0", "id": "a", "status": "running", "pid": "7", "bundle": "/b"})",
       "state.json: pid: expected integer, got string"},
      {R"({"ociVersion": "1.1.0", "id": "a", "status": "running", "pid": -3, "bundle": "/b"})",
       "state.json: pid: must not be negative"},
      {R"({"ociVersion": "1.1.0", "id": "a", "status": "running", "pid": 2147483648,
           "bundle": "/b"})",
       "state.json: pid: 2147483648 is out of range for int32"},
      {R"({"ociVersion": "1.1.0", "id": "a", "status": "running", "bundle": "b"})",
       R"(state.json: bundle: "b" is not an absolute path)"},
      {R"({"ociVersion": "1.1.0", "id": "a", "status": "running", "bundle": "/b",
           "annotations": {"k": 1}})",
       R"(state.json: annotations["k"]: expected string, got number)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto st = parse_state(c.text);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find(c.error), std::string::npos) << st.error().message();
  }
}

}  // namespace
}  // namespace berth::oci
