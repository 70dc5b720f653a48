#include "oci/json_codec.h"

#include <exception>

#include "base/strings.h"

namespace berth::oci::codec {
namespace {

constexpr size_t kMaxDetail = 200;  // parse error details quote input; keep them short

// The byte offset where bracket nesting first exceeds kMaxDepth, or npos. Brackets inside
// strings do not count.
size_t find_too_deep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

// nlohmann's what() is "[json.exception.parse_error.101] parse error at line 1, column 2:
// syntax error ..."; keep the part after the position, which we report as a byte offset.
std::string parse_error_detail(const nlohmann::json::parse_error& e) {
  std::string_view what = e.what();
  size_t at = what.find("parse error");
  if (at != std::string_view::npos) {
    size_t colon = what.find(": ", at);
    if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
  }
  std::string detail(what.substr(0, kMaxDetail));
  if (what.size() > kMaxDetail) detail += "...";
  return detail;
}

}  // namespace

Result<Json> parse_document(std::string_view text) {
  if (trim(text).empty()) return Error::invalid("not valid JSON: document is empty");
  size_t deep = find_too_deep(text);
  if (deep != std::string_view::npos)
    return Error::invalid("not valid JSON: nested deeper than " + std::to_string(kMaxDepth) +
                          " levels at byte " + std::to_string(deep));
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;  // nlohmann counts from 1
    return Error::invalid("not valid JSON at byte " + std::to_string(offset) + ": " +
                          parse_error_detail(e));
  } catch (const std::exception& e) {
    return Error::invalid(std::string("not valid JSON: ") + e.what());
  }
}

std::string dump_pretty(const OJson& j) {
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string dump_compact(const OJson& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Error in_file(std::string_view file, const Error& e) {
  return Error::invalid(std::string(file) + ": " + e.message());
}

std::string key_path(std::string_view parent, std::string_view key) {
  std::string p(parent);
  if (!p.empty()) p += '.';
  p += key;
  return p;
}

std::string index_path(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string map_path(std::string_view parent, std::string_view key) {
  return std::string(parent) + "[" + quote(key) + "]";
}

std::string quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Error path_error(std::string_view path, std::string_view msg) {
  if (path.empty()) return Error::invalid(std::string(msg));
  return Error::invalid(std::string(path) + ": " + std::string(msg));
}

Error type_error(std::string_view path, std::string_view expected, const Json& got) {
  std::string msg = "expected ";
  msg.append(expected).append(", got ").append(got.type_name());
  if (got.is_number_float()) msg.append(" ").append(got.dump());
  return path_error(path, msg);
}

Error range_error(std::string_view path, const Json& v, std::string_view type) {
  return path_error(path, v.dump() + " is out of range for " + std::string(type));
}

Status read_string_map(const Json& v, const std::string& path,
                       std::map<std::string, std::string>& out) {
  if (!v.is_object()) return type_error(path, "object", v);
  out.clear();
  for (const auto& [key, val] : v.items()) {
    if (!val.is_string()) return type_error(map_path(path, key), "string", val);
    out[key] = val.get_ref<const std::string&>();
  }
  return ok();
}

bool is_empty_json(const OJson& j) {
  switch (j.type()) {
    case OJson::value_t::null:
      return true;
    case OJson::value_t::string:
      return j.get_ref<const std::string&>().empty();
    case OJson::value_t::boolean:
      return !j.get<bool>();
    case OJson::value_t::number_integer:
      return j.get<int64_t>() == 0;
    case OJson::value_t::number_unsigned:
      return j.get<uint64_t>() == 0;
    case OJson::value_t::array:
    case OJson::value_t::object:
      return j.empty();
    default:
      return false;
  }
}

}  // namespace berth::oci::codec
