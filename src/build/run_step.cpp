// run_step.cpp - RUN: the command in a container of the previous step's image, its output
// streamed, its upper dir committed as the step's layer (see builder.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/strings.h"
#include "base/time.h"
#include "build/builder_internal.h"
#include "images/commit.h"
#include "monitor/attach_client.h"

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

}  // namespace

Result<containers::Container> Builder::step_container(Stage& st, std::vector<std::string> cmd,
                                                      std::vector<std::string> env) {
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
  s.network = opts_.network == "default" || opts_.network.empty() ? "bridge" : opts_.network;
  s.gpus = opts_.gpus;
  s.ipc = "private";
  s.labels["berth.build"] = "step";
  return engine_.create(std::move(req));
}

void Builder::remove_step_container(containers::Container& c) {
  auto now = engine_.get(c.id);
  if (now) (void)engine_.remove(*now, true, true);
}

Result<std::string> Builder::commit_container(Stage& st, containers::Container& c,
                                              const std::string& key, const std::string& created_by) {
  std::string upper = engine_.container_dir(c.id) + "/upper";
  images::LayerBlob layer =
      TRY(images::store_upper_layer(store_, upper, images::placeholder_mount_points(upper)));
  return commit(st, key, created_by, &layer);
}

Status Builder::run_step(Stage& st, const Instruction& ins) {
  for (const auto& f : ins.flags)
    if (f.rfind("network=", 0) != 0)
      return Error::invalid("RUN --" + f + " is not supported by berth's builder yet");
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
    if (!st.args.count(k) && (k.find("_PROXY") != std::string::npos || k.find("_proxy") != std::string::npos)) {
      // docker's predefined proxy args reach RUN without an ARG (and stay out of the key).
      build_arg(k);
      arg_env.push_back(k + "=" + v);
    }
  std::string network = opts_.network;
  for (const auto& f : ins.flags) network = f.substr(8);
  std::string canonical = "RUN " + nlohmann::json(cmd).dump() + "\nargs " + args_part +
                          "\nnetwork " + network + "\ngpus " + join(opts_.gpus, ",");
  std::string key = cache_key(st, canonical);
  if (auto hit = TRY(cached(key))) {
    TRY(adopt(st, *hit));
    say(" ---> Using cache");
    say(" ---> " + (*hit).substr(7, 12));
    ++result_.cached;
    return ok();
  }
  containers::Container c = TRY(step_container(st, cmd, arg_env));
  if (network != opts_.network) {
    c.spec.network = network == "default" ? "bridge" : network;
    TRY(store_.db().set_container_config(c.id, containers::spec_to_json(c.spec).dump()));
  }
  say(" ---> Running in " + c.id.substr(0, 12));
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
    monitor::AttachResult r = TRY(monitor::attach(ao));
    containers::wait_process_gone(c.state.monitor_pid, c.state.monitor_start, std::chrono::seconds(30));
    TRY(engine_.on_exited(c.id, -1));
    return r.exit_status;
  }();
  if (!code || *code != 0) {
    remove_step_container(c);
    if (!code) return std::move(code).error();
    std::string shown = ins.json ? nlohmann::json(cmd).dump() : join(cmd, " ");
    return Error::invalid("The command '" + shown + "' returned a non-zero code: " +
                          std::to_string(*code));
  }
  std::string created_by = join(cmd, " ");
  if (!arg_env.empty() && !args_part.empty())
    created_by = "|" + std::to_string(std::count(args_part.begin(), args_part.end(), ' ')) + " " +
                 args_part + created_by;
  auto id = commit_container(st, c, key, created_by);
  say("Removing intermediate container " + c.id.substr(0, 12));
  remove_step_container(c);
  if (!id) return std::move(id).error();
  say(" ---> " + (*id).substr(7, 12));
  return ok();
}

}  // namespace berth::build
