// devices.cpp - device rule validation, v1 rule strings and the eBPF program builder.
#include "cgroup/devices.h"

#include <cstdint>
#include <optional>

namespace berth::cgroup::detail {

namespace {

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn load_u32(uint8_t dst, int16_t offset) {  // dst = *(u32*)(r1 + offset)
  return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, offset, 0);
}
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov32_reg(uint8_t dst, uint8_t src) {
  return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn jmp32_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return insn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
}
bpf_insn jmp32_reg(uint8_t op, uint8_t dst, uint8_t src, int16_t off) {
  return insn(BPF_JMP32 | op | BPF_X, dst, src, off, 0);
}
bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

int32_t access_mask(const std::string& access) {
  int32_t mask = 0;
  for (char ch : access) {
    if (ch == 'r') mask |= BPF_DEVCG_ACC_READ;
    if (ch == 'w') mask |= BPF_DEVCG_ACC_WRITE;
    if (ch == 'm') mask |= BPF_DEVCG_ACC_MKNOD;
  }
  return mask;
}

std::optional<int32_t> bpf_type(const std::string& type) {
  if (type == "c") return BPF_DEVCG_DEV_CHAR;
  if (type == "b") return BPF_DEVCG_DEV_BLOCK;
  return std::nullopt;  // "a": any
}

std::string number_or_star(const std::optional<int64_t>& n) {
  return n ? std::to_string(*n) : "*";
}

// One rule's test. Its jumps carry the placeholder offset kNext, patched to "past this block"
// once the block's length is known.
constexpr int16_t kNext = -1;

std::vector<bpf_insn> rule_block(const oci::DeviceCgroup& r) {
  std::vector<bpf_insn> b;
  if (auto t = bpf_type(r.type)) b.push_back(jmp32_imm(BPF_JNE, BPF_REG_2, *t, kNext));
  int32_t mask = access_mask(r.access);
  if (mask != kAllAccess) {
    b.push_back(mov32_reg(BPF_REG_1, BPF_REG_3));
    b.push_back(alu32_imm(BPF_AND, BPF_REG_1, mask));
    if (r.allow)  // every requested bit granted: (access & mask) == access
      b.push_back(jmp32_reg(BPF_JNE, BPF_REG_1, BPF_REG_3, kNext));
    else  // any requested bit named
      b.push_back(jmp32_imm(BPF_JEQ, BPF_REG_1, 0, kNext));
  }
  if (r.major) b.push_back(jmp32_imm(BPF_JNE, BPF_REG_4, static_cast<int32_t>(*r.major), kNext));
  if (r.minor) b.push_back(jmp32_imm(BPF_JNE, BPF_REG_5, static_cast<int32_t>(*r.minor), kNext));
  b.push_back(alu32_imm(BPF_MOV, BPF_REG_0, r.allow ? 1 : 0));
  b.push_back(exit_insn());
  for (size_t i = 0; i < b.size(); ++i)
    if (BPF_CLASS(b[i].code) == BPF_JMP32) b[i].off = static_cast<int16_t>(b.size() - i - 1);
  return b;
}

bool matches_everything(const std::vector<bpf_insn>& block) {
  return block.size() == 2;
}

}  // namespace

Status validate_device_rule(const oci::DeviceCgroup& r) {
  std::string shown = (r.allow ? "allow " : "deny ") + v1_device_rule(r);
  if (r.type != "a" && r.type != "c" && r.type != "b")
    return Error::invalid("invalid device cgroup rule type", "\"" + r.type + "\"");
  if (r.access.empty() || r.access.find_first_not_of("rwm") != std::string::npos)
    return Error::invalid("invalid device cgroup access \"" + r.access + "\" in", shown);
  auto bad = [](const std::optional<int64_t>& n) { return n && (*n < 0 || *n > UINT32_MAX); };
  if (bad(r.major) || bad(r.minor))
    return Error::invalid("invalid device number in device cgroup rule", shown);
  return ok();
}

std::string v1_device_rule(const oci::DeviceCgroup& r) {
  if (r.type == "a") return "a";
  return r.type + " " + number_or_star(r.major) + ":" + number_or_star(r.minor) + " " + r.access;
}

Result<std::vector<bpf_insn>> build_device_program(const std::vector<oci::DeviceCgroup>& rules) {
  for (const auto& r : rules) TRY(validate_device_rule(r));
  std::vector<bpf_insn> prog = {
      load_u32(BPF_REG_2, 0), alu32_imm(BPF_AND, BPF_REG_2, 0xffff),  // type
      load_u32(BPF_REG_3, 0), alu32_imm(BPF_RSH, BPF_REG_3, 16),      // access
      load_u32(BPF_REG_4, 4),                                         // major
      load_u32(BPF_REG_5, 8),                                         // minor
  };
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    auto block = rule_block(*it);
    prog.insert(prog.end(), block.begin(), block.end());
    // Anything after an unconditional return is unreachable, which the verifier refuses.
    if (matches_everything(block)) return prog;
  }
  prog.push_back(alu32_imm(BPF_MOV, BPF_REG_0, 0));
  prog.push_back(exit_insn());
  return prog;
}

}  // namespace berth::cgroup::detail
