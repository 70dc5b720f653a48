// request.cpp - see request.h.
#include "gpu/request.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "base/strings.h"

namespace berth::gpu {
namespace {

struct CapabilityName {
  Capability bit;
  std::string_view name;
};
// The fixed order capabilities_string writes.
constexpr std::array<CapabilityName, 7> kCapabilityNames{{
    {kCompute, "compute"},
    {kCompat32, "compat32"},
    {kGraphics, "graphics"},
    {kUtility, "utility"},
    {kVideo, "video"},
    {kDisplay, "display"},
    {kNgx, "ngx"},
}};

std::optional<unsigned> capability_bits(std::string_view name) {
  if (name == "all") return kAllCapabilities;
  for (const auto& c : kCapabilityNames)
    if (c.name == name) return c.bit;
  return std::nullopt;
}

Error gpus_error(std::string what) {
  return Error::invalid("invalid --gpus value: " + std::move(what));
}

// Reads s as one CSV record the way Go's encoding/csv (docker's reader) does with its
// defaults: ',' separates fields, a field that starts with '"' is quoted and '""' inside it
// is a literal quote; a quote anywhere else is an error. The caller has already refused
// line breaks, so there is only ever one record.
Result<std::vector<std::string>> read_csv_record(std::string_view s) {
  std::vector<std::string> fields;
  size_t i = 0;
  for (;;) {
    std::string field;
    if (i < s.size() && s[i] == '"') {
      for (++i;; ++i) {
        if (i >= s.size()) return Error::invalid("extraneous or missing \" in quoted field");
        if (s[i] != '"') {
          field += s[i];
          continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '"') {
          field += '"';
          ++i;
          continue;
        }
        ++i;  // the closing quote: a ',' or the end must follow
        if (i < s.size() && s[i] != ',')
          return Error::invalid("extraneous or missing \" in quoted field");
        break;
      }
    } else {
      size_t end = std::min(s.find(',', i), s.size());
      field.assign(s.substr(i, end - i));
      if (field.find('"') != std::string::npos)
        return Error::invalid("bare \" in non-quoted field");
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= s.size()) return fields;
    ++i;  // past the ','
  }
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// docker's parseCount: "all" or an integer (Go's Atoi also takes a leading '+'). Negative
// counts other than -1 and counts past kMaxGpuCount are refused (docker reads any negative
// as "all"; a huge count would make visible_devices_for build a huge string).
Result<int> parse_count(std::string_view s) {
  if (s == "all") return -1;
  std::string_view digits = s;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  auto n = parse_int(digits);
  if (!n || *n < -1 || *n > kMaxGpuCount)
    return Error::invalid("invalid count:", s.empty() ? "\"\"" : std::string(s));
  return static_cast<int>(*n);
}

// The NVIDIA driver capability words of a "capabilities=" list; docker-generic words such
// as "gpu" are dropped, as moby's nvidia driver does.
std::vector<std::string> nvidia_capabilities(std::string_view list) {
  std::vector<std::string> out;
  for (const auto& part : split(list, ',')) {
    std::string_view word = trim(part);
    if (!capability_bits(word)) continue;
    if (std::find(out.begin(), out.end(), word) == out.end()) out.emplace_back(word);
  }
  return out;
}

Result<std::vector<std::string>> parse_device_ids(std::string_view list, std::string_view field) {
  auto ids = split(list, ',');
  for (const auto& id : ids)
    if (id.empty()) return gpus_error("empty device id in '" + std::string(field) + "'");
  return ids;
}

// Applies one CSV field of the flag. seen: the keys met so far ("count" for a bare value).
Status apply_field(const std::string& field, GpusFlag& flag, std::set<std::string>& seen) {
  auto eq = field.find('=');
  bool bare = eq == std::string::npos;  // a bare "all" or N
  std::string key = bare ? "count" : field.substr(0, eq);
  std::string_view val = bare ? std::string_view(field) : std::string_view(field).substr(eq + 1);
  if (key == "count") {
    int count = TRY(parse_count(val));
    if (!seen.insert(key).second)
      return Error::invalid("gpu request key 'count' can be specified only once");
    flag.count = count;
    return ok();
  }
  if (!seen.insert(key).second)
    return Error::invalid("gpu request key '" + key + "' can be specified only once");
  if (key == "device") {
    flag.device_ids = TRY(parse_device_ids(val, field));
  } else if (key == "capabilities") {
    flag.capabilities = nvidia_capabilities(val);
  } else if (key == "driver") {
    if (!val.empty() && val != "nvidia")
      return Error::invalid("could not select device driver \"" + std::string(val) +
                            "\": berth only has the \"nvidia\" driver");
    flag.driver = std::string(val);
  } else if (key == "options") {
    // Checked like docker's, then ignored: moby's nvidia driver reads no options either.
    auto opts = read_csv_record(val);
    if (!opts) return Error::invalid("failed to read gpu options: " + opts.error().message());
  } else {
    return Error::invalid("unexpected key '" + key + "' in '" + field + "'");
  }
  return ok();
}

}  // namespace

Result<unsigned> parse_capabilities(std::string_view s) {
  unsigned caps = 0;
  bool any = false;
  for (const auto& part : split(s, ',')) {
    std::string_view word = trim(part);
    if (word.empty()) continue;
    auto bits = capability_bits(word);
    if (!bits) return Error::invalid("unsupported capability:", std::string(word));
    caps |= *bits;
    any = true;
  }
  if (!any) return kDefaultCapabilities;
  if (caps & kVideo) caps |= kCompute;
  if (caps & kDisplay) caps |= kGraphics;
  return caps;
}

std::string capabilities_string(unsigned caps) {
  if ((caps & kAllCapabilities) == kAllCapabilities) return "all";
  std::vector<std::string> names;
  for (const auto& c : kCapabilityNames)
    if (caps & c.bit) names.emplace_back(c.name);
  return join(names, ",");
}

Result<GpusFlag> parse_gpus_flag(std::string_view value) {
  // Go's CSV reader ends a record at a line break; a shell-quoted value may carry one.
  if (value.ends_with('\n')) value.remove_suffix(1);
  if (value.ends_with('\r')) value.remove_suffix(1);
  if (value.empty()) return gpus_error("empty");
  if (has_control_char(value)) return gpus_error("control character");
  auto fields = read_csv_record(value);
  if (!fields) return gpus_error(fields.error().message());
  GpusFlag flag;
  std::set<std::string> seen;
  for (const auto& field : *fields) TRY(apply_field(field, flag, seen));
  if (!seen.contains("count") && flag.device_ids.empty()) flag.count = 1;
  // docker's daemon makes this check; the CLI lets it through.
  if (flag.count != 0 && !flag.device_ids.empty())
    return Error::invalid("cannot set both Count and DeviceIDs on device request");
  return flag;
}

VisibleDevices parse_visible_devices(std::string_view value) {
  std::vector<std::string> ids;
  for (const auto& part : split(value, ',')) {
    std::string id(trim(part));
    if (id.empty() || std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
    if (id == "all") return {VisibleDevices::kAll, {}};
    ids.push_back(std::move(id));
  }
  if (ids.empty() || (ids.size() == 1 && ids[0] == "void")) return {VisibleDevices::kVoid, {}};
  if (ids.size() == 1 && ids[0] == "none") return {VisibleDevices::kNone, {}};
  return {VisibleDevices::kList, std::move(ids)};
}

std::string visible_devices_for(const GpusFlag& flag) {
  if (!flag.device_ids.empty()) return join(flag.device_ids, ",");
  if (flag.count < 0) return "all";
  if (flag.count == 0) return "void";
  std::string out;
  for (int i = 0; i < flag.count; ++i) {
    if (i) out += ',';
    out += std::to_string(i);
  }
  return out;
}

}  // namespace berth::gpu
