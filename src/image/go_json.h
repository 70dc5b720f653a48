// go_json.h - internal to src/image: make nlohmann's JSON output byte-identical to Go's
// encoding/json, which docker uses to write manifests and configs.
#pragma once

#include <string>
#include <string_view>

namespace berth::image {

// Go escapes <, > and & (HTML safety) and U+2028/U+2029 (JavaScript line separators) inside
// strings. None of them can appear in JSON outside a string, so the whole text is rewritten.
inline std::string go_escape(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xa8' || json[i + 2] == '\xa9')) {
      out += json[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace berth::image
