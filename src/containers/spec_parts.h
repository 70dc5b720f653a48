// spec_parts.h - the steps of building a container's OCI spec (internal to src/containers):
// what lifecycle.cpp prepares (rootfs, user, network, mounts) goes into build_oci_spec.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "containers/container.h"
#include "containers/engine.h"
#include "gpu/edits.h"
#include "oci/spec.h"

namespace berth::containers {

struct SpecInputs {
  std::string rootfs;      // the mounted overlay
  oci::User user;          // resolved in the image
  std::string netns_path;  // "" = a new empty network namespace (or host when network=host)
  std::vector<oci::Mount> extra_mounts;  // /etc files, volumes, binds, tmpfs
  // --ipc shareable|container:NAME: the host folder mounted at /dev/shm (the shareable
  // container's tmpfs), and the IPC namespace to join ("" = a new one).
  std::string shm_host_dir;
  std::string ipc_ns_path;
  // --userns=keep-id: a new user namespace with these maps (empty: none).
  std::vector<oci::IdMapping> uid_mappings, gid_mappings;
};

Result<oci::Spec> build_oci_spec(const Container& c, const SpecInputs& in);

// The container's --gpus and CDI --device requests as container edits (gpus.cpp): the
// driver discovered, the GPUs selected, NVIDIA_REQUIRE_* checked. Empty when it asks for
// none. params_copy: where the edited /proc/driver/nvidia/params is written.
Result<gpu::ContainerEdits> gpu_edits(const EngineOptions& o, const ContainerSpec& s,
                                      const std::string& params_copy);

// The cgroup (relative to each hierarchy's root) the container's own cgroup goes in:
// --cgroup-parent, else /berth.
std::string cgroup_dir(const ContainerSpec& s);

// Half the machine's memory: /dev/shm big enough for PyTorch's DataLoader and NCCL.
int64_t default_shm_size();

// docker's -u: "name|uid[:group|gid]", looked up in the rootfs's /etc/passwd and
// /etc/group (numeric ids need no entry); supplementary groups from /etc/group and
// --group-add. Also returns the user's home ("/" when unknown) for HOME.
struct ResolvedUser {
  oci::User user;
  std::string home = "/";
};
Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& spec,
                                  const std::vector<std::string>& group_add);

// The files docker writes for each container, in dir: hostname, hosts, resolv.conf.
struct EtcInputs {
  std::string hostname;
  std::string domainname;
  std::string ip;  // the container's address on its network, "" when none
  std::string ip6;  // its IPv6 address there, "" when none
  std::vector<std::string> extra_hosts;  // "name:ip"
  std::vector<std::string> dns, dns_search, dns_options;
  bool host_network = false;
  std::vector<std::pair<std::string, std::string>> peers;  // name, ip: same network
};
Status write_etc_files(const std::string& dir, const EtcInputs& in);

}  // namespace berth::containers
