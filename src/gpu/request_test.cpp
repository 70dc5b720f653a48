#include "gpu/request.h"

#include <gtest/gtest.h>

namespace berth::gpu {
namespace {

using Ids = std::vector<std::string>;

struct GpusCase {
  std::string value;
  int count;
  Ids device_ids;
  Ids capabilities;
  std::string driver;
  std::string visible;  // visible_devices_for
};

TEST(GpusFlag, AcceptedForms) {
  const GpusCase cases[] = {
      {"all", -1, {}, {}, "", "all"},
      {"2", 2, {}, {}, "", "0,1"},
      {"+3", 3, {}, {}, "", "0,1,2"},
      {"-1", -1, {}, {}, "", "all"},
      {"0", 0, {}, {}, "", "void"},
      {"count=all", -1, {}, {}, "", "all"},
      {"count=4", 4, {}, {}, "", "0,1,2,3"},
      {"all\n", -1, {}, {}, "", "all"},
      {"\"device=0,2\"", 0, {"0", "2"}, {}, "", "0,2"},
      {"device=1", 0, {"1"}, {}, "", "1"},
      {"device=GPU-3a4b5c6d-0000-1111-2222-333344445555",
       0,
       {"GPU-3a4b5c6d-0000-1111-2222-333344445555"},
       {},
       "",
       "GPU-3a4b5c6d-0000-1111-2222-333344445555"},
      {"device=MIG-11111111-2222-3333-4444-555555555555",
       0,
       {"MIG-11111111-2222-3333-4444-555555555555"},
       {},
       "",
       "MIG-11111111-2222-3333-4444-555555555555"},
      {"device=0:1", 0, {"0:1"}, {}, "", "0:1"},
      {"all,\"capabilities=compute,utility\"", -1, {}, {"compute", "utility"}, "", "all"},
      // "gpu" and other generic words are dropped; entries trimmed, duplicates dropped.
      {"\"capabilities=gpu,video, graphics,compute,video,fpga\"",
       1,
       {},
       {"video", "graphics", "compute"},
       "",
       "0"},
      {"capabilities=gpu", 1, {}, {}, "", "0"},
      {"capabilities=all", 1, {}, {"all"}, "", "0"},
      {"driver=nvidia", 1, {}, {}, "nvidia", "0"},
      {"2,driver=nvidia", 2, {}, {}, "nvidia", "0,1"},
      {"\"device=0,1\",driver=nvidia,capabilities=utility",
       0,
       {"0", "1"},
       {"utility"},
       "nvidia",
       "0,1"},
      {"count=0,device=3", 0, {"3"}, {}, "", "3"},
      {"all,\"options=a=b,c\"", -1, {}, {}, "", "all"},
      {"\"all\"", -1, {}, {}, "", "all"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto f = parse_gpus_flag(c.value);
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(f->count, c.count);
    EXPECT_EQ(f->device_ids, c.device_ids);
    EXPECT_EQ(f->capabilities, c.capabilities);
    EXPECT_EQ(f->driver, c.driver);
    EXPECT_EQ(visible_devices_for(*f), c.visible);
  }
}

TEST(GpusFlag, DoubledQuoteInsideQuotedFieldIsLiteral) {
  auto f = parse_gpus_flag("\"device=a\"\"b\"");
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(f->device_ids, Ids{"a\"b"});
}

TEST(GpusFlag, Errors) {
  const std::pair<std::string, std::string> cases[] = {
      // Without the inner quotes "2" is a second field, read as a count.
      {"device=0,2", "cannot set both Count and DeviceIDs on device request"},
      {"all,device=0", "cannot set both Count and DeviceIDs on device request"},
      {"count=2,device=0", "cannot set both Count and DeviceIDs on device request"},
      {"driver=other",
       "could not select device driver \"other\": berth only has the \"nvidia\" driver"},
      {"driver=nvidia.cdi",
       "could not select device driver \"nvidia.cdi\": berth only has the \"nvidia\" driver"},
      {"foo=bar", "unexpected key 'foo' in 'foo=bar'"},
      {"=1", "unexpected key '' in '=1'"},
      {"garbage", "invalid count: garbage"},
      {"device", "invalid count: device"},
      {"two", "invalid count: two"},
      {"1.5", "invalid count: 1.5"},
      {"-2", "invalid count: -2"},
      {"count=-5", "invalid count: -5"},
      {"+-1", "invalid count: +-1"},
      {"99999999999999999999", "invalid count: 99999999999999999999"},
      {"1025", "invalid count: 1025"},
      {"all,", "invalid count: \"\""},
      {",all", "invalid count: \"\""},
      {"count=", "invalid count: \"\""},
      {"all,2", "gpu request key 'count' can be specified only once"},
      {"all,count=2", "gpu request key 'count' can be specified only once"},
      {"driver=nvidia,driver=nvidia", "gpu request key 'driver' can be specified only once"},
      {"capabilities=compute,capabilities=utility",
       "gpu request key 'capabilities' can be specified only once"},
      {"\"device=0,1", "invalid --gpus value: extraneous or missing \" in quoted field"},
      {"\"device=0\"x", "invalid --gpus value: extraneous or missing \" in quoted field"},
      {"device=\"0\"", "invalid --gpus value: bare \" in non-quoted field"},
      {" \"all\"", "invalid --gpus value: bare \" in non-quoted field"},
      {"\"device=0,,1\"", "invalid --gpus value: empty device id in 'device=0,,1'"},
      {"device=", "invalid --gpus value: empty device id in 'device='"},
      {"", "invalid --gpus value: empty"},
      {"\n", "invalid --gpus value: empty"},
      {"all\nfoo", "invalid --gpus value: control character"},
      {std::string("dev\0ice=0", 9), "invalid --gpus value: control character"},
      {"all,\"options=\"\"a\"",
       "failed to read gpu options: extraneous or missing \" in quoted field"},
  };
  for (const auto& [value, want] : cases) {
    SCOPED_TRACE(value);
    auto f = parse_gpus_flag(value);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().message(), want);
  }
}

TEST(GpusFlag, LargestCountIsAccepted) {
  auto f = parse_gpus_flag(std::to_string(kMaxGpuCount));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->count, kMaxGpuCount);
}

TEST(VisibleDevicesFor, ZeroCountWithoutIdsIsVoid) {
  EXPECT_EQ(visible_devices_for(GpusFlag{}), "void");
}

struct VisibleCase {
  std::string value;
  VisibleDevices::Kind kind;
  Ids ids;
};

TEST(VisibleDevices, Parse) {
  const VisibleCase cases[] = {
      {"", VisibleDevices::kVoid, {}},
      {"void", VisibleDevices::kVoid, {}},
      {" void ", VisibleDevices::kVoid, {}},
      {" , ,", VisibleDevices::kVoid, {}},
      {"none", VisibleDevices::kNone, {}},
      {"none,none", VisibleDevices::kNone, {}},
      {"all", VisibleDevices::kAll, {}},
      {"0,all", VisibleDevices::kAll, {}},
      {" all ,1", VisibleDevices::kAll, {}},
      {"0", VisibleDevices::kList, {"0"}},
      {"0, 1 ,,2,", VisibleDevices::kList, {"0", "1", "2"}},
      {"1,0,1, 0", VisibleDevices::kList, {"1", "0"}},
      {"GPU-abc,MIG-def,0:1,00000000:17:00.0",
       VisibleDevices::kList,
       {"GPU-abc", "MIG-def", "0:1", "00000000:17:00.0"}},
      // Not alone: a device name that the matcher will call unknown.
      {"none,0", VisibleDevices::kList, {"none", "0"}},
      {"void,1", VisibleDevices::kList, {"void", "1"}},
      // Case-sensitive, as the toolkit is.
      {"ALL", VisibleDevices::kList, {"ALL"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto v = parse_visible_devices(c.value);
    EXPECT_EQ(v.kind, c.kind);
    EXPECT_EQ(v.ids, c.ids);
  }
}

TEST(Capabilities, Parse) {
  const std::pair<std::string, unsigned> cases[] = {
      {"", kDefaultCapabilities},
      {" , ", kDefaultCapabilities},
      {"all", kAllCapabilities},
      {"utility,all", kAllCapabilities},
      {"compute", kCompute},
      {"compute,utility", kCompute | kUtility},
      {" utility , compute ,", kCompute | kUtility},
      {"compat32", kCompat32},
      {"graphics", kGraphics},
      {"ngx", kNgx},
      {"video", kVideo | kCompute},
      {"display", kDisplay | kGraphics},
      {"video,display", kVideo | kCompute | kDisplay | kGraphics},
      {"compute,compat32,graphics,utility,video,display,ngx", kAllCapabilities},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto caps = parse_capabilities(in);
    ASSERT_TRUE(caps.ok()) << caps.error().message();
    EXPECT_EQ(*caps, want);
  }
}

TEST(Capabilities, UnknownIsAnError) {
  const std::pair<std::string, std::string> cases[] = {
      {"compute,bogus", "unsupported capability: bogus"},
      {"gpu", "unsupported capability: gpu"},
      {"Compute", "unsupported capability: Compute"},
      {"compute;utility", "unsupported capability: compute;utility"},
  };
  for (const auto& [in, want] : cases) {
    auto caps = parse_capabilities(in);
    ASSERT_FALSE(caps.ok()) << in;
    EXPECT_EQ(caps.error().message(), want);
  }
}

TEST(Capabilities, StringInFixedOrderAndRoundTrips) {
  EXPECT_EQ(capabilities_string(kUtility | kCompute), "compute,utility");
  EXPECT_EQ(capabilities_string(kNgx | kVideo | kCompat32), "compat32,video,ngx");
  EXPECT_EQ(capabilities_string(kAllCapabilities), "all");
  EXPECT_EQ(capabilities_string(0), "");
  for (const char* in : {"video", "display,utility", "ngx,compat32", "all", ""}) {
    auto caps = parse_capabilities(in);
    ASSERT_TRUE(caps.ok());
    auto again = parse_capabilities(capabilities_string(*caps));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *caps) << in;
  }
}

}  // namespace
}  // namespace berth::gpu
