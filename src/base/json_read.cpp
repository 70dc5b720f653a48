#include "base/json_read.h"

namespace berth::json_read {

using nlohmann::json;

static const json* find(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

bool string(const json& obj, const char* key, std::string* out) {
  const json* v = find(obj, key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  *out = v->get<std::string>();
  return true;
}

bool boolean(const json& obj, const char* key, bool* out) {
  const json* v = find(obj, key);
  if (v == nullptr) return true;
  if (!v->is_boolean()) return false;
  *out = v->get<bool>();
  return true;
}

bool integer(const json& obj, const char* key, int64_t min, int64_t max, int64_t* out) {
  const json* v = find(obj, key);
  if (v == nullptr) return true;
  int64_t x;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    x = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    return false;  // floats included: no silent truncation
  }
  if (x < min || x > max) return false;
  *out = x;
  return true;
}

bool unsigned_integer(const json& obj, const char* key, uint64_t* out) {
  const json* v = find(obj, key);
  if (v == nullptr) return true;
  if (v->is_number_unsigned()) {
    *out = v->get<uint64_t>();
    return true;
  }
  if (v->is_number_integer() && v->get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v->get<int64_t>());
    return true;
  }
  return false;
}

bool string_map(const json& obj, const char* key, std::map<std::string, std::string>* out) {
  const json* v = find(obj, key);
  if (v == nullptr) return true;
  if (!v->is_object()) return false;
  std::map<std::string, std::string> m;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string()) return false;
    m[it.key()] = it.value().get<std::string>();
  }
  *out = std::move(m);
  return true;
}

}  // namespace berth::json_read
