// build.cpp - `berth build`: docker build's command line over src/build (docs/build.md).
//
// CONTEXT is a directory, or "-": a tar of the context on stdin (plain or compressed), or a
// Dockerfile alone on stdin (no context). -f names the Dockerfile (relative to the current
// directory, as docker's CLI reads it; "-" reads it from stdin); by default CONTEXT/Dockerfile.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "base/file.h"
#include "base/strings.h"
#include "build/builder.h"
#include "build/context.h"
#include "cli/berth/context.h"
#include "cli/berth/images_cmds.h"
#include "image/reference.h"
#include "images/install.h"
#include "images/tree_tar.h"

extern char** environ;

namespace berth::cli {
namespace {

struct BuildArgs {
  std::string context;
  std::vector<std::string> tags, build_args, labels, gpus, secrets;
  std::string file, target, platform, network = "default";
  bool no_cache = false, pull = false, quiet = false;
};

// A ByteSource over stdin's bytes already read.
class StringSource : public ByteSource {
 public:
  explicit StringSource(const std::string& s) : s_(s) {}
  Result<size_t> read(void* buf, size_t n) override {
    size_t k = std::min(n, s_.size() - pos_);
    std::memcpy(buf, s_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

Result<std::string> read_stdin(size_t max) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", "stdin");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max) return Error::invalid("the build context on stdin is larger than " + std::to_string(max >> 20) + " MiB");
  }
  return out;
}


Status do_build(Context& ctx, const BuildArgs& a) {
  build::BuildOptions o;
  std::unique_ptr<TempDir> tmp, secret_dir;
  // --secret id=ID,src=FILE | id=ID,env=VAR (docker's forms; type=file|env accepted).
  for (const auto& spec : a.secrets) {
    std::map<std::string, std::string> kv;
    for (const auto& part : split(spec, ',')) {
      auto eq = part.find('=');
      if (eq == std::string::npos) return Error::invalid("invalid --secret '" + spec + "': expected id=ID,src=FILE or id=ID,env=VAR");
      kv[part.substr(0, eq)] = part.substr(eq + 1);
    }
    std::string id = kv["id"];
    std::string src = kv.count("src") ? kv["src"] : kv["source"];
    std::string env = kv["env"];
    if (id.empty()) id = !env.empty() ? env : basename_of(src);
    if (id.empty() || id.find('/') != std::string::npos) return Error::invalid("invalid --secret '" + spec + "': no id");
    if (src.empty() && env.empty() && std::getenv(id.c_str())) env = id;
    if (!env.empty()) {
      const char* v = std::getenv(env.c_str());
      if (!v) return Error::invalid("--secret " + spec + ": the environment has no " + env);
      if (!secret_dir) secret_dir = std::make_unique<TempDir>(TRY(TempDir::create("/tmp/berth-secrets-")));
      src = path_join(secret_dir->path(), id);
      TRY(write_file_atomic(src, v, 0600, Durability::volatile_ok));
    }
    char real[4096];
    if (src.empty() || !::realpath(src.c_str(), real))
      return Error(ENOENT, "--secret " + spec + ": no such file: " + src);
    o.secrets[id] = real;
  }
  std::string stdin_text;
  if (a.context == "-") {
    stdin_text = TRY(read_stdin(size_t{4} << 30));
    tmp = std::make_unique<TempDir>(TRY(TempDir::create("/tmp/berth-build-")));
    o.context_dir = tmp->path();
    if (build::looks_like_archive(stdin_text)) {
      UniqueFd root = TRY(open_fd(o.context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
      images::tree::ExtractOptions eo;
      eo.label = "build context";
      images::tree::ExtractSink sink(root.get(), eo);
      StringSource src(stdin_text);
      TRY(images::tree::read_tar(src, sink, "the build context on stdin"));
      o.dockerfile_rel = a.file.empty() ? "Dockerfile" : a.file;
      o.dockerfile = TRY(read_file(path_join(o.context_dir, o.dockerfile_rel), 16u << 20));
      o.dockerfile_name = o.dockerfile_rel;
    } else {
      if (!a.file.empty())
        return Error::invalid("-f cannot be used when the Dockerfile comes on stdin (build -)");
      o.dockerfile = std::move(stdin_text);
    }
  } else {
    if (!is_directory(a.context))
      return Error(ENOENT, "unable to prepare context: path \"" + a.context + "\" not found");
    o.context_dir = a.context;
    std::string file = a.file.empty() ? path_join(a.context, "Dockerfile") : a.file;
    if (file == "-") {
      o.dockerfile = TRY(read_stdin(16u << 20));
      o.dockerfile_name = "Dockerfile";
    } else {
      auto text = read_file(file, 16u << 20);
      if (!text) return Error(ENOENT, "unable to prepare context: unable to evaluate the Dockerfile path: " + file + ": no such file or directory");
      o.dockerfile = std::move(*text);
      o.dockerfile_name = a.file.empty() ? "Dockerfile" : a.file;
      // Its place in the context, when it is inside (never excluded from what the build reads).
      char ctx_real[4096], file_real[4096];
      if (::realpath(a.context.c_str(), ctx_real) && ::realpath(file.c_str(), file_real)) {
        std::string c = ctx_real, f = file_real;
        if (f.rfind(c + "/", 0) == 0) o.dockerfile_rel = f.substr(c.size() + 1);
      }
    }
  }
  for (const auto& t : a.tags) {
    image::Reference ref = TRY(image::parse_normalized_named_with_default_tag(t));
    if (!ref.digest.empty()) return Error::invalid("invalid tag \"" + t + "\": a tag cannot hold a digest");
    o.tags.push_back(ref.string());
  }
  for (const auto& l : a.labels) {
    auto eq = l.find('=');
    o.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  o.build_args = a.build_args;
  for (char** e = environ; e && *e; ++e) o.environ.emplace_back(*e);
  o.target = a.target;
  o.no_cache = a.no_cache;
  o.pull = a.pull;
  o.quiet = a.quiet;
  o.network = a.network;
  o.gpus = a.gpus;
  o.platform = a.platform;
  o.out = stdout;
  o.pull_image = [&](const std::string& ref, const std::string& platform) {
    return pull_image(ctx, ref, platform, a.quiet);
  };
  containers::Engine* e = TRY(ctx.engine());
  build::BuildResult r = TRY(build::build(*e, o));
  if (a.quiet) std::printf("%s\n", r.image_id.c_str());
  return ok();
}

// `builder prune`: the RUN --mount=type=cache folders and the remembered content hashes.
// The steps' images are images: `image prune` removes the dangling ones.
Status builder_prune(Context& ctx, bool force) {
  images::Store* store = TRY(ctx.store());
  if (!force && !confirm("WARNING! This will remove all build cache mounts (RUN --mount=type=cache folders) "
                         "and the remembered content hashes of build contexts."))
    return ok();
  std::string dir = path_join(store->root(), "build-cache");
  int64_t reclaimed = 0;
  if (is_directory(dir))
    for (const auto& name : TRY(list_dir(dir))) {
      std::string p = path_join(dir, name);
      reclaimed += images::tree_content_bytes(p).value_or(0);
      TRY(remove_all(p));
      std::printf("Deleted build cache mount: %s\n", name.c_str());
    }
  TRY(store->db().clear_file_hashes());
  std::printf("Total reclaimed space: %s\n", images::human_size(reclaimed, 4).c_str());
  return ok();
}

}  // namespace

void add_build_commands(CLI::App& app, Context& ctx) {
  auto* builder = app.add_subcommand("builder", "Manage builds");
  builder->require_subcommand(1);
  auto force = std::make_shared<bool>(false);
  auto* prune = builder->add_subcommand("prune", "Remove build cache");
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  prune->callback([&ctx, force] { ctx.run([&] { return builder_prune(ctx, *force); }); });
  for (CLI::App* parent : {&app, subcommand(app, "image", "Manage images")}) {
    auto a = std::make_shared<BuildArgs>();
    auto* cmd = parent->add_subcommand("build", "Build an image from a Dockerfile");
    cmd->add_option("CONTEXT", a->context, "the build context: a directory, or - (a tar or a Dockerfile on stdin)")
        ->required();
    cmd->add_option("-t,--tag", a->tags, "Name and optionally a tag in the 'name:tag' format");
    cmd->add_option("-f,--file", a->file, "Name of the Dockerfile (default: 'CONTEXT/Dockerfile')");
    cmd->add_option("--build-arg", a->build_args, "Set build-time variables");
    cmd->add_option("--target", a->target, "Set the target build stage to build");
    cmd->add_flag("--no-cache", a->no_cache, "Do not use cache when building the image");
    cmd->add_flag("--pull", a->pull, "Always attempt to pull a newer version of the image");
    cmd->add_option("--label", a->labels, "Set metadata for an image");
    cmd->add_flag("-q,--quiet", a->quiet, "Suppress the build output and print image ID on success");
    cmd->add_option("--platform", a->platform, "Set platform (this machine's only)");
    cmd->add_option("--network", a->network, "Set the networking mode for the RUN instructions during build")
        ->capture_default_str();
    cmd->add_option("--gpus", a->gpus, "GPU devices to give RUN steps ('all' to pass all GPUs)");
    cmd->add_option("--secret", a->secrets, "Secret file to expose to the build: id=mysecret,src=/local/secret (or env=VAR)");
    one_value_per_option(cmd);
    cmd->callback([&ctx, a] {
      ctx.run([&] { return do_build(ctx, *a); });
      if (ctx.exit_code() == kExitBerthError) ctx.set_exit_code(1);  // docker build exits 1
    });
  }
}

}  // namespace berth::cli
