// exec.cpp - a new process in a running container: its spec's process with the exec
// options applied (docker exec), run by the runtime in the caller's foreground.
#include "base/strings.h"
#include "containers/engine.h"
#include "containers/spec_parts.h"
#include "security/docker_defaults.h"

namespace berth::containers {

Result<int> Engine::exec(Container& c, const ExecRequest& r) {
  if (c.state.status == "paused")
    return Error::invalid("Container " + c.id + " is paused, unpause the container before exec");
  if (c.state.status != "running")
    return Error::invalid("Container " + c.id + " is not running");
  oci::Spec spec = TRY(runtime_.spec_of(c.id));
  oci::Process p = *spec.process;
  p.args = r.args;
  p.terminal = r.tty;
  p.console_size.reset();
  for (const auto& e : r.env) {
    std::string key = e.substr(0, e.find('='));
    std::erase_if(p.env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
    p.env.push_back(e);
  }
  if (r.tty && std::none_of(p.env.begin(), p.env.end(),
                            [](const std::string& x) { return x.rfind("TERM=", 0) == 0; }))
    p.env.push_back("TERM=xterm");
  if (!r.workdir.empty()) p.cwd = r.workdir;
  if (!r.user.empty()) {
    ResolvedUser u = TRY(resolve_user(rootfs_path(c.id), r.user, {}));
    p.user = u.user;
  }
  if (r.privileged) {
    auto all = TRY(security::apply_cap_changes({}, {"ALL"}, {}));
    p.capabilities = oci::Capabilities{.bounding = all, .effective = all, .permitted = all};
  }
  runtime::ExecOptions o{.process = std::move(p), .detach = r.detach};
  return runtime_.exec(c.id, o);
}

}  // namespace berth::containers
