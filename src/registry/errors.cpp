#include "registry/errors.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/json_read.h"

namespace berth::registry {
namespace {

constexpr size_t kMaxLine = 512;

// "MANIFEST_UNKNOWN" -> "manifest unknown" (distribution's errcode text).
std::string code_text(std::string code) {
  std::replace(code.begin(), code.end(), '_', ' ');
  std::transform(code.begin(), code.end(), code.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return code;
}

// Control characters and newlines from a hostile server do not reach the terminal.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxLine)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  if (s.size() > kMaxLine) out += "...";
  return out;
}

std::string one_error(const nlohmann::json& e) {
  std::string code, message;
  if (!e.is_object()) return {};
  json_read::string(e, "code", &code);
  json_read::string(e, "message", &message);
  std::string text = code_text(code);
  if (message.empty()) return text;
  if (text.empty()) return message;
  return text + ": " + message;
}

// {"errors":[...]} (distribution), {"details":"..."} (Docker Hub's token server).
std::string from_json(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return {};
  std::string out;
  if (auto it = j.find("errors"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      std::string one = one_error(e);
      if (one.empty()) continue;
      if (!out.empty()) out += "; ";
      out += one;
    }
  }
  if (out.empty()) json_read::string(j, "details", &out);
  if (out.empty()) json_read::string(j, "message", &out);
  return out;
}

std::string from_status(long status, std::string_view reason) {
  switch (status) {
    case 401:
      return "unauthorized: authentication required";
    case 403:
      return "denied: requested access to the resource is denied";
    case 404:
      return "not found";
    case 429:
      return "toomanyrequests: too many requests";
    default:
      break;
  }
  std::string r(reason.empty() ? "" : " " + std::string(reason));
  return "received unexpected HTTP status: " + std::to_string(status) + r;
}

}  // namespace

std::string describe_error(long status, std::string_view reason, std::string_view body) {
  std::string s = from_json(body);
  if (s.empty()) return printable(from_status(status, reason));
  return printable(s);
}

}  // namespace berth::registry
