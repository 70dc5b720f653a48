// The image verbs with docker's syntax and output: images / image ls, tag, rmi / image rm,
// image prune, and (images_show.cpp) inspect, history and system df. Option mapping and
// printing only: removal rules live in images/remove.h, formats in format.h.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "base/strings.h"
#include "cli/berth/context.h"
#include "cli/berth/format.h"
#include "cli/berth/images_cmds.h"
#include "image/config.h"
#include "image/reference.h"
#include "images/remove.h"

namespace berth::cli {

namespace {
Context* g_images_ctx = nullptr;  // set by add_image_commands: the rmi/prune/df hook needs it
}  // namespace

// The containers made from image_id (rmi refuses to delete their image; prune keeps it;
// system df counts it active).
Result<std::vector<images::ContainerUse>> containers_using_image(const std::string& image_id) {
  std::vector<images::ContainerUse> out;
  if (!g_images_ctx) return out;
  containers::Engine* e = TRY(g_images_ctx->engine());
  for (const auto& c : TRY(e->list()))
    if (c.image_id == image_id)
      out.push_back({.id = c.id, .running = c.state.status == "running" || c.state.status == "paused"});
  return out;
}

CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& help) {
  // Several files add verbs under `image` and `system`; whoever comes first creates it.
  auto found = parent.get_subcommands([&](CLI::App* a) { return a->get_name() == name; });
  if (!found.empty()) return found.front();
  auto* sub = parent.add_subcommand(name, help);
  sub->require_subcommand(1);
  return sub;
}

void print_error(Context& ctx, const Error& e, int code) {
  std::fprintf(stderr, "Error: %s\n", (ctx.globals().debug ? e.trail() : e.message()).c_str());
  ctx.set_exit_code(code);
}

int64_t now_unix() {
  return static_cast<int64_t>(::time(nullptr));
}

namespace {

// ---- images / image ls -----------------------------------------------------------------

struct ListOptions {
  bool quiet = false, all = false, digests = false, no_trunc = false;
  std::string format;
  std::vector<std::string> filters;
  std::string repository;
};

struct ImageFilter {
  std::optional<bool> dangling;
  std::vector<std::string> references;  // path.Match patterns
  std::vector<std::pair<std::string, std::optional<std::string>>> labels;
  std::optional<int64_t> before, since;  // created, unix s
};

Result<int64_t> created_of(images::Store& store, const std::string& name) {
  auto rec = TRY(store.lookup(name));
  if (!rec) return Error::invalid("No such image: " + name);
  return rec->created;
}

Result<ImageFilter> parse_filters(images::Store& store, const ListOptions& o) {
  ImageFilter f;
  for (const auto& spec : o.filters) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos)
      return Error::invalid("bad format of filter (expected name=value)");
    std::string key = spec.substr(0, eq), value = spec.substr(eq + 1);
    if (key == "dangling") {
      if (value != "true" && value != "false" && value != "1" && value != "0")
        return Error::invalid("invalid filter 'dangling=" + value + "'");
      f.dangling = value == "true" || value == "1";
    } else if (key == "reference") {
      f.references.push_back(value);
    } else if (key == "label") {
      size_t e = value.find('=');
      if (e == std::string::npos) {
        f.labels.push_back({value, std::nullopt});
      } else {
        f.labels.push_back({value.substr(0, e), value.substr(e + 1)});
      }
    } else if (key == "before") {
      f.before = TRY(created_of(store, value));
    } else if (key == "since") {
      f.since = TRY(created_of(store, value));
    } else {
      return Error::invalid("invalid filter '" + key + "'");
    }
  }
  if (!o.repository.empty()) {
    // `images ubuntu`: docker's reference filter on the familiar name (and tag).
    auto ref = image::parse_normalized_named(o.repository);
    if (ref && ref->digest.empty()) {
      f.references.push_back(ref->familiar_name() + (ref->tag.empty() ? "" : ":" + ref->tag));
    } else {
      f.references.push_back(o.repository);
    }
  }
  return f;
}

// docker's reference.FamiliarMatch: the pattern against "name:tag" or just the name.
bool reference_matches(const std::vector<std::string>& patterns, const std::string& full) {
  if (patterns.empty()) return true;
  auto ref = image::parse_reference(full);
  if (!ref) return false;
  for (const auto& p : patterns)
    if (path_match(p, ref->familiar()) || path_match(p, ref->familiar_name())) return true;
  return false;
}

bool labels_match(const ImageFilter& f, const image::ImageConfig& c) {
  for (const auto& [k, v] : f.labels) {
    auto it = c.config.labels.find(k);
    if (it == c.config.labels.end() || (v && it->second != *v)) return false;
  }
  return true;
}

struct Row {
  std::string repo, tag, digest;
};

// docker's imageFormat: a row per tag (and per repo digest of that repository with
// --digests), then the repositories that only have digests, else one <none> row.
std::vector<Row> rows_of(const std::vector<std::string>& tags,
                         const std::vector<std::string>& repo_digests, bool with_digests) {
  std::map<std::string, std::vector<std::string>> repo_tags, digests;
  for (const auto& t : tags)
    if (auto r = image::parse_reference(t); r) repo_tags[r->familiar_name()].push_back(r->tag);
  for (const auto& d : repo_digests)
    if (auto r = image::parse_reference(d); r) digests[r->familiar_name()].push_back(r->digest);
  std::vector<Row> rows;
  for (const auto& [repo, ts] : repo_tags) {
    std::vector<std::string> ds = with_digests ? digests[repo] : std::vector<std::string>();
    digests.erase(repo);
    for (const auto& t : ts) {
      if (ds.empty()) rows.push_back({repo, t, "<none>"});
      for (const auto& d : ds) rows.push_back({repo, t, d});
    }
  }
  for (const auto& [repo, ds] : digests) {
    if (!with_digests) {
      rows.push_back({repo, "<none>", ""});
      continue;
    }
    for (const auto& d : ds) rows.push_back({repo, "<none>", d});
  }
  if (rows.empty()) rows.push_back({"<none>", "<none>", "<none>"});
  return rows;
}

Json image_row_json(const storage::ImageRecord& rec, const image::ImageConfig& c, const Row& row,
                    bool no_trunc) {
  int64_t now = now_unix();
  Json j = Json::object();  // docker's keys, sorted
  j["Containers"] = "N/A";
  j["CreatedAt"] = go_time_string(rec.created);
  j["CreatedSince"] = created_since(c.created.empty() ? -1 : rec.created, now);
  j["Digest"] = row.digest;
  j["ID"] = no_trunc ? rec.id : short_id(rec.id);
  j["Repository"] = row.repo;
  j["SharedSize"] = "N/A";
  j["Size"] = human_size(rec.size, 3);
  j["Tag"] = row.tag;
  j["UniqueSize"] = "N/A";
  j["VirtualSize"] = human_size(rec.size, 4);
  return j;
}

const Json& image_headers() {
  static const Json h = {{"Repository", "REPOSITORY"},
                         {"Tag", "TAG"},
                         {"ID", "IMAGE ID"},
                         {"Digest", "DIGEST"},
                         {"CreatedSince", "CREATED"},
                         {"CreatedAt", "CREATED AT"},
                         {"Size", "SIZE"},
                         {"Containers", "CONTAINERS"},
                         {"SharedSize", "SHARED SIZE"},
                         {"UniqueSize", "UNIQUE SIZE"},
                         {"VirtualSize", "VIRTUAL SIZE"}};
  return h;
}

Status list_images(Context& ctx, const ListOptions& o) {
  images::Store* store = TRY(ctx.store());
  ImageFilter f = TRY(parse_filters(*store, o));
  std::string table =
      o.digests ? "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                : "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  RowPrinter out = TRY(RowPrinter::make(o.quiet ? "{{.ID}}" : o.format, table, image_headers()));
  std::set<std::string> seen;  // -q prints each id once
  std::vector<storage::ImageRecord> all = TRY(store->db().list());
  // docker's intermediate images: untagged, with a child (a build step's image). Hidden
  // unless -a; an untagged image without children is dangling and shown.
  std::set<std::string> parents;
  for (const auto& rec : all)
    if (!rec.parent.empty()) parents.insert(rec.parent);
  for (const auto& rec : all) {
    bool intermediate = rec.tags.empty() && rec.repo_digests.empty() && parents.count(rec.id);
    if (intermediate && !o.all) continue;
    if (f.dangling && *f.dangling != (rec.tags.empty() && !intermediate)) continue;
    if ((f.before && rec.created >= *f.before) || (f.since && rec.created <= *f.since)) continue;
    image::ImageConfig c = TRY(image::parse_image_config(rec.config));
    if (!labels_match(f, c)) continue;
    std::vector<std::string> tags, digests;
    for (const auto& t : rec.tags)
      if (reference_matches(f.references, t)) tags.push_back(t);
    for (const auto& d : rec.repo_digests)
      if (reference_matches(f.references, d)) digests.push_back(d);
    // A reference filter shows only the names that match, and no untagged image.
    if (!f.references.empty() && tags.empty() && digests.empty()) continue;
    for (const auto& row : rows_of(tags, digests, o.digests)) {
      if (o.quiet && !seen.insert(rec.id).second) continue;
      TRY(out.add(image_row_json(rec, c, row, o.no_trunc)));
    }
  }
  std::fputs(out.finish().c_str(), stdout);
  return ok();
}

void add_ls(CLI::App* sub, Context& ctx) {
  auto o = std::make_shared<ListOptions>();
  sub->add_option("REPOSITORY", o->repository, "show only this repository, REPOSITORY[:TAG]");
  sub->add_flag("-q,--quiet", o->quiet, "only show image ids");
  sub->add_flag("-a,--all", o->all, "show all images (by default intermediate build images are hidden)");
  sub->add_flag("--digests", o->digests, "show digests");
  sub->add_flag("--no-trunc", o->no_trunc, "don't truncate output");
  sub->add_option("--format", o->format,
                  "'table', 'table TEMPLATE', 'json' or a Go template: '{{.Repository}}:{{.Tag}}'");
  sub->add_option("-f,--filter", o->filters,
                  "dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, "
                  "since=IMAGE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->callback([o, &ctx] { ctx.run([&] { return list_images(ctx, *o); }); });
}

// ---- tag ----------------------------------------------------------------------------------

Status tag_image(Context& ctx, const std::string& source, const std::string& target) {
  images::Store* store = TRY(ctx.store());
  auto rec = TRY(store->lookup(source));
  if (!rec) {
    auto ref = image::parse_reference(source);
    return Error::invalid("No such image: " + (ref ? ref->familiar() : source));
  }
  auto ref = image::parse_reference(target);
  if (!ref) {
    return Error::invalid("Error parsing reference: \"" + target +
                          "\" is not a valid repository/tag: " + ref.error().message());
  }
  if (!ref->digest.empty())
    return Error::invalid("refusing to create a tag with a digest reference");
  return store->db().tag(ref->string(), rec->id);
}

void add_tag(CLI::App* sub, Context& ctx) {
  auto source = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  sub->add_option("SOURCE_IMAGE", *source, "SOURCE_IMAGE[:TAG], or an image id")->required();
  sub->add_option("TARGET_IMAGE", *target, "TARGET_IMAGE[:TAG]")->required();
  sub->callback([=, &ctx] { ctx.run([&] { return tag_image(ctx, *source, *target); }); });
}

// ---- rmi / image rm ----------------------------------------------------------------------

void print_events(const images::DeleteReport& r, bool prune_style) {
  for (const auto& e : r.events) {
    const char* label = e.kind == images::DeleteEvent::untagged
                            ? (prune_style ? "untagged: " : "Untagged: ")
                            : (prune_style ? "deleted: " : "Deleted: ");
    std::printf("%s%s\n", label, e.what.c_str());
  }
}

void remove_images(Context& ctx, const std::vector<std::string>& names, bool force, bool no_prune) {
  auto store = ctx.store();
  if (!store) return print_error(ctx, store.error(), kExitBerthError);
  images::RemoveOptions opts{force, containers_using_image, no_prune};
  // Like docker: every argument is tried; each failure is reported and the others go on.
  for (const auto& n : names) {
    auto r = images::remove_image(**store, n, opts);
    if (!r) {
      print_error(ctx, r.error(), kExitBerthError);
      continue;
    }
    print_events(*r, false);
    std::fflush(stdout);
  }
}

void add_rm(CLI::App* sub, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  auto no_prune = std::make_shared<bool>(false);
  sub->add_option("IMAGE", *names, "images, by name or id")->required();
  sub->add_flag("-f,--force", *force, "remove every name of the image, and the image");
  sub->add_flag("--no-prune", *no_prune, "Do not delete untagged parents");
  sub->callback([=, &ctx] { remove_images(ctx, *names, *force, *no_prune); });
}

// ---- image prune --------------------------------------------------------------------------

// Unpacked layers and blobs nobody names must be at least this old before prune removes
// them: a pull records its image only at the end, and its layers must survive until then.
constexpr std::chrono::seconds kOrphanMinAge{3600};

Status prune(Context& ctx, bool all, bool force) {
  images::Store* store = TRY(ctx.store());
  if (!force && !confirm(all ? "WARNING! This will remove all images without at least one "
                               "container associated to them."
                             : "WARNING! This will remove all dangling images."))
    return ok();
  images::DeleteReport r = TRY(images::prune_images(*store, all, containers_using_image));
  images::OrphanReport orphans = TRY(images::remove_orphans(*store, kOrphanMinAge));
  if (!r.events.empty()) {
    std::printf("Deleted Images:\n");
    print_events(r, true);
    std::printf("\n");
  }
  std::printf("Total reclaimed space: %s\n", human_size(r.reclaimed + orphans.bytes, 4).c_str());
  return ok();
}

void add_prune(CLI::App* sub, Context& ctx) {
  auto all = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  sub->add_flag("-a,--all", *all,
                "remove all images not used by a container, not just dangling ones");
  sub->add_flag("-f,--force", *force, "do not prompt for confirmation");
  sub->callback([=, &ctx] { ctx.run([&] { return prune(ctx, *all, *force); }); });
}

}  // namespace

void add_image_commands(CLI::App& app, Context& ctx) {
  g_images_ctx = &ctx;
  add_ls(app.add_subcommand("images", "List images"), ctx);
  add_tag(app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"), ctx);
  add_rm(app.add_subcommand("rmi", "Remove one or more images"), ctx);
  add_inspect(app.add_subcommand("inspect", "Return low-level information on berth objects"), ctx,
              /*generic=*/true);
  add_history(app.add_subcommand("history", "Show the history of an image"), ctx);

  CLI::App* image = subcommand(app, "image", "Manage images");
  add_ls(image->add_subcommand("ls", "List images")->alias("list"), ctx);
  add_rm(image->add_subcommand("rm", "Remove one or more images")->alias("remove"), ctx);
  add_tag(image->add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
          ctx);
  add_inspect(
      image->add_subcommand("inspect", "Display detailed information on one or more images"), ctx,
      /*generic=*/false);
  add_history(image->add_subcommand("history", "Show the history of an image"), ctx);
  add_prune(image->add_subcommand("prune", "Remove unused images"), ctx);

  CLI::App* system = subcommand(app, "system", "Manage berth");
  add_df(system->add_subcommand("df", "Show berth disk usage"), ctx);
}

}  // namespace berth::cli
