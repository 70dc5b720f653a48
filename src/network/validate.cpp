#include "network/validate.h"

namespace berth::network {
namespace {

bool safe_chars(const std::string& s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// The value as it may appear in a one-line error: quoted, control bytes as '?', bounded.
std::string shown_value(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : s[i];
  }
  return out + (s.size() > 80 ? "...\"" : "\"");
}

Status check_ifname(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == ".." || !safe_chars(name))
    return Error::invalid("invalid interface name", shown_value(name));
  return ok();
}

Status check_key(const std::string& key) {
  if (key.empty() || key.size() > 64 || !safe_chars(key))
    return Error::invalid("invalid rule key", shown_value(key));
  return ok();
}

Status check_proto(const std::string& proto) {
  if (proto != "tcp" && proto != "udp")
    return Error::invalid("invalid protocol (want tcp or udp)", shown_value(proto));
  return ok();
}

}  // namespace berth::network
