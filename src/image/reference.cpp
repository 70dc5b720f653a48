#include "image/reference.h"

#include <algorithm>

#include "image/digest.h"

namespace berth::image {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialPrefix = "library/";

Error invalid_format() {
  return Error::invalid("invalid reference format");
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_word(char c) {
  return is_alnum(c) || c == '_';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// Length of the separator at s[i]: "." "_" "__" or a run of "-"; 0 when there is none.
size_t separator_length(std::string_view s, size_t i) {
  if (s[i] == '.') return 1;
  if (s[i] == '_') return (i + 1 < s.size() && s[i + 1] == '_') ? 2 : 1;
  size_t n = 0;
  while (i + n < s.size() && s[i + n] == '-') ++n;
  return n;
}

// component := [a-z0-9]+ ( ([._]|__|-+) [a-z0-9]+ )*
bool is_path_component(std::string_view s) {
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < s.size() && is_lower_alnum(s[i])) ++i;
    if (i == start) return false;  // empty input, or a separator not followed by [a-z0-9]
    if (i == s.size()) return true;
    size_t sep = separator_length(s, i);
    if (sep == 0) return false;
    i += sep;
  }
}

bool is_path(std::string_view s) {
  while (true) {
    size_t slash = s.find('/');
    if (!is_path_component(s.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool is_domain_component(std::string_view s) {
  if (s.empty() || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool is_host(std::string_view s) {
  if (!s.empty() && s.front() == '[') {  // "[" IPv6 "]"
    if (s.size() < 3 || s.back() != ']') return false;
    std::string_view inner = s.substr(1, s.size() - 2);
    return std::all_of(inner.begin(), inner.end(), [](char c) { return is_hex(c) || c == ':'; });
  }
  while (true) {
    size_t dot = s.find('.');
    if (!is_domain_component(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// host [":" [0-9]+]
bool is_domain(std::string_view s) {
  size_t host_end = s.find(':');
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    host_end = close == std::string_view::npos ? s.size() : close + 1;
  }
  if (host_end >= s.size()) return is_host(s);
  if (s[host_end] != ':' || !is_host(s.substr(0, host_end))) return false;
  std::string_view port = s.substr(host_end + 1);
  return !port.empty() && std::all_of(port.begin(), port.end(), is_digit);
}

bool is_image_id(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return is_digit(c) || (c >= 'a' && c <= 'f');
         });
}

struct Split {
  std::string domain;
  std::string remainder;  // path [":" tag] ["@" digest]
};

// docker's splitDockerDomain.
Split split_docker_domain(std::string_view name) {
  Split out{std::string(kDefaultDomain), std::string(name)};
  size_t slash = name.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = name.substr(0, slash);
    bool is_domain_like = first == "localhost" || first == kLegacyDefaultDomain ||
                          first.find_first_of(".:") != std::string_view::npos || has_upper(first);
    if (is_domain_like) {
      out.domain = first == kLegacyDefaultDomain ? kDefaultDomain : first;
      out.remainder = name.substr(slash + 1);
    }
  }
  if (out.domain == kDefaultDomain && out.remainder.find('/') == std::string::npos)
    out.remainder.insert(0, kOfficialPrefix);
  return out;
}

// Splits "path[:tag][@digest]" and checks each part against the grammar.
Result<Reference> parse_remainder(std::string domain, std::string_view rest) {
  Reference ref;
  ref.domain = std::move(domain);
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    auto digest = parse_digest(rest.substr(at + 1));
    if (!digest.ok()) return invalid_format();
    ref.digest = digest->string();
    rest = rest.substr(0, at);
  }
  size_t colon = rest.find(':');
  if (colon != std::string_view::npos) {
    if (!is_valid_tag(rest.substr(colon + 1))) return invalid_format();
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  if (!is_path(rest)) return invalid_format();
  ref.path = rest;
  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength) return invalid_format();
  return ref;
}

}  // namespace

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength || !is_word(tag.front())) return false;
  return std::all_of(tag.begin(), tag.end(),
                     [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

std::string Reference::name() const {
  return domain + "/" + path;
}

std::string Reference::string() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  std::string_view p = path;
  if (p.starts_with(kOfficialPrefix) &&
      p.find('/', kOfficialPrefix.size()) == std::string_view::npos)
    p.remove_prefix(kOfficialPrefix.size());
  // Keep "docker.io/" where dropping it would make the first element read as a domain, or
  // make the whole name read as a 64-hex image id.
  std::string_view first = p.substr(0, p.find('/'));
  if (p.find('/') != std::string_view::npos &&
      (first == "localhost" || first.find('.') != std::string_view::npos))
    return name();
  if (is_image_id(p)) return name();
  return std::string(p);
}

std::string Reference::familiar() const {
  std::string s = familiar_name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> parse_normalized_named(std::string_view text) {
  if (text.empty() || is_image_id(text)) return invalid_format();
  Split split = split_docker_domain(text);
  std::string_view remote = split.remainder;
  if (has_upper(remote.substr(0, remote.find(':'))))
    return Error::invalid("invalid reference format: repository name must be lowercase");
  if (!is_domain(split.domain)) return invalid_format();
  return parse_remainder(std::move(split.domain), split.remainder);
}

Result<Reference> parse_reference(std::string_view text) {
  Reference ref = TRY(parse_normalized_named(text));
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
  return ref;
}

}  // namespace berth::image
