// builder.h - `berth build`: a Dockerfile and a context become an image, step by step, the way
// docker's classic builder does it (docs/build.md):
//
//   - every instruction after FROM makes an image (docker's intermediate images: untagged,
//     parent = the previous step's image, hidden by `berth images` unless -a);
//   - RUN runs its command in a container of the previous step's image (the engine's own
//     containers: networks, --gpus, the monitor) and commits the container's upper dir as a
//     layer; COPY, ADD and WORKDIR write into a container's mounted rootfs (resolved inside
//     it) and commit the same way; the other instructions change only the config;
//   - a step whose key (previous image, instruction after expansion, build args in scope
//     for RUN, the content digest of COPY/ADD sources) was built before is taken from the
//     cache (`---> Using cache`) and runs nothing.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "containers/engine.h"

namespace berth::build {

struct BuildOptions {
  std::string context_dir;                    // the context (a directory)
  std::string dockerfile;                     // the Dockerfile's text
  std::string dockerfile_name = "Dockerfile";  // what errors call it
  std::string dockerfile_rel;                 // its path in the context, when inside
  std::vector<std::string> tags;              // -t, normalised ("docker.io/library/x:latest")
  std::vector<std::string> build_args;        // --build-arg K=V, or K (value from environ)
  std::vector<std::string> environ;           // the caller's environment, "K=V"
  std::string target;                         // --target STAGE ("" = the last)
  bool no_cache = false;
  bool pull = false;                          // --pull: fetch FROM images even when present
  bool quiet = false;                         // -q: only the image id on stdout
  std::map<std::string, std::string> labels;  // --label
  std::string network = "default";            // RUN steps: default|bridge|host|none|NAME
  std::vector<std::string> gpus;              // --gpus for RUN steps
  std::string platform;                       // --platform (this machine's only)
  std::map<std::string, std::string> secrets;  // --secret: id -> a file (RUN --mount=type=secret)
  // Fetches an image FROM names that is not in the store (or all of them with --pull).
  std::function<Status(const std::string& ref, const std::string& platform)> pull_image;
  FILE* out = stdout;  // the step log (stderr with -q? docker prints nothing: nullptr)
};

struct BuildResult {
  std::string image_id;  // "sha256:..."
  int steps = 0;
  int cached = 0;  // steps taken from the cache
};

// Errors are one line and name the step where one failed: "Dockerfile line 4: RUN false:
// The command '/bin/sh -c false' returned a non-zero code: 1". Nothing is tagged unless
// every step succeeded.
Result<BuildResult> build(containers::Engine& engine, const BuildOptions& opts);

// A Go duration ("30s", "1m30s", "500ms", "2h") in nanoseconds (HEALTHCHECK's flags).
Result<int64_t> parse_go_duration(std::string_view text);

}  // namespace berth::build
