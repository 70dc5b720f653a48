// archive.cpp - save, load, import: docker's options onto src/images/archive.h.
#include "images/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "base/file.h"
#include "cli/berth/context.h"
#include "storage/blob_store.h"

namespace berth::cli {

namespace {

struct SaveArgs {
  std::string output;
  std::string format = "docker-archive";
  std::vector<std::string> images;
};

struct LoadArgs {
  std::string input;
  bool quiet = false;
};

struct ImportArgs {
  std::string file;
  std::string reference;
  std::vector<std::string> changes;
  std::string message;
  std::string platform;
};

Status save(Context& ctx, const SaveArgs& a) {
  images::ArchiveFormat format = TRY(images::parse_archive_format(a.format));
  if (a.output.empty() && ::isatty(STDOUT_FILENO))
    return Error::invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect");
  images::Store* store = TRY(ctx.store());
  if (!a.output.empty()) return images::save_images_to_file(*store, a.images, format, a.output);
  return images::save_images(*store, a.images, format, STDOUT_FILENO);
}

// FILE, or stdin for "" / "-".
Result<UniqueFd> open_input(const std::string& path) {
  if (path.empty() || path == "-") {
    int fd = ::dup(STDIN_FILENO);
    if (fd < 0) return sys_error("read stdin");
    return UniqueFd(fd);
  }
  return open_fd(path, O_RDONLY | O_CLOEXEC);
}

Status load(Context& ctx, const LoadArgs& a) {
  if (a.input.empty() && ::isatty(STDIN_FILENO))
    return Error::invalid("requested load from stdin, but stdin is empty");
  UniqueFd fd = TRY(open_input(a.input));
  images::Store* store = TRY(ctx.store());
  storage::FdSource src(std::move(fd));
  images::LoadOptions opts;
  opts.print = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  TRY(images::load_images(*store, src, opts));
  return ok();
}

Status import(Context& ctx, const ImportArgs& a) {
  images::ImportOptions opts;
  opts.source = a.file;
  opts.reference = a.reference;
  opts.changes = a.changes;
  opts.message = a.message;
  opts.platform = a.platform;
  if (a.file.starts_with("http://") || a.file.starts_with("https://")) {
    storage::FdSource none{UniqueFd()};  // never read: the library refuses URLs first
    auto r = images::import_image(*TRY(ctx.store()), none, opts);
    if (!r) return std::move(r).error();
  }
  if (a.file == "-" && ::isatty(STDIN_FILENO))
    return Error::invalid("import from stdin: stdin is a terminal, pipe a tar into it");
  UniqueFd fd = TRY(open_input(a.file));
  images::Store* store = TRY(ctx.store());
  storage::FdSource src(std::move(fd));
  std::string id = TRY(images::import_image(*store, src, opts));
  std::printf("%s\n", id.c_str());
  return ok();
}

}  // namespace

void add_archive_commands(CLI::App& app, Context& ctx) {
  auto save_args = std::make_shared<SaveArgs>();
  auto* s = app.add_subcommand(
      "save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
  s->add_option("-o,--output", save_args->output, "Write to a file, instead of STDOUT");
  s->add_option("--format", save_args->format,
                "Archive format: docker-archive (default) or oci-archive");
  s->add_option("IMAGE", save_args->images, "Images to save (name[:tag], name, or ID)")->required();
  s->callback([&ctx, save_args] { ctx.run([&] { return save(ctx, *save_args); }); });

  auto load_args = std::make_shared<LoadArgs>();
  auto* l = app.add_subcommand("load", "Load an image from a tar archive or STDIN");
  l->add_option("-i,--input", load_args->input, "Read from tar archive file, instead of STDIN");
  l->add_flag("-q,--quiet", load_args->quiet, "Suppress the load output");
  l->callback([&ctx, load_args] { ctx.run([&] { return load(ctx, *load_args); }); });

  auto import_args = std::make_shared<ImportArgs>();
  auto* i = app.add_subcommand("import",
                               "Import the contents from a tarball to create a filesystem image");
  i->add_option("FILE", import_args->file,
                "A root filesystem tar (optionally compressed), or - for STDIN")
      ->required();
  i->add_option("REPOSITORY", import_args->reference, "Name the image [REPOSITORY[:TAG]]");
  i->add_option("-c,--change", import_args->changes,
                "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  i->add_option("-m,--message", import_args->message, "Set commit message for imported image");
  i->add_option("--platform", import_args->platform,
                "Set platform if server is multi-platform capable");
  i->callback([&ctx, import_args] { ctx.run([&] { return import(ctx, *import_args); }); });
}

}  // namespace berth::cli
