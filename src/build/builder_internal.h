// builder_internal.h - the Builder behind build() (internal to src/build): its stages and
// the step implementations, split over builder.cpp (stages, cache, config instructions),
// run_step.cpp (RUN) and copy.cpp (COPY, ADD, WORKDIR).
#pragma once

#include <functional>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "build/builder.h"
#include "build/context.h"
#include "build/dockerfile.h"
#include "build/shell_lex.h"
#include "image/config.h"
#include "containers/container.h"
#include "images/install.h"

namespace berth::build {

struct Stage {
  std::string name;      // `AS name`, lower case; "" when unnamed
  std::string base;      // what FROM named (expanded)
  std::string image_id;  // the image of the last step ("" for scratch before any step)
  image::ImageConfig config;
  // ARGs declared in this stage: a value, or none (declared without one).
  std::map<std::string, std::optional<std::string>> args;
  bool cmd_set = false;  // a CMD in this stage (an ENTRYPOINT then keeps it)
};

// RUN --mount=type=cache|bind|tmpfs,target=...: docker's BuildKit mounts, as the engine's
// mounts of the step container. Cache folders live in ROOT/build-cache/<sha256 of id>.
struct RunMounts {
  std::vector<containers::MountSpec> mounts;
  std::vector<std::string> targets;  // left out of the step's layer
  std::string key;                   // for the step's cache key
};


// The signal that interrupted the build (INT, TERM, HUP, QUIT), 0 while none did, and the
// one-line error that says so.
int interrupted_by();
Error interrupted_error(int sig);
// docker's predefined proxy ARGs (HTTP_PROXY, no_proxy, ...): they reach RUN without an ARG
// and stay out of the history and the unused-args warning.
bool is_predefined_arg(std::string_view name);

class Builder {
 public:
  Builder(containers::Engine& e, const BuildOptions& o);
  Result<BuildResult> run();

 private:
  void say(const std::string& line);
  Error at(const Instruction& ins, const Error& e) const;
  // What variables an instruction of the stage sees: its ARGs, then its ENV over them.
  Vars scope(const Stage& st) const;
  Result<std::string> expand(const Stage& st, const std::string& word) const;
  std::optional<std::string> build_arg(const std::string& name);
  Status parse_build_args();

  std::string cache_key(const Stage& st, const std::string& what) const;
  Result<std::optional<std::string>> cached(const std::string& key);
  Status adopt(Stage& st, const std::string& image_id);
  // A cache hit for the step's key: the stage moves to its image (`---> Using cache`).
  Result<bool> reuse(Stage& st, const std::string& key);
  Result<std::string> commit(Stage& st, const std::string& key, const std::string& created_by,
                             const images::LayerBlob* layer);
  Status config_step(Stage& st, const std::string& canonical,
                     const std::function<Status(image::ImageConfig&)>& change);

  std::pair<std::string, std::optional<std::string>> resolve_arg(const std::string& word, const Vars& scope,
                                                                 std::optional<std::string> inherited,
                                                                 Status& st);
  Status global_arg(const Instruction& ins);
  Status from(Stage& st, const Instruction& ins);
  Status run_triggers(Stage& st);
  Status dispatch(Stage& st, const Instruction& ins);
  Status arg_step(Stage& st, const Instruction& ins);
  Status config_instruction(Stage& st, const Instruction& ins);
  Status healthcheck(Stage& st, const Instruction& ins);

  // run_step.cpp
  Status run_step(Stage& st, const Instruction& ins);
  // The container of a step: created from the stage's image (a scratch stage gets an
  // empty one first), removed by the caller with remove_step_container.
  Result<containers::Container> step_container(Stage& st, std::vector<std::string> cmd,
                                               std::vector<std::string> env,
                                               std::vector<containers::MountSpec> mounts = {},
                                               const std::string& network = "none");
  Result<RunMounts> run_mounts(Stage& st, const Instruction& ins);
  void remove_step_container(containers::Container& c);
  // The container's upper dir as the step's layer (or none when it is empty), committed.
  Result<std::string> commit_container(Stage& st, containers::Container& c, const std::string& key,
                                       const std::string& created_by,
                                       const std::vector<std::string>& exclude = {});

  // copy.cpp
  Status copy_step(Stage& st, const Instruction& ins);
  Status workdir_step(Stage& st, const Instruction& ins);

  containers::Engine& engine_;
  images::Store& store_;
  const BuildOptions& opts_;
  Dockerfile df_;
  BuildContext ctx_;
  std::map<std::string, std::string> build_args_;
  std::set<std::string> used_args_;
  std::map<std::string, std::optional<std::string>> global_args_;
  std::list<Stage> stages_;  // a list: Stage pointers stay valid as stages are added
  BuildResult result_;
};

}  // namespace berth::build
