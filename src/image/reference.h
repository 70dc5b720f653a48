// reference.h - image references as docker reads them ("ubuntu",
// "nvcr.io/nvidia/pytorch:24.01-py3", "localhost:5000/x@sha256:..."), following
// distribution/reference's grammar and docker's normalisation of familiar names:
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path           (at most 255 characters, domain included)
//   domain    := host [ ":" port ]             host: DNS name, IPv4, or "[" IPv6 "]"
//   path      := component ( "/" component )*  component: [a-z0-9]+ ( ([._]|__|-+) [a-z0-9]+ )*
//   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//   digest    := "sha256:" 64 lowercase hex | "sha512:" 128 lowercase hex
//
// The first path element is a domain only when it contains "." or ":", is "localhost", or has
// an uppercase letter; otherwise the domain is docker.io, and a single-element docker.io path
// gets "library/" in front. "index.docker.io" is docker.io.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;    // "library/ubuntu"; what the registry API calls the repository
  std::string tag;     // may be empty when digest is set
  std::string digest;  // "sha256:<hex>" or empty

  // "docker.io/library/ubuntu"
  std::string name() const;
  // name() [":" tag] ["@" digest]: parses back to the same Reference.
  std::string string() const;
  // As docker shows it: "ubuntu:16.04", "user/repo:v1", "myreg:5000/x/y:v1".
  std::string familiar() const;
  // name() without "docker.io/" and "library/" where docker drops them: "ubuntu".
  std::string familiar_name() const;
  // The path in registry API URLs: /v2/<repository_path()>/manifests/...
  std::string repository_path() const { return path; }
  // What to ask the registry for: the digest when there is one, else the tag.
  std::string manifest_ref() const { return digest.empty() ? tag : digest; }

  friend bool operator==(const Reference&, const Reference&) = default;
};

// Docker's ParseNormalizedNamed + TagNameOnly: a reference with neither tag nor digest gets
// tag "latest"; "repo:tag@digest" keeps both. Errors are exactly docker's one line:
// "invalid reference format", or "invalid reference format: repository name must be lowercase".
// A bare 64-hex image ID is not a reference (look it up as an ID first).
Result<Reference> parse_reference(std::string_view text);

// The same without the default tag: "ubuntu" has an empty tag (e.g. `images ubuntu`, `push`
// of all tags).
Result<Reference> parse_normalized_named(std::string_view text);

inline Result<Reference> parse_normalized_named_with_default_tag(std::string_view text) {
  return parse_reference(text);
}

// True for a tag docker accepts: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool is_valid_tag(std::string_view tag);

}  // namespace berth::image
