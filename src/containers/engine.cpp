// engine.cpp - containers as records: create, lookup, list, state refresh, rename.
#include "containers/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "containers/networks.h"
#include "image/config.h"
#include "sys/process.h"

namespace berth::containers {
namespace {

using nlohmann::json;

int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool has_env(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return true;
  return false;
}

// The container's environment: the image's, then the request's (a later KEY= replaces an
// earlier one, keeping its position, as docker does).
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& over) {
  for (const auto& e : over) {
    std::string key = e.substr(0, e.find('='));
    bool replaced = false;
    for (auto& b : base)
      if (b.substr(0, b.find('=')) == key) {
        b = e;
        replaced = true;
      }
    if (!replaced) base.push_back(e);
  }
  return base;
}

// docker's rules: --entrypoint replaces the image's entrypoint and clears its cmd; args
// replace cmd.
void apply_image_config(ContainerSpec& s, const image::ImageConfig::Config& ic,
                        bool entrypoint_given, bool cmd_given) {
  if (!entrypoint_given) s.entrypoint = ic.entrypoint.value_or(std::vector<std::string>{});
  if (!cmd_given && !entrypoint_given) s.cmd = ic.cmd.value_or(std::vector<std::string>{});
  std::vector<std::string> env = ic.env;
  if (!has_env(env, "PATH"))
    env.insert(env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  s.env = merge_env(env, s.env);
  if (s.working_dir.empty()) s.working_dir = ic.working_dir;
  if (s.user.empty()) s.user = ic.user;
  for (const auto& p : ic.exposed_ports) s.exposed_ports.insert(p);
  s.volumes = ic.volumes;
  if (s.stop_signal.empty()) s.stop_signal = ic.stop_signal;
  if (!s.stop_timeout && ic.stop_timeout) s.stop_timeout = ic.stop_timeout;
  for (const auto& [k, v] : ic.labels) s.labels.emplace(k, v);  // the request's win
}

Result<Container> from_row(const storage::ContainerRow& row) {
  Container c{.id = row.id, .name = row.name, .image_id = row.image_id, .created = row.created};
  json config = json::parse(row.config, nullptr, false);
  json state = json::parse(row.state, nullptr, false);
  if (config.is_discarded() || state.is_discarded())
    return Error::invalid("container record is not JSON", row.id);
  c.spec = TRY(spec_from_json(config));
  c.state = TRY(state_from_json(state));
  return c;
}

}  // namespace

Engine::Engine(images::Store& store, EngineOptions opts)
    : store_(store),
      opts_(std::move(opts)),
      runtime_(runtime::RuntimeOptions{.root = path_join(opts_.runroot, "runtime")}) {}

Engine::~Engine() = default;

const std::string& Engine::root() const {
  return store_.root();
}

std::string Engine::container_dir(const std::string& id) const {
  return path_join(path_join(store_.root(), "containers"), id);
}
std::string Engine::run_dir(const std::string& id) const {
  return path_join(path_join(opts_.runroot, "containers"), id);
}
std::string Engine::log_path(const std::string& id) const {
  return path_join(container_dir(id), id + "-json.log");
}
// Short: a unix socket path has at most 107 bytes, and run roots can be deep.
std::string Engine::attach_socket(const std::string& id) const {
  return path_join(path_join(opts_.runroot, "sock"), id.substr(0, 20));
}
std::string Engine::rootfs_path(const std::string& id) const {
  return path_join(run_dir(id), "rootfs");
}

Result<Container> Engine::create(CreateRequest req) {
  const std::string& net = req.spec.network;  // docker checks the network at create
  if (net.rfind("container:", 0) == 0)
    (void)TRY(get(std::string_view(net).substr(10)));  // docker: "No such container"
  else if (net != "host" && net != "none")
    (void)TRY(find_network(store_.db(), net));
  storage::ImageRecord img = TRY(store_.find(req.spec.image));
  image::ImageConfig ic = TRY_CTX(image::parse_image_config(img.config), "image " + req.spec.image);
  apply_image_config(req.spec, ic.config, req.entrypoint_set, !req.spec.cmd.empty());
  if (req.spec.entrypoint.empty() && req.spec.cmd.empty())
    return Error::invalid("No command specified");
  Container c{.id = random_hex(64), .image_id = img.id, .created = now_nanos(), .spec = std::move(req.spec)};
  if (c.spec.hostname.empty()) c.spec.hostname = c.id.substr(0, 12);
  c.state.removal = c.spec.auto_remove;
  TRY(mkdir_all(container_dir(c.id), 0700));
  storage::ContainerRow row{.id = c.id,
                            .image_id = c.image_id,
                            .created = c.created,
                            .config = spec_to_json(c.spec).dump(),
                            .state = state_to_json(c.state).dump()};
  for (unsigned attempt = 0;; ++attempt) {
    row.name = req.name.empty() ? generate_name(static_cast<unsigned>(std::random_device{}()) + attempt) : req.name;
    Status s = store_.db().put_container(row);
    if (s) break;
    if (s.error().code() != EEXIST || !req.name.empty() || attempt > 20) {
      (void)remove_all(container_dir(c.id));
      if (s.error().code() == EEXIST)
        return Error::invalid("Conflict. The container name \"/" + row.name +
                              "\" is already in use by another container. You have to remove (or "
                              "rename) that container to be able to reuse that name.");
      return std::move(s).error();
    }
  }
  c.name = row.name;
  return c;
}

Status Engine::save_state(const Container& c) {
  return store_.db().set_container_state(c.id, state_to_json(c.state).dump());
}

Result<Container> Engine::get(std::string_view ref) {
  auto row = TRY(store_.db().find_container(ref));
  if (!row) return Error(ENOENT, "No such container: " + std::string(ref));
  Container c = TRY(from_row(*row));
  TRY(refresh(c));
  return c;
}

Result<std::vector<Container>> Engine::list() {
  std::vector<Container> out;
  for (const auto& row : TRY(store_.db().list_containers())) {
    auto c = from_row(row);
    if (!c) {
      log::warning(c.error().message());
      continue;
    }
    if (Status s = refresh(*c); !s) log::warning(s.error().message());
    out.push_back(std::move(*c));
  }
  return out;
}

namespace {

bool process_is(int pid, uint64_t start) {
  if (pid <= 0) return false;
  auto st = sys::process_start_time(pid);
  return st && (start == 0 || *st == start);
}

}  // namespace

// The recorded state says what berth last did; the processes and the monitor's exit record
// say what happened since.
Status Engine::refresh(Container& c) {
  ContainerState& s = c.state;
  if (s.status != "running" && s.status != "paused" && s.status != "restarting") return ok();
  std::string exit_file = path_join(run_dir(c.id), "exit.json");
  auto exit_text = read_file(exit_file, 1 << 16);
  bool alive = process_is(s.pid, s.pid_start);
  bool monitor_alive = process_is(s.monitor_pid, s.monitor_start);
  if (exit_text && !alive) {
    json e = json::parse(*exit_text, nullptr, false);
    if (!e.is_discarded()) {
      s.status = "exited";
      s.exit_code = e.value("ExitCode", 0);
      s.finished_at = e.value("FinishedAt", "");
      s.oom_killed = e.value("OOMKilled", false);
      s.pid = 0;
      if (!monitor_alive) s.monitor_pid = 0;
      return ok();
    }
  }
  if (alive) {
    if (!monitor_alive && s.error.empty())
      s.error = "monitor process " + std::to_string(s.monitor_pid) +
                " is gone: logs and exit status are no longer recorded";
    if (s.status != "restarting") {
      auto st = runtime_.state(c.id);
      if (st && st->status == "paused") s.status = "paused";
      else if (st && st->status == "running") s.status = "running";
    }
    return ok();
  }
  if (monitor_alive) {
    // The container process is gone and the monitor has not written its record yet (it is
    // about to), or it is restarting the container.
    if (s.status == "restarting") return ok();
    return ok();
  }
  s.status = "exited";
  s.exit_code = -1;
  s.pid = 0;
  s.monitor_pid = 0;
  s.error = "the container's monitor was killed: its exit status is unknown";
  return ok();
}

Status Engine::rename(Container& c, const std::string& new_name) {
  Status s = store_.db().rename_container(c.id, new_name);
  if (!s && s.error().code() == EEXIST)
    return Error::invalid("Error when allocating new name: Conflict. The container name \"/" +
                          new_name + "\" is already in use by another container.");
  TRY(s);
  c.name = new_name;
  return ok();
}

}  // namespace berth::containers
