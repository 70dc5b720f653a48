// config.cpp - the image config's JSON names (one Schema per struct, in docker's order),
// parse_image_config, serialize, chain IDs and RFC 3339 times.
#include "image/config.h"

#include "image/go_json.h"
#include "oci/json_codec.h"

namespace berth::oci::codec {

using image::Healthcheck;
using image::History;
using image::ImageConfig;
using StrSlice = std::optional<std::vector<std::string>>;
using StringSet = std::set<std::string>;

namespace {

// docker's strslice: an array of strings, or one string.
template <StrSlice ImageConfig::Config::*M>
Status read_strslice(const Json& v, const std::string& path, ImageConfig::Config& out) {
  if (v.is_string()) {
    out.*M = std::vector<std::string>{v.get<std::string>()};
    return ok();
  }
  return read_value(v, path, out.*M);
}

template <StrSlice ImageConfig::Config::*M>
OJson write_strslice(const ImageConfig::Config& in) {
  return write_value(in.*M);
}

// {"80/tcp": {}, ...}: the keys matter; the values are empty objects (or null).
template <StringSet ImageConfig::Config::*M>
Status read_set(const Json& v, const std::string& path, ImageConfig::Config& out) {
  if (!v.is_object()) return type_error(path, "object", v);
  StringSet& set = out.*M;
  set.clear();
  for (const auto& [key, val] : v.items()) {
    if (!val.is_object() && !val.is_null()) return type_error(map_path(path, key), "object", val);
    set.insert(key);
  }
  return ok();
}

template <StringSet ImageConfig::Config::*M>
OJson write_set(const ImageConfig::Config& in) {
  if ((in.*M).empty()) return nullptr;
  OJson obj = OJson::object();
  for (const auto& key : in.*M) obj[key] = OJson::object();
  return obj;
}

Status read_diff_ids(const Json& v, const std::string& path, ImageConfig::RootFs& out) {
  if (!v.is_array()) return type_error(path, "array", v);
  out.diff_ids.clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string p = index_path(path, i);
    if (!v[i].is_string()) return type_error(p, "string", v[i]);
    auto d = image::parse_digest(v[i].get_ref<const std::string&>());
    if (!d.ok()) return path_error(p, d.error().message());
    out.diff_ids.push_back(std::move(d).value());
  }
  return ok();
}

OJson write_diff_ids(const ImageConfig::RootFs& in) {
  OJson arr = OJson::array();
  for (const auto& d : in.diff_ids) arr.push_back(d.string());
  return arr;
}

}  // namespace

template <>
struct Schema<Healthcheck> {
  static constexpr auto fields = std::tuple{field("Test", &Healthcheck::test),
                                            field("Interval", &Healthcheck::interval),
                                            field("Timeout", &Healthcheck::timeout),
                                            field("StartPeriod", &Healthcheck::start_period),
                                            field("StartInterval", &Healthcheck::start_interval),
                                            field("Retries", &Healthcheck::retries)};
};

template <>
struct Schema<ImageConfig::Config> {
  using C = ImageConfig::Config;
  static constexpr auto fields = std::tuple{
      field("User", &C::user),
      custom<C>("ExposedPorts", &read_set<&C::exposed_ports>, &write_set<&C::exposed_ports>),
      field("Env", &C::env),
      custom<C>("Cmd", &read_strslice<&C::cmd>, &write_strslice<&C::cmd>),
      field("Healthcheck", &C::healthcheck),
      field("ArgsEscaped", &C::args_escaped),
      custom<C>("Volumes", &read_set<&C::volumes>, &write_set<&C::volumes>),
      field("WorkingDir", &C::working_dir),
      custom<C>("Entrypoint", &read_strslice<&C::entrypoint>, &write_strslice<&C::entrypoint>),
      field("OnBuild", &C::on_build),
      field("Labels", &C::labels),
      field("StopSignal", &C::stop_signal),
      field("StopTimeout", &C::stop_timeout),
      custom<C>("Shell", &read_strslice<&C::shell>, &write_strslice<&C::shell>)};
};

template <>
struct Schema<ImageConfig::RootFs> {
  using R = ImageConfig::RootFs;
  static constexpr auto fields = std::tuple{field("type", &R::type, kAlways),
                                            custom<R>("diff_ids", &read_diff_ids, &write_diff_ids)};
};

template <>
struct Schema<History> {
  static constexpr auto fields =
      std::tuple{field("created", &History::created), field("author", &History::author),
                 field("created_by", &History::created_by), field("comment", &History::comment),
                 field("empty_layer", &History::empty_layer)};
};

template <>
struct Schema<ImageConfig> {
  using I = ImageConfig;
  static constexpr auto fields = std::tuple{field("comment", &I::comment),
                                            field("created", &I::created),
                                            field("container", &I::container),
                                            field("docker_version", &I::docker_version),
                                            field("author", &I::author),
                                            field("config", &I::config),
                                            field("architecture", &I::architecture),
                                            field("variant", &I::variant),
                                            field("os", &I::os),
                                            field("rootfs", &I::rootfs, kAlways),
                                            field("history", &I::history),
                                            field("os.version", &I::os_version),
                                            field("os.features", &I::os_features)};
};

}  // namespace berth::oci::codec

namespace berth::image {
namespace {

namespace codec = oci::codec;

constexpr size_t kMaxMessage = 300;  // input ends up in messages: keep them one short line

Error config_error(std::string_view msg) {
  if (msg.size() > kMaxMessage) {
    size_t cut = kMaxMessage;
    while (cut > 0 && (static_cast<unsigned char>(msg[cut]) & 0xC0) == 0x80) --cut;
    return Error::invalid("image config: " + std::string(msg.substr(0, cut)) + "...");
  }
  return Error::invalid("image config: " + std::string(msg));
}

Status check_time(std::string_view path, const std::string& value) {
  if (value.empty() || parse_rfc3339(value).ok()) return ok();
  return config_error(std::string(path) + ": not an RFC 3339 time: " + codec::quote(value));
}

// What the types alone do not catch.
Status check_config(const codec::Json& doc, const ImageConfig& c) {
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || rootfs->is_null()) return config_error("rootfs: missing");
  if (c.rootfs.type != "layers")
    return config_error("rootfs.type: expected \"layers\", got " + codec::quote(c.rootfs.type));
  TRY(check_time("created", c.created));
  for (size_t i = 0; i < c.history.size(); ++i)
    TRY(check_time(codec::key_path(codec::index_path("history", i), "created"),
                   c.history[i].created));
  return ok();
}

// Digits of text[pos, pos+n) as a number, or -1.
int digits(std::string_view text, size_t pos, size_t n) {
  if (pos + n > text.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "Z" or "+hh:mm" / "-hh:mm" at text[pos..]: the offset east of UTC in seconds, or nullopt.
std::optional<int64_t> zone_offset(std::string_view text, size_t pos) {
  if (pos + 1 == text.size() && text[pos] == 'Z') return 0;
  if (pos + 6 != text.size() || (text[pos] != '+' && text[pos] != '-') || text[pos + 3] != ':')
    return std::nullopt;
  int hh = digits(text, pos + 1, 2);
  int mm = digits(text, pos + 4, 2);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return std::nullopt;
  int64_t off = hh * 3600 + mm * 60;
  return text[pos] == '-' ? -off : off;
}

}  // namespace

Result<int64_t> parse_rfc3339(std::string_view t) {
  auto bad = [&] {
    return Error::invalid("not an RFC 3339 time: " + codec::quote(t.substr(0, 64)));
  };
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
    return bad();
  int y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2);
  int h = digits(t, 11, 2), mi = digits(t, 14, 2), s = digits(t, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
      mi < 0 || mi > 59 || s < 0 || s > 59)
    return bad();
  size_t pos = 19;
  if (t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    if (pos == start) return bad();
  }
  auto offset = zone_offset(t, pos);
  if (!offset) return bad();
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - *offset;
}

Result<ImageConfig> parse_image_config(std::string_view json) {
  if (json.size() > kMaxConfigBytes)
    return config_error("too big (" + std::to_string(json.size()) + " bytes, at most " +
                        std::to_string(kMaxConfigBytes) + ")");
  auto doc = codec::parse_document(json);
  if (!doc.ok()) return config_error(doc.error().message());
  ImageConfig c;
  Status st = codec::read_value(*doc, "", c);
  if (!st.ok()) return config_error(st.error().message());
  TRY(check_config(*doc, c));
  return c;
}

std::string serialize(const ImageConfig& config) {
  return go_escape(codec::dump_compact(codec::write_value(config)));
}

Digest config_digest(const std::string& json) {
  return sha256_digest(json);
}

std::vector<std::string> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<std::string> out;
  out.reserve(diff_ids.size());
  for (const auto& d : diff_ids) {
    if (out.empty())
      out.push_back(d.string());
    else
      out.push_back("sha256:" + sha256_hex(out.back() + " " + d.string()));
  }
  return out;
}

}  // namespace berth::image
