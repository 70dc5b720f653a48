// commit_cp.cpp - commit, export and cp (also as `container commit|export|cp`): docker's
// options mapped onto src/images/commit.h and src/images/rootfs_copy.h. A stopped
// container's rootfs is mounted for the time of the command and unmounted after; a running
// one is used as it is (cp: through its processes' own view, so volumes and binds show).
//
// Exit status, as docker's client gives it for these verbs: 1 when the request is wrong
// (no such container or file, bad arguments, a bad -c line or name); 125 when berth failed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "base/file.h"
#include "cli/berth/context.h"
#include "cli/berth/images_cmds.h"
#include "image/reference.h"
#include "images/commit.h"
#include "images/rootfs_copy.h"
#include "storage/blob_store.h"

namespace berth::cli {
namespace {

using containers::Container;
using containers::Engine;

int exit_status_for(const Error& e) {
  switch (e.code()) {
    case 0:  // a validation failure (Error::invalid)
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
      return 1;
    default:
      return kExitBerthError;
  }
}

void run_verb(Context& ctx, const std::function<Status()>& body) {
  Status s = body();
  if (!s) print_error(ctx, s.error(), exit_status_for(s.error()));
}

bool is_live(const Container& c) {
  return c.state.status == "running" || c.state.status == "paused" ||
         c.state.status == "restarting";
}

bool is_mounted(const std::string& path) {
  struct stat a, b;
  if (::stat(path.c_str(), &a) < 0 || ::stat((path + "/..").c_str(), &b) < 0) return false;
  return a.st_dev != b.st_dev;
}

// A container's root filesystem for the time of one command. A stopped container's overlay
// is mounted by acquire() and unmounted by the destructor (only when this lease mounted it).
class RootfsLease {
 public:
  RootfsLease(Engine& e, Container& c) : e_(e), c_(c) {}
  ~RootfsLease() {
    if (mounted_here_) (void)e_.release_rootfs(c_);
  }
  RootfsLease(const RootfsLease&) = delete;
  RootfsLease& operator=(const RootfsLease&) = delete;

  // processes_view: for a running container, the root its processes see (/proc/PID/root,
  // with its volumes, binds and /etc files); else the overlay alone (export: as docker).
  Result<std::string> acquire(bool processes_view) {
    std::string overlay = e_.rootfs_path(c_.id);
    if (is_live(c_)) {
      std::string proc = "/proc/" + std::to_string(c_.state.pid) + "/root";
      struct stat st;
      if (processes_view && c_.state.pid > 0 && ::stat((proc + "/").c_str(), &st) == 0) return proc;
      if (is_mounted(overlay)) return overlay;
    }
    bool was_mounted = is_mounted(overlay);
    TRY(e_.prepare_rootfs(c_));
    mounted_here_ = !was_mounted;
    return overlay;
  }

 private:
  Engine& e_;
  Container& c_;
  bool mounted_here_ = false;
};

// Owners in the rootfs are the container's ids shifted by the store's offsets (rootless).
images::CopyOptions copy_options_for(Engine& e) {
  images::CopyOptions o;
  o.uid_offset = e.store().unpack_options().uid_offset;
  o.gid_offset = e.store().unpack_options().gid_offset;
  return o;
}

// ---- commit -------------------------------------------------------------------------------

struct CommitArgs {
  std::string container, reference, message, author;
  std::vector<std::string> changes;
  bool pause = true;
};

Result<images::CommitRequest> commit_request(Engine& e, const Container& c, const CommitArgs& a) {
  images::CommitRequest r;
  if (!a.reference.empty()) {
    image::Reference ref = TRY(image::parse_normalized_named_with_default_tag(a.reference));
    if (!ref.digest.empty())
      return Error::invalid("refusing to create a tag with a digest reference");
    r.tag = ref.string();
  }
  r.parent_image_id = c.image_id;
  r.upper_dir = e.container_dir(c.id) + "/upper";
  r.container_config = containers::spec_to_json(c.spec)["Config"];
  r.author = a.author;
  r.comment = a.message;
  r.changes = a.changes;
  r.container_id = c.id;
  r.exclude = images::placeholder_mount_points(r.upper_dir);
  return r;
}

Status commit(Context& ctx, const CommitArgs& a) {
  Engine* e = TRY(ctx.engine());
  Container c = TRY(e->get(a.container));
  images::CommitRequest req = TRY(commit_request(*e, c, a));
  bool paused_here = false;
  if (a.pause && c.state.status == "running") {
    // Without root a container may have no cgroup to freeze (no delegation): commit it
    // running, as podman does.
    Status st = e->pause(c);
    if (!st && !ctx.globals().rootless) return st;
    paused_here = st.ok();
  }
  auto id = images::commit_container(e->store(), req);
  Status resumed = paused_here ? e->unpause(c) : ok();
  if (!id) return std::move(id).error();
  TRY(resumed);
  std::printf("%s\n", id->c_str());
  return ok();
}

void add_commit(CLI::App* parent, Context& ctx) {
  auto a = std::make_shared<CommitArgs>();
  auto* c = parent->add_subcommand("commit", "Create a new image from a container's changes");
  c->add_option("-a,--author", a->author,
                "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")");
  c->add_option("-c,--change", a->changes, "Apply Dockerfile instruction to the created image");
  c->add_option("-m,--message", a->message, "Commit message");
  c->add_flag("-p,--pause", a->pause, "Pause container during commit (default true)");
  c->add_option("CONTAINER", a->container, "container")->required();
  c->add_option("REPOSITORY", a->reference, "REPOSITORY[:TAG]");
  one_value_per_option(c);
  c->callback([a, &ctx] { run_verb(ctx, [&] { return commit(ctx, *a); }); });
}

// ---- export -------------------------------------------------------------------------------

struct ExportArgs {
  std::string container, output;
};

// Writes through fn to path: a temp file beside it, renamed over it when fn succeeds (a
// device or fifo that exists is written directly).
Status write_output(const std::string& path, const std::function<Status(int)>& fn) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return Error(EISDIR, "open output file", path);
    UniqueFd fd = TRY(open_fd(path, O_WRONLY | O_CLOEXEC));
    return fn(fd.get());
  }
  std::string tmpl = path_join(dirname_of(path.find('/') == std::string::npos ? "./" + path : path),
                               ".berth-export-XXXXXX");
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return sys_error("create output file", path);
  UniqueFd fd(raw);
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd.get(), 0666 & ~mask);
  Status s = fn(fd.get());
  if (s && ::fsync(fd.get()) < 0) s = sys_error("write output file", path);
  if (s && ::rename(tmpl.c_str(), path.c_str()) < 0) s = sys_error("rename output file", path);
  if (!s) ::unlink(tmpl.c_str());
  return s;
}

Status export_container(Context& ctx, const ExportArgs& a) {
  if (a.output.empty() && ::isatty(STDOUT_FILENO))
    return Error::invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect");
  Engine* e = TRY(ctx.engine());
  Container c = TRY(e->get(a.container));
  RootfsLease lease(*e, c);
  std::string rootfs = TRY(lease.acquire(/*processes_view=*/false));
  images::CopyOptions co = copy_options_for(*e);
  images::ExportOptions eo{.uid_offset = co.uid_offset, .gid_offset = co.gid_offset};
  auto write = [&](int fd) { return images::export_rootfs(rootfs, fd, eo); };
  if (a.output.empty()) return write(STDOUT_FILENO);
  return write_output(a.output, write);
}

void add_export(CLI::App* parent, Context& ctx) {
  auto a = std::make_shared<ExportArgs>();
  auto* c = parent->add_subcommand("export", "Export a container's filesystem as a tar archive");
  c->add_option("-o,--output", a->output, "Write to a file, instead of STDOUT");
  c->add_option("CONTAINER", a->container, "container")->required();
  c->callback([a, &ctx] { run_verb(ctx, [&] { return export_container(ctx, *a); }); });
}

// ---- cp -----------------------------------------------------------------------------------

struct CpArgs {
  std::string source, destination;
  bool archive = false, follow_link = false, quiet = false;
};

struct CpEnd {
  std::string container;  // "" : a host path (or "-")
  std::string path;
};

// docker's splitCpArg: an absolute path, or one starting with "." (./a:b), is a host path;
// else CONTAINER:PATH when there is a colon.
CpEnd split_cp_arg(const std::string& arg) {
  size_t colon = arg.find(':');
  if (arg.starts_with('/') || arg.starts_with('.') || colon == std::string::npos) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

Status copy_from(Engine& e, Container& c, const std::string& name, const CpEnd& src,
                 const std::string& dest, const CpArgs& a) {
  RootfsLease lease(e, c);
  std::string rootfs = TRY(lease.acquire(/*processes_view=*/true));
  images::CopyOptions o = copy_options_for(e);
  o.archive = a.archive;
  o.follow_link = a.follow_link;
  o.container_name = name;
  images::CopyDest d;
  if (dest == "-")
    d.tar_fd = STDOUT_FILENO;
  else
    d.host_path = dest;
  return images::copy_out(rootfs, src.path, d, o);
}

Status copy_to(Engine& e, Container& c, const std::string& name, const std::string& source,
               const CpEnd& dst, const CpArgs& a) {
  RootfsLease lease(e, c);
  std::string rootfs = TRY(lease.acquire(/*processes_view=*/true));
  images::CopyOptions o = copy_options_for(e);
  o.archive = a.archive;
  o.follow_link = a.follow_link;
  o.container_name = name;
  if (source != "-") return images::copy_in(rootfs, {.host_path = source}, dst.path, o);
  int fd = ::dup(STDIN_FILENO);
  if (fd < 0) return sys_error("read stdin");
  storage::FdSource in{UniqueFd(fd)};
  return images::copy_in(rootfs, {.tar = &in}, dst.path, o);
}

Status cp(Context& ctx, const CpArgs& a) {
  if (a.source.empty()) return Error::invalid("source can not be empty");
  if (a.destination.empty()) return Error::invalid("destination can not be empty");
  CpEnd src = split_cp_arg(a.source), dst = split_cp_arg(a.destination);
  if (!src.container.empty() && !dst.container.empty())
    return Error::invalid("copying between containers is not supported");
  if (src.container.empty() && dst.container.empty())
    return Error::invalid("must specify at least one container source");
  const std::string& name = src.container.empty() ? dst.container : src.container;
  Engine* e = TRY(ctx.engine());
  Container c = TRY(e->get(name));
  if (!src.container.empty()) return copy_from(*e, c, name, src, a.destination, a);
  return copy_to(*e, c, name, a.source, dst, a);
}

void add_cp(CLI::App* parent, Context& ctx) {
  auto a = std::make_shared<CpArgs>();
  auto* c = parent->add_subcommand(
      "cp", "Copy files/folders between a container and the local filesystem");
  c->add_flag("-a,--archive", a->archive, "Archive mode (copy all uid/gid information)");
  c->add_flag("-L,--follow-link", a->follow_link, "Always follow symbol link in SRC_PATH");
  c->add_flag("-q,--quiet", a->quiet, "Suppress progress output during copy");
  c->add_option("SRC_PATH", a->source, "CONTAINER:SRC_PATH, a local path, or - (a tar on STDIN)")
      ->required();
  c->add_option("DEST_PATH", a->destination,
                "CONTAINER:DEST_PATH, a local path, or - (a tar on STDOUT)")
      ->required();
  c->callback([a, &ctx] { run_verb(ctx, [&] { return cp(ctx, *a); }); });
}

}  // namespace

void add_commit_cp_commands(CLI::App& app, Context& ctx) {
  CLI::App* container = subcommand(app, "container", "Manage containers");
  for (CLI::App* p : {&app, container}) {
    add_commit(p, ctx);
    add_export(p, ctx);
    add_cp(p, ctx);
  }
}

}  // namespace berth::cli
