#include "runtime/state_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json_read.h"

namespace berth::runtime {

using nlohmann::json;

Status validate_container_id(const std::string& id) {
  if (id.empty()) return Error::invalid("container id must not be empty");
  if (id.size() > 1024) return Error::invalid("container id is longer than 1024 bytes");
  if (id == "." || id == "..") return Error::invalid("invalid container id", id);
  for (char c : id) {
    bool good =
        isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.';
    if (!good) return Error::invalid("invalid container id (use letters, digits, _ + - .):", id);
  }
  return ok();
}

Status StateStore::reserve(const std::string& id) const {
  TRY(validate_container_id(id));
  TRY(mkdir_all(root_, 0711));
  if (::mkdir(dir(id).c_str(), 0711) < 0) {
    if (errno == EEXIST) return Error::invalid("container already exists:", id);
    return sys_error("create state directory", dir(id));
  }
  return ok();
}

Status StateStore::save(const ContainerRecord& r) const {
  json j = {{"id", r.id},         {"bundle", r.bundle},          {"rootfs", r.rootfs},
            {"pid", r.pid},       {"pidStart", r.pid_start},     {"created", r.created},
            {"cgroup", r.cgroup}, {"annotations", r.annotations}};
  return write_file_atomic(dir(r.id) + "/state.json", j.dump(), 0600, Durability::volatile_ok);
}

Result<ContainerRecord> StateStore::load(const std::string& id) const {
  TRY(validate_container_id(id));
  auto text = read_file(dir(id) + "/state.json");
  if (!text) {
    if (text.error().code() == ENOENT) return Error::invalid("container does not exist:", id);
    return std::move(text).error();
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::invalid("corrupt state file", dir(id) + "/state.json");
  ContainerRecord r;
  r.id = id;  // the directory names the container; an "id" inside the file is not trusted
  int64_t pid = 0;
  bool good =
      json_read::string(j, "bundle", &r.bundle) && json_read::string(j, "rootfs", &r.rootfs) &&
      json_read::integer(j, "pid", 0, INT32_MAX, &pid) &&
      json_read::unsigned_integer(j, "pidStart", &r.pid_start) &&
      json_read::string(j, "created", &r.created) && json_read::string(j, "cgroup", &r.cgroup) &&
      json_read::string_map(j, "annotations", &r.annotations);
  if (!good)
    return Error::invalid("corrupt state file (a field has the wrong type)",
                          dir(id) + "/state.json");
  r.pid = static_cast<pid_t>(pid);
  return r;
}

Status StateStore::remove(const std::string& id) const {
  return remove_all(dir(id));
}

Result<std::vector<std::string>> StateStore::ids() const {
  if (!is_directory(root_)) return std::vector<std::string>{};
  auto names = TRY(list_dir(root_));
  std::vector<std::string> out;
  for (auto& n : names)
    if (path_exists(dir(n) + "/state.json")) out.push_back(n);
  return out;
}

}  // namespace berth::runtime
