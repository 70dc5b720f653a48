// devices_test.cpp - device rules: v1 strings, validation, and the eBPF program run through
// a small interpreter of the instructions the builder emits.
#include "cgroup/devices.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>

namespace berth::cgroup::detail {
namespace {

oci::DeviceCgroup rule(bool allow, std::string type, std::optional<int64_t> major,
                       std::optional<int64_t> minor, std::string access) {
  oci::DeviceCgroup r;
  r.allow = allow;
  r.type = std::move(type);
  r.major = major;
  r.minor = minor;
  r.access = std::move(access);
  return r;
}

constexpr auto kAny = std::nullopt;

TEST(DeviceRules, V1Strings) {
  EXPECT_EQ(v1_device_rule(rule(true, "c", 1, 3, "rwm")), "c 1:3 rwm");
  EXPECT_EQ(v1_device_rule(rule(false, "b", kAny, kAny, "r")), "b *:* r");
  EXPECT_EQ(v1_device_rule(rule(true, "c", 136, kAny, "rw")), "c 136:* rw");
  EXPECT_EQ(v1_device_rule(rule(false, "a", kAny, kAny, "rwm")), "a");
}

TEST(DeviceRules, Validation) {
  EXPECT_TRUE(validate_device_rule(rule(true, "c", 1, 3, "rwm")).ok());
  EXPECT_TRUE(validate_device_rule(rule(true, "a", kAny, kAny, "m")).ok());
  auto bad_type = validate_device_rule(rule(true, "x", 1, 3, "rwm"));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.error().message(), "invalid device cgroup rule type \"x\"");
  auto bad_access = validate_device_rule(rule(true, "c", 1, 3, "rwx"));
  ASSERT_FALSE(bad_access.ok());
  EXPECT_EQ(bad_access.error().message(),
            "invalid device cgroup access \"rwx\" in allow c 1:3 rwx");
  EXPECT_FALSE(validate_device_rule(rule(true, "c", 1, 3, "")).ok());
  EXPECT_FALSE(validate_device_rule(rule(true, "c", -1, 3, "r")).ok());
  EXPECT_FALSE(validate_device_rule(rule(true, "c", 1, int64_t{1} << 32, "r")).ok());
  EXPECT_FALSE(build_device_program({rule(true, "q", 1, 3, "r")}).ok());
}

// Runs the program on one request; fails the test on an instruction the builder should not
// emit, a jump out of range, or a fall off the end.
int run(const std::vector<bpf_insn>& prog, uint32_t type, uint32_t access, uint32_t major,
        uint32_t minor) {
  const uint32_t ctx[3] = {(access << 16) | type, major, minor};
  uint64_t r[11] = {};
  bool r1_is_ctx = true;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    uint32_t src = BPF_SRC(i.code) == BPF_X ? static_cast<uint32_t>(r[i.src_reg])
                                            : static_cast<uint32_t>(i.imm);
    switch (BPF_CLASS(i.code)) {
      case BPF_LDX:
        EXPECT_TRUE(r1_is_ctx && i.src_reg == BPF_REG_1 && i.off % 4 == 0 && i.off <= 8);
        r[i.dst_reg] = ctx[i.off / 4];
        break;
      case BPF_ALU: {
        uint32_t d = static_cast<uint32_t>(r[i.dst_reg]);
        if (BPF_OP(i.code) == BPF_AND)
          d &= src;
        else if (BPF_OP(i.code) == BPF_RSH)
          d >>= src;
        else if (BPF_OP(i.code) == BPF_MOV)
          d = src;
        else
          ADD_FAILURE() << "alu op " << int(i.code);
        r[i.dst_reg] = d;
        if (i.dst_reg == BPF_REG_1) r1_is_ctx = false;
        break;
      }
      case BPF_JMP32: {
        uint32_t d = static_cast<uint32_t>(r[i.dst_reg]);
        bool jump = BPF_OP(i.code) == BPF_JNE ? d != src : d == src;
        EXPECT_TRUE(BPF_OP(i.code) == BPF_JNE || BPF_OP(i.code) == BPF_JEQ);
        EXPECT_GE(i.off, 0);
        if (jump) pc += static_cast<size_t>(i.off);
        if (pc >= prog.size()) ADD_FAILURE() << "jump out of the program";
        break;
      }
      case BPF_JMP:
        EXPECT_EQ(i.code, BPF_JMP | BPF_EXIT);
        return static_cast<int>(r[0]);
      default:
        ADD_FAILURE() << "unexpected instruction class " << int(i.code);
        return -1;
    }
  }
  ADD_FAILURE() << "fell off the end of the program";
  return -1;
}

// Every instruction must be reachable: the kernel verifier refuses dead code.
void expect_all_reachable(const std::vector<bpf_insn>& prog) {
  std::set<size_t> seen;
  std::vector<size_t> todo = {0};
  while (!todo.empty()) {
    size_t pc = todo.back();
    todo.pop_back();
    if (pc >= prog.size() || !seen.insert(pc).second) continue;
    const bpf_insn& i = prog[pc];
    if (i.code == (BPF_JMP | BPF_EXIT)) continue;
    todo.push_back(pc + 1);
    if (BPF_CLASS(i.code) == BPF_JMP32) todo.push_back(pc + 1 + static_cast<size_t>(i.off));
  }
  EXPECT_EQ(seen.size(), prog.size());
}

constexpr uint32_t C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
constexpr uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;

struct Request {
  uint32_t type, access, major, minor;
  int allowed;
};

void check(const std::vector<oci::DeviceCgroup>& rules, const std::vector<Request>& requests) {
  auto prog = build_device_program(rules);
  ASSERT_TRUE(prog.ok()) << prog.error().message();
  expect_all_reachable(*prog);
  for (const auto& q : requests)
    EXPECT_EQ(run(*prog, q.type, q.access, q.major, q.minor), q.allowed)
        << "type " << q.type << " access " << q.access << " " << q.major << ":" << q.minor;
}

TEST(DeviceProgram, DefaultDenyPlusAllowNull) {
  check({rule(false, "a", kAny, kAny, "rwm"), rule(true, "c", 1, 3, "rwm")},
        {{C, R, 1, 3, 1}, {C, R | W, 1, 3, 1}, {C, M, 1, 3, 1}, {C, R, 1, 5, 0}, {B, R, 1, 3, 0}});
}

TEST(DeviceProgram, NoRulesDeniesEverything) {
  check({}, {{C, R, 1, 3, 0}, {B, W, 8, 0, 0}});
}

TEST(DeviceProgram, AllowAllThenDenyOne) {
  check({rule(true, "a", kAny, kAny, "rwm"), rule(false, "c", 1, 5, "w")},
        {{C, R, 1, 5, 1}, {C, W, 1, 5, 0}, {C, R | W, 1, 5, 0}, {C, W, 1, 3, 1}, {B, W, 8, 0, 1}});
}

TEST(DeviceProgram, LastMatchWinsAndAccessMustBeCovered) {
  check({rule(false, "a", kAny, kAny, "rwm"), rule(true, "c", kAny, kAny, "m"),
         rule(true, "c", 136, kAny, "rw"), rule(false, "c", 136, 2, "rwm")},
        {{C, M, 4, 1, 1},
         {C, R, 4, 1, 0},
         {C, R | W, 136, 7, 1},
         {C, M, 136, 7, 1},
         {C, R, 136, 2, 0},
         {C, M, 136, 2, 0},
         {B, M, 8, 0, 0}});
}

TEST(DeviceProgram, AWildcardAllowEndsTheProgram) {
  auto prog =
      build_device_program({rule(false, "c", 1, 5, "rwm"), rule(true, "a", kAny, kAny, "rwm")});
  ASSERT_TRUE(prog.ok());
  expect_all_reachable(*prog);
  EXPECT_EQ(prog->size(), 8u);  // 6 loads/shifts, mov, exit: the earlier rule is unreachable
  EXPECT_EQ(run(*prog, C, R, 1, 5), 1);
}

TEST(DeviceProgram, LargeDeviceNumbers) {
  check({rule(true, "b", 4000000000, 3000000000, "r")},
        {{B, R, 4000000000u, 3000000000u, 1}, {B, R, 4000000000u, 3, 0}});
}

}  // namespace
}  // namespace berth::cgroup::detail
