// quote.h - user input inside a one-line error message (internal to src/build): quoted, cut
// at 80 bytes, control bytes escaped (\n \t \r, else \xNN) so the error stays one line.
#pragma once

#include <string>
#include <string_view>

namespace berth::build {

inline std::string quote_for_error(std::string_view s, size_t max = 80) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out + "'";
}

}  // namespace berth::build
