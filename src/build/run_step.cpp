// run_step.cpp - RUN: the command in a container of the previous step's image, its output
// streamed, its upper dir committed as the step's layer (see builder.h).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "base/time.h"
#include "build/builder_internal.h"
#include "images/commit.h"
#include "monitor/attach_client.h"
#include "storage/sha256.h"
#include "sys/path_resolve.h"

namespace berth::build {

namespace {

// The heredoc marker alone ("<<EOF", "<<-EOF", "<<'EOF'"): the body is the script.
bool only_heredoc(const std::string& line, const std::vector<Heredoc>& docs) {
  if (docs.size() != 1) return false;
  std::string t(trim(line));
  for (const char* q : {"", "\"", "'"})
    for (const char* dash : {"", "-"})
      if (t == std::string("<<") + dash + q + docs[0].name + q) return true;
  return false;
}

// What a RUN step with --gpus leaves in its upper dir that belongs to the host, not the
// image: the placeholders of the driver's bind mounts, the hook's soname links and
// ld.so.conf.d drop-in, and the loader cache the hook's ldconfig rewrote (relative paths,
// for the commit's exclude list). Read from the step's OCI bundle.
std::vector<std::string> gpu_artifacts(const std::string& bundle_config) {
  std::vector<std::string> out;
  auto text = read_file(bundle_config, 16u << 20);
  if (!text) return out;
  auto spec = nlohmann::json::parse(*text, nullptr, false);
  if (!spec.is_object()) return out;
  auto rel = [](std::string p) {
    while (!p.empty() && p[0] == '/') p.erase(0, 1);
    return p;
  };
  static const std::set<std::string> kBase = {"proc", "dev", "sys", "dev/pts", "dev/shm", "dev/mqueue",
                                              "sys/fs/cgroup", "etc/hostname", "etc/hosts", "etc/resolv.conf"};
  if (spec.contains("mounts") && spec["mounts"].is_array())
    for (const auto& m : spec["mounts"])
      if (m.is_object() && m.contains("destination") && m["destination"].is_string()) {
        std::string d = rel(m["destination"].get<std::string>());
        if (!d.empty() && !kBase.count(d) && d.rfind("proc/", 0) != 0 && d.rfind("dev/", 0) != 0 && d.rfind("sys/", 0) != 0)
          out.push_back(d);
      }
  bool hook = false;
  if (spec.contains("hooks") && spec["hooks"].is_object())
    for (const auto& [phase, hooks] : spec["hooks"].items()) {
      if (!hooks.is_array()) continue;
      for (const auto& h : hooks) {
        if (!h.is_object() || !h.contains("args") || !h["args"].is_array()) continue;
        std::vector<std::string> args;
        for (const auto& a : h["args"])
          if (a.is_string()) args.push_back(a.get<std::string>());
        if (args.size() < 2 || args[1] != "gpu-hook") continue;
        hook = true;
        for (size_t i = 2; i + 1 < args.size(); ++i)
          if (args[i] == "--link") out.push_back(rel(args[i + 1].substr(0, args[i + 1].find('='))));
      }
    }
  if (hook) {
    out.push_back("etc/ld.so.conf.d/00-berth-gpu.conf");
    out.push_back("etc/ld.so.cache");
  }
  return out;
}

}  // namespace

Result<RunMounts> Builder::run_mounts(Stage& st, const Instruction& ins) {
  RunMounts out;
  for (const auto& f : ins.flags) {
    if (f.rfind("mount=", 0) != 0) continue;
    std::map<std::string, std::string> kv;
    for (const auto& part : split(f.substr(6), ',')) {
      auto eq = part.find('=');
      kv[std::string(trim(part.substr(0, eq)))] = eq == std::string::npos ? "true" : part.substr(eq + 1);
    }
    std::string type = kv.count("type") ? kv["type"] : "bind";
    if (type != "cache" && type != "bind" && type != "tmpfs" && type != "secret")
      return Error::invalid("RUN --mount=type=" + type + " is not supported by berth's builder yet");
    std::string target = kv.count("target") ? kv["target"] : kv.count("dst") ? kv["dst"] : kv["destination"];
    if (type == "secret" && target.empty()) {
      if (!kv.count("id") || kv["id"].empty()) return Error::invalid("RUN --" + f + ": a secret mount needs an id");
      target = "/run/secrets/" + kv["id"];
    }
    if (target.empty()) return Error::invalid("RUN --" + f + ": the mount needs a target");
    target = TRY(expand(st, target));
    if (target[0] != '/') {
      std::string wd = st.config.config.working_dir.empty() ? "/" : st.config.config.working_dir;
      target = wd + "/" + target;
    }
    target = clean_path(target);
    containers::MountSpec m;
    m.target = target;
    if (type == "cache") {
      std::string id = kv.count("id") ? kv["id"] : target;
      std::string dir = path_join(store_.root(), "build-cache/" + storage::sha256_digest(id).substr(7, 32));
      TRY(mkdir_all(dir, 0755));
      m.type = "bind";
      m.source = dir;
      m.read_only = kv.count("ro") || kv.count("readonly");
      out.key += "cache " + id + " " + target + ";";
    } else if (type == "bind") {
      if (kv.count("from"))
        return Error::invalid("RUN --mount=type=bind,from=... is not supported by berth's builder yet");
      std::string source = kv.count("source") ? kv["source"] : kv.count("src") ? kv["src"] : ".";
      source = TRY(expand(st, source));
      std::vector<std::string> found = TRY(ctx_.expand({source}));
      // A bind of the context: read-only unless rw, resolved inside the context.
      UniqueFd node = TRY(sys::open_in_root(ctx_.fd(), found.at(0), O_PATH | O_CLOEXEC));
      m.type = "bind";
      // The path the kernel resolved inside the context (the runtime mounts it by name).
      char real[4096];
      ssize_t n = ::readlink(sys::fd_path(node.get()).c_str(), real, sizeof real - 1);
      if (n <= 0) return sys_error("readlink", found[0]);
      m.source.assign(real, static_cast<size_t>(n));
      m.read_only = !(kv.count("rw") || kv.count("readwrite"));
      out.key += "bind " + found[0] + " " + target + " " + TRY(ctx_.content_digest(found, store_.db())) + ";";
    } else if (type == "tmpfs") {
      m.type = "tmpfs";
      out.key += "tmpfs " + target + ";";
    } else {
      // A secret: the file given with `build --secret id=ID,src=FILE`, read-only, never in a
      // layer nor in the cache key (BuildKit's rule: a changed secret does not rebuild).
      std::string id = kv.count("id") ? kv["id"] : target.substr(target.rfind('/') + 1);
      auto it = opts_.secrets.find(id);
      if (it == opts_.secrets.end()) {
        if (kv.count("required") && kv["required"] != "false")
          return Error::invalid("secret " + id + " not found: give it with --secret id=" + id + ",src=FILE");
        continue;  // BuildKit: a missing optional secret is simply not mounted
      }
      m.type = "bind";
      m.source = it->second;
      m.read_only = true;
      out.key += "secret " + id + " " + target + ";";
    }
    out.targets.push_back(target.substr(1));
    out.mounts.push_back(std::move(m));
  }
  return out;
}

Result<containers::Container> Builder::step_container(Stage& st, std::vector<std::string> cmd,
                                                      std::vector<std::string> env,
                                                      std::vector<containers::MountSpec> mounts,
                                                      const std::string& network) {
  if (st.image_id.empty()) {
    // FROM scratch: the steps need an image to mount; an empty one (no layers) is it.
    images::InstallRequest ir;
    ir.config = image::serialize(st.config);
    st.image_id = TRY(images::install_image(store_, ir));
  }
  containers::CreateRequest req;
  containers::ContainerSpec& s = req.spec;
  s.image = st.image_id;
  req.entrypoint_set = true;  // the image's ENTRYPOINT never wraps a build step
  s.cmd = std::move(cmd);
  s.env = std::move(env);
  s.user = st.config.config.user;
  s.working_dir = st.config.config.working_dir;
  s.network = network == "default" || network.empty() ? "bridge" : network;
  s.gpus = opts_.gpus;
  s.ipc = "private";
  s.labels["berth.build"] = "step";
  s.mounts = std::move(mounts);
  return engine_.create(std::move(req));
}

void Builder::remove_step_container(containers::Container& c) {
  auto now = engine_.get(c.id);
  if (now) (void)engine_.remove(*now, true, true);
}

Result<std::string> Builder::commit_container(Stage& st, containers::Container& c,
                                              const std::string& key, const std::string& created_by,
                                              const std::vector<std::string>& exclude) {
  std::string upper = engine_.container_dir(c.id) + "/upper";
  std::vector<std::string> skip = images::placeholder_mount_points(upper);
  skip.insert(skip.end(), exclude.begin(), exclude.end());
  images::LayerBlob layer = TRY(images::store_upper_layer(store_, upper, skip));
  return commit(st, key, created_by, &layer);
}

Status Builder::run_step(Stage& st, const Instruction& ins) {
  for (const auto& f : ins.flags)
    if (f.rfind("network=", 0) != 0 && f.rfind("mount=", 0) != 0)
      return Error::invalid("RUN --" + f + " is not supported by berth's builder yet");
  RunMounts mounts = TRY(run_mounts(st, ins));
  std::vector<std::string> cmd;
  if (ins.json) {
    cmd = ins.args;
  } else {
    cmd = st.config.config.shell.value_or(std::vector<std::string>{"/bin/sh", "-c"});
    std::string script = ins.args.empty() ? std::string() : ins.args[0];
    if (only_heredoc(script, ins.heredocs)) {
      script = ins.heredocs[0].content;
    } else {
      // The shell reads the heredocs itself: the line, then each body and its delimiter.
      for (const auto& h : ins.heredocs) script += "\n" + h.content + h.name;
    }
    cmd.push_back(script);
  }
  // The build args in scope are in the environment of the command (an ENV of the same name
  // wins), and part of the step's key.
  std::vector<std::string> arg_env;
  std::string args_part;
  for (const auto& [k, v] : st.args) {
    if (!v) continue;
    bool shadowed = false;
    for (const auto& e : st.config.config.env)
      if (e.substr(0, e.find('=')) == k) shadowed = true;
    if (shadowed) continue;
    arg_env.push_back(k + "=" + *v);
    args_part += k + "=" + *v + " ";
  }
  for (const auto& [k, v] : build_args_)
    if (!st.args.count(k) && is_predefined_arg(k)) {
      // docker's predefined proxy args reach RUN without an ARG (and stay out of the key).
      build_arg(k);
      arg_env.push_back(k + "=" + v);
    }
  std::string network = opts_.network;
  for (const auto& f : ins.flags)
    if (f.rfind("network=", 0) == 0) network = f.substr(8);
  std::string canonical = "RUN " + nlohmann::json(cmd).dump() + "\nargs " + args_part +
                          "\nnetwork " + network + "\ngpus " + join(opts_.gpus, ",") + "\nmounts " + mounts.key;
  std::string key = cache_key(st, canonical);
  if (TRY(reuse(st, key))) return ok();
  containers::Container c = TRY(step_container(st, cmd, arg_env, mounts.mounts, network));
  say(" ---> Running in " + c.id.substr(0, 12));
  int interrupted = 0;
  auto code = [&]() -> Result<int> {
    TRY(engine_.start(c, {.hold = true}));
    monitor::AttachOptions ao;
    ao.socket_path = engine_.attach_socket(c.id);
    UniqueFd devnull;
    if (opts_.quiet || !opts_.out) {
      devnull = UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
      ao.out_fd = ao.err_fd = devnull.get();
    } else {
      ao.out_fd = ao.err_fd = ::fileno(opts_.out);
    }
    ao.on_connected = [&]() -> Status { return engine_.resume_start(c); };
    ao.owns_exit = true;
    // Ctrl-C (or a TERM) while a step runs ends the step's process, then the build, which
    // removes the step's container as on any failure.
    int pid = c.state.pid;
    ao.on_signal = [&interrupted, pid](int sig) {
      if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
        interrupted = sig;
        ::kill(pid, SIGKILL);
      }
    };
    monitor::AttachResult r = TRY(monitor::attach(ao));
    if (!opts_.gpus.empty()) {
      auto more = gpu_artifacts(path_join(engine_.run_dir(c.id), "config.json"));
      mounts.targets.insert(mounts.targets.end(), more.begin(), more.end());
    }
    containers::wait_process_gone(c.state.monitor_pid, c.state.monitor_start, std::chrono::seconds(30));
    TRY(engine_.on_exited(c.id, -1));
    return r.exit_status;
  }();
  if (!code || *code != 0 || interrupted) {
    remove_step_container(c);
    if (!code) return std::move(code).error();
    if (interrupted) return interrupted_error(interrupted);
    std::string shown = ins.json ? nlohmann::json(cmd).dump() : join(cmd, " ");
    return Error::invalid("The command '" + shown + "' returned a non-zero code: " +
                          std::to_string(*code));
  }
  std::string created_by = join(cmd, " ");
  if (!arg_env.empty() && !args_part.empty())
    created_by = "|" + std::to_string(std::count(args_part.begin(), args_part.end(), ' ')) + " " +
                 args_part + created_by;
  auto id = commit_container(st, c, key, created_by, mounts.targets);
  say("Removing intermediate container " + c.id.substr(0, 12));
  remove_step_container(c);
  if (!id) return std::move(id).error();
  say(" ---> " + (*id).substr(7, 12));
  return ok();
}

}  // namespace berth::build
