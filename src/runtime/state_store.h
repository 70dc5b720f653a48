// state_store.h - where the runtime keeps its containers: one directory per container
// under the runtime root (--root, default /run/berth-runtime), holding state.json (written
// atomically), a copy of config.json and, between create and start, the exec.fifo.
// Layout: docs/runtime-state.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

struct ContainerRecord {
  std::string id;
  std::string bundle;      // absolute
  std::string rootfs;      // absolute
  pid_t pid = 0;           // the container's init, as the host sees it
  uint64_t pid_start = 0;  // its start time (ticks), to spot a recycled pid
  std::string created;     // RFC 3339
  std::string cgroup;      // cgroup::Cgroup::to_json(), empty when none
  std::map<std::string, std::string> annotations;
  bool stopped_by_delete = false;
};

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const { return root_ + "/" + id; }
  std::string fifo_path(const std::string& id) const { return dir(id) + "/exec.fifo"; }
  std::string config_path(const std::string& id) const { return dir(id) + "/config.json"; }

  // Creates the container's directory; fails when the id is taken or invalid.
  Status reserve(const std::string& id) const;
  Status save(const ContainerRecord& r) const;
  Result<ContainerRecord> load(const std::string& id) const;
  Status remove(const std::string& id) const;
  Result<std::vector<std::string>> ids() const;

 private:
  std::string root_;
};

// Container ids: letters, digits, '_', '+', '-', '.', at most 1024 bytes, not "." or "..".
Status validate_container_id(const std::string& id);

}  // namespace berth::runtime
