// json_codec.h - internal: typed, path-tracking conversion between nlohmann::json and the
// OCI structs, without exceptions.
//
// Each struct gets a Schema<T> specialisation listing its JSON fields once; read_value()
// and write_value() walk that list, so parsing and writing cannot drift apart. Reading
// follows encoding/json as runc uses it: unknown fields are ignored, an absent or null field
// leaves the default, a field of the wrong JSON type is an error naming its JSON path
// ("process.args[1]: expected string, got number"). Writing omits empty values unless the
// field is marked kAlways; a present std::optional is always written.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::oci::codec {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;  // keeps schema order when writing

// Documents nested deeper than this are rejected before nlohmann builds them: nlohmann has no
// depth limit and a 64 MB run of '[' would cost gigabytes.
inline constexpr size_t kMaxDepth = 512;

// Parses a whole JSON document. Errors have no file prefix ("not valid JSON at byte 3: ...").
Result<Json> parse_document(std::string_view text);
// 2-space indent, no trailing newline. Invalid UTF-8 in strings becomes U+FFFD (no throw).
std::string dump_pretty(const OJson& j);
// One line, no spaces: what hooks read on stdin.
std::string dump_compact(const OJson& j);
// "file: message" — puts the file name in front of a codec or validation error.
Error in_file(std::string_view file, const Error& e);

// JSON paths: "process" + "args" -> "process.args"; + 1 -> "process.args[1]".
std::string key_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, size_t index);
std::string map_path(std::string_view parent, std::string_view key);  // linux.sysctl["a.b"]
// "path: msg", or just msg at the document root.
Error path_error(std::string_view path, std::string_view msg);
Error type_error(std::string_view path, std::string_view expected, const Json& got);
// s as a JSON string literal, for messages: unknown namespace type "foo".
std::string quote(std::string_view s);

// ---- schema -------------------------------------------------------------------------------

inline constexpr bool kAlways = true;  // write the field even when empty, zero or false

template <class S, class M>
struct FieldDef {
  std::string_view key;
  M S::*member;
  bool always;
};

template <class S, class M>
constexpr FieldDef<S, M> field(std::string_view key, M S::*member, bool always = false) {
  return {key, member, always};
}

// A field that does not map onto one member (e.g. process.ioPriority onto two).
template <class S>
struct CustomDef {
  std::string_view key;
  Status (*read)(const Json& v, const std::string& path, S& out);
  OJson (*write)(const S& in);  // null: omit
};

template <class S>
constexpr CustomDef<S> custom(std::string_view key,
                              Status (*read)(const Json&, const std::string&, S&),
                              OJson (*write)(const S&)) {
  return {key, read, write};
}

// Specialise with `static constexpr auto fields = std::tuple{field(...), ...};`.
template <class T>
struct Schema;

// ---- reading ------------------------------------------------------------------------------

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
constexpr std::string_view int_name() {
  if constexpr (std::is_same_v<T, uint16_t>) return "uint16";
  if constexpr (std::is_same_v<T, uint32_t>) return "uint32";
  if constexpr (std::is_same_v<T, uint64_t>) return "uint64";
  if constexpr (std::is_same_v<T, int32_t>) return "int32";
  return "int64";
}

Error range_error(std::string_view path, const Json& v, std::string_view type);

template <class T>
Status read_int(const Json& v, const std::string& path, T& out) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (!std::in_range<T>(u)) return range_error(path, v, int_name<T>());
    out = static_cast<T>(u);
    return ok();
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (!std::in_range<T>(i)) return range_error(path, v, int_name<T>());
    out = static_cast<T>(i);
    return ok();
  }
  return type_error(path, "integer", v);
}

Status read_string_map(const Json& v, const std::string& path,
                       std::map<std::string, std::string>& out);

template <class T>
Status read_value(const Json& v, const std::string& path, T& out);

template <class S, class M>
Status read_field(const Json& obj, const std::string& path, S& out, const FieldDef<S, M>& f) {
  auto it = obj.find(f.key);
  if (it == obj.end() || it->is_null()) return ok();
  return read_value(*it, key_path(path, f.key), out.*f.member);
}

template <class S>
Status read_field(const Json& obj, const std::string& path, S& out, const CustomDef<S>& f) {
  auto it = obj.find(f.key);
  if (it == obj.end() || it->is_null()) return ok();
  return f.read(*it, key_path(path, f.key), out);
}

template <class S>
Status read_object(const Json& v, const std::string& path, S& out) {
  if (!v.is_object()) return type_error(path, "object", v);
  Status st;
  std::apply([&](const auto&... f) { (... && (st = read_field(v, path, out, f)).ok()); },
             Schema<S>::fields);
  return st;
}

template <class T>
Status read_vector(const Json& v, const std::string& path, std::vector<T>& out) {
  if (!v.is_array()) return type_error(path, "array", v);
  out.clear();
  out.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    Status st = read_value(v[i], index_path(path, i), out[i]);
    if (!st) return st;
  }
  return ok();
}

// Reads v into out, checking JSON types and integer ranges.
template <class T>
Status read_value(const Json& v, const std::string& path, T& out) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return type_error(path, "string", v);
    out = v.get_ref<const std::string&>();
    return ok();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return type_error(path, "boolean", v);
    out = v.get<bool>();
    return ok();
  } else if constexpr (std::is_integral_v<T>) {
    return read_int(v, path, out);
  } else if constexpr (IsVector<T>::value) {
    return read_vector(v, path, out);
  } else if constexpr (IsOptional<T>::value) {
    out.emplace();
    return read_value(v, path, *out);
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
    return read_string_map(v, path, out);
  } else {
    return read_object(v, path, out);
  }
}

// ---- writing ------------------------------------------------------------------------------

// True for null, "", false, 0, [] and {}: what the writer omits unless told otherwise.
bool is_empty_json(const OJson& j);

template <class T>
OJson write_value(const T& v);

template <class S, class M>
void write_field(OJson& obj, const S& in, const FieldDef<S, M>& f) {
  const M& m = in.*f.member;
  OJson j = write_value(m);
  bool present = f.always;
  if constexpr (IsOptional<M>::value) present = present || m.has_value();
  if (present || !is_empty_json(j)) obj[std::string(f.key)] = std::move(j);
}

template <class S>
void write_field(OJson& obj, const S& in, const CustomDef<S>& f) {
  OJson j = f.write(in);
  if (!j.is_null()) obj[std::string(f.key)] = std::move(j);
}

template <class S>
OJson write_object(const S& in) {
  OJson obj = OJson::object();
  std::apply([&](const auto&... f) { (write_field(obj, in, f), ...); }, Schema<S>::fields);
  return obj;
}

template <class T>
OJson write_value(const T& v) {
  if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
    return OJson(v);
  } else if constexpr (IsVector<T>::value) {
    OJson arr = OJson::array();
    for (const auto& e : v) arr.push_back(write_value(e));
    return arr;
  } else if constexpr (IsOptional<T>::value) {
    return v ? write_value(*v) : OJson();
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
    OJson obj = OJson::object();
    for (const auto& [k, val] : v) obj[k] = val;
    return obj;
  } else {
    return write_object(v);
  }
}

}  // namespace berth::oci::codec
