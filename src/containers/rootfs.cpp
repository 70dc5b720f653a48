// rootfs.cpp - a container's root filesystem (an overlay of its image's layers with its own
// upper dir, mounted at RUNROOT/containers/<id>/rootfs while it runs) and its volumes.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <random>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "containers/engine.h"
#include "containers/rootfs_parts.h"
#include "sys/copy_tree.h"
#include "sys/ns.h"
#include "sys/path_resolve.h"

namespace berth::containers {
namespace {

bool is_mount_point(const std::string& path) {
  struct stat a, b;
  if (::stat(path.c_str(), &a) < 0) return false;
  if (::stat((path + "/..").c_str(), &b) < 0) return false;
  return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

int sys_fsopen(const char* fs, unsigned flags) {
  return static_cast<int>(::syscall(SYS_fsopen, fs, flags));
}
int sys_fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}
int sys_fsmount(int fd, unsigned flags, unsigned attrs) {
  return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attrs));
}
int sys_move_mount(int from, const char* from_path, int to, const char* to_path, unsigned flags) {
  return static_cast<int>(::syscall(SYS_move_mount, from, from_path, to, to_path, flags));
}

// Many layers make a lowerdir= longer than mount(2)'s one page of options: add them one by
// one with fsconfig's "lowerdir+" (Linux 6.8).
Status mount_overlay_fsconfig(const std::vector<std::string>& lowers, const std::string& upper,
                              const std::string& work, const std::string& target, bool no_index) {
  UniqueFd fs(sys_fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return sys_error("fsopen", "overlay");
  for (const auto& l : lowers)
    if (sys_fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) < 0)
      return sys_error("fsconfig lowerdir+", l);
  if (sys_fsconfig(fs.get(), FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) < 0)
    return sys_error("fsconfig upperdir", upper);
  if (sys_fsconfig(fs.get(), FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) < 0)
    return sys_error("fsconfig workdir", work);
  if (no_index && sys_fsconfig(fs.get(), FSCONFIG_SET_STRING, "index", "off", 0) < 0)
    return sys_error("fsconfig index=off", target);
  if (sys::in_user_namespace() &&
      sys_fsconfig(fs.get(), FSCONFIG_SET_FLAG, "userxattr", nullptr, 0) < 0)
    return sys_error("fsconfig userxattr", target);
  if (sys_fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return sys_error("create overlay", target);
  UniqueFd mnt(sys_fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return sys_error("fsmount overlay", target);
  if (sys_move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return sys_error("move_mount overlay", target);
  return ok();
}

}  // namespace

Status mount_overlay(const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& target, bool no_index) {
  std::string opts = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) opts += (i ? ":" : "") + lowers[i];
  opts += ",upperdir=" + upper + ",workdir=" + work;
  if (no_index) opts += ",index=off";
  // In berth's rootless namespace overlay keeps its markers in user.overlay.* (the layers'
  // opaque directories were unpacked that way) and redirect_dir/metacopy are off.
  if (sys::in_user_namespace()) opts += ",userxattr";
  if (opts.size() < 4000) {
    if (::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) < 0)
      return sys_error("mount overlay", target);
    return ok();
  }
  return mount_overlay_fsconfig(lowers, upper, work, target, no_index);
}

// The GPU mount layer (gpu/mount_layer.h) is planned per image: the first fresh container of
// an image with a given set of GPU files runs without it, and once its rootfs is mounted the
// layer's paths are resolved in it (the image's merged view: its upper dir is still empty).
// The plan, RUNROOT/gpu/layers/plans/<image>-<layer name>, holds the layer's own manifest, a
// line "--", and the resolved manifest or "none" where the image leaves no layer possible.
static std::string gpu_plan_path(const std::string& layers_dir, std::string image_id,
                                 const gpu::MountLayer& layer) {
  for (char& ch : image_id)
    if (ch == ':' || ch == '/') ch = '-';
  return path_join(path_join(layers_dir, "plans"), image_id + "-" + layer.name());
}

// What a plan for layer starts with: its own manifest and "--".
static std::string gpu_plan_head(const gpu::MountLayer& layer) { return layer.manifest() + "--\n"; }

// The tree of the planned layer, or "" (no layer, a plan of another layer under the same
// name, or one that no longer fits the container's upper dir; an empty one, a fresh
// container's, always fits).
static std::string gpu_layer_tree(const gpu::MountLayer& wanted, const std::string& plan,
                                  const std::string& layers_dir, const std::string& upper,
                                  bool fresh) {
  std::string head = gpu_plan_head(wanted);
  if (plan.compare(0, head.size(), head) != 0 || plan.substr(head.size()) == "none\n") return "";
  auto layer = gpu::MountLayer::parse(plan.substr(head.size()));
  if (!layer) log::debug(layer.error().message());
  if (!layer || layer->empty()) return "";
  auto tree = layer->ensure(layers_dir);
  if (!tree) {
    log::debug("GPU mount layer: " + tree.error().message());
    return "";
  }
  if (tree->empty() || (!fresh && !layer->fits(upper))) return "";
  return *tree;
}

static void plan_gpu_layer(const gpu::MountLayer& layer, const std::string& rootfs,
                           const std::string& plan_file) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return;
  auto resolved = layer.resolve(root.get());
  if (!resolved) {
    log::debug("GPU mount layer: " + resolved.error().message());
    if (gpu::MountLayer::transient(resolved.error())) return;  // the next fresh container tries again
  }
  std::string text = gpu_plan_head(layer) +
                     (resolved && !resolved->empty() ? resolved->manifest() : "none\n");
  if (mkdir_all(dirname_of(plan_file), 0755))
    (void)write_file_atomic(plan_file, text, 0644, Durability::volatile_ok);
}

Status Engine::prepare_rootfs(Container& c, const gpu::MountLayer* gpu_layer) {
  std::string dir = container_dir(c.id), target = rootfs_path(c.id);
  TRY(mkdir_all(path_join(dir, "upper"), 0755));
  TRY(mkdir_all(path_join(dir, "work"), 0700));
  TRY(mkdir_all(target, 0755));
  if (is_mount_point(target)) return ok();
  std::vector<std::string> lowers;  // top first
  auto layers = TRY(store_.db().image_layers(c.image_id));
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    lowers.push_back(TRY(store_.layers().lower_dir(it->chain_id)));
  bool gpu = gpu_layer && !gpu_layer->empty();
  std::string plan_to_make;
  if (gpu) {
    std::string layers_dir = path_join(opts_.runroot, "gpu/layers"), upper = path_join(dir, "upper");
    std::string plan_file = gpu_plan_path(layers_dir, c.image_id, *gpu_layer);
    bool fresh = list_dir(upper).value_or({"?"}).empty();
    if (auto plan = read_file(plan_file, 4u << 20)) {
      std::string tree = gpu_layer_tree(*gpu_layer, *plan, layers_dir, upper, fresh);
      if (!tree.empty()) lowers.insert(lowers.begin(), tree);
    } else if (fresh) {
      plan_to_make = plan_file;
    }
  }
  if (lowers.empty()) {  // an image with no layers (FROM scratch, import of an empty tar)
    std::string empty = path_join(dir, "empty");
    TRY(mkdir_all(empty, 0755));
    lowers.push_back(empty);
  }
  // The lower stack of a GPU container changes between starts (with and without the layer):
  // no index, which would tie the upper dir to the first stack it was mounted with.
  Status s = mount_overlay(lowers, path_join(dir, "upper"), path_join(dir, "work"), target, gpu);
  if (!s) return std::move(s).error().context("mount the container's rootfs");
  if (!plan_to_make.empty()) plan_gpu_layer(*gpu_layer, target, plan_to_make);
  return ok();
}

Status mount_shareable_shm(const std::string& dir, int64_t bytes) {
  TRY(mkdir_all(dir, 0700));
  if (is_mount_point(dir)) return ok();
  std::string opts = "mode=1777,size=" + std::to_string(bytes);
  if (::mount("shm", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.c_str()) < 0)
    return sys_error("mount the shareable /dev/shm", dir);
  return ok();
}

Status Engine::release_rootfs(const Container& c) {
  // --ipc shareable: the /dev/shm tmpfs lives on the host so others can join it.
  for (const std::string& target : {path_join(run_dir(c.id), "shm"), rootfs_path(c.id)})
    while (is_mount_point(target))
      if (::umount2(target.c_str(), MNT_DETACH) < 0 && errno != EINVAL)
        return sys_error("unmount", target);
  return ok();
}

std::string volume_data_dir(const std::string& root, const std::string& name) {
  return path_join(path_join(path_join(root, "volumes"), name), "_data");
}

Result<std::string> ensure_volume(storage::Db& db, const std::string& root, std::string name,
                                  bool* created) {
  bool anonymous = name.empty();
  if (anonymous) name = random_hex(64);
  *created = false;
  if (!TRY(db.find_volume(name))) {
    TRY(mkdir_all(volume_data_dir(root, name), 0755));
    Status s = db.put_volume(
        {.name = name, .created = static_cast<int64_t>(::time(nullptr)), .anonymous = anonymous});
    if (!s && s.error().code() != EEXIST) return std::move(s).error();
    *created = s.ok();
  }
  TRY(mkdir_all(volume_data_dir(root, name), 0755));
  return name;
}

// docker copies what the image has at a volume's mount point into a new, empty volume.
Status copy_up_volume(const std::string& rootfs, const std::string& target, const std::string& data) {
  UniqueFd root = TRY(open_fd(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto src = sys::open_in_root(root.get(), target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!src) return ok();  // nothing there
  UniqueFd dst = TRY(open_fd(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto entries = list_dir(data);
  if (entries && !entries->empty()) return ok();
  struct stat st;
  if (::fstat(src->get(), &st) == 0) {
    (void)::fchown(dst.get(), st.st_uid, st.st_gid);
    (void)::fchmod(dst.get(), st.st_mode & 07777);
  }
  return sys::copy_tree(src->get(), dst.get());
}

}  // namespace berth::containers
