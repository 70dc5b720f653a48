// rootless.h - berth for an ordinary user (docs/rootless.md). Every berth command of a user
// runs inside one user namespace and mount namespace, kept alive by a small pause process
// ("berth-pause", like podman's), so that an overlay mounted by `berth run -d` is still seen
// by the `berth exec` and `berth rm` that follow. Inside it berth is root: it can chown
// unpacked layers into the user's subordinate ids, mount overlayfs and make namespaces.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"
#include "sys/ns.h"

namespace berth::runtime {

// A subordinate id range from /etc/subuid or /etc/subgid.
struct SubIdRange {
  uint32_t start = 0;
  uint32_t count = 0;
};
// The first range for this user in text of /etc/subuid's format ("name-or-id:start:count"
// lines, '#' comments). A malformed line for the user is an error; other users' lines are
// not read further.
Result<std::optional<SubIdRange>> parse_subids(std::string_view text, const std::string& user,
                                               uint32_t id);

// The mapping berth's namespace gets for the calling user: 0 -> the user's own id, then
// 1.. -> the subordinate range when there is one (else a single id, and a warning).
struct RootlessMapping {
  std::vector<oci::IdMapping> uids;
  std::vector<oci::IdMapping> gids;
  bool single_id = true;  // no subordinate ranges: files of other owners are squashed
};
Result<RootlessMapping> rootless_mapping(const std::string& subuid_file = "/etc/subuid",
                                         const std::string& subgid_file = "/etc/subgid");

// For an ordinary user: joins the namespaces kept by the pause process named in
// RUNROOT/pause.pid, making them (and it) first when there is none; afterwards the process
// is root in them. For root in a user namespace (unshare -r) only a mount namespace is kept.
// For real root: nothing. Call it while the process has one thread. pause_exe: berth-monitor,
// run as `berth-monitor --pause` to keep the namespaces ("" or missing: a fork of this one).
Status enter_rootless_namespace(const std::string& runroot, const std::string& pause_exe = "");

// The pause process of runroot (0 when none runs); `berth system reset` stops it.
pid_t rootless_pause_pid(const std::string& runroot);

// The user's own ids outside berth's namespace (what maps to 0 in it; the process's own ids
// when it is in no user namespace) and how many ids the namespace maps (1 + the subordinate
// range).
struct OuterIds {
  uint32_t uid = 0, gid = 0;
  uint32_t uid_span = 1, gid_span = 1;
};
OuterIds outer_ids();

// --userns=keep-id: a user namespace inside berth's where the user's own id is id again
// (it maps to berth's 0, the user outside) and every other id k maps to itself, except 0,
// which takes id's place. span: the ids berth's namespace has (OuterIds).
std::vector<oci::IdMapping> keep_id_mapping(uint32_t id, uint32_t span);

// The id maps of this process, as /proc/self/uid_map and gid_map write them ("0 1000 1" per
// line), for `berth info`.
std::string describe_id_maps();

}  // namespace berth::runtime
