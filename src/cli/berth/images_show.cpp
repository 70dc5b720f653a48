// inspect, image inspect, history and system df: docker's JSON and tables for what the store
// holds. Read-only.
#include <algorithm>
#include <map>
#include <cstdio>
#include <functional>
#include <optional>

#include "cli/berth/format.h"
#include "cli/berth/images_cmds.h"
#include "image/config.h"
#include "image/reference.h"

namespace berth::cli {

namespace {

// How a name that matched nothing is shown: references as docker normalises them.
std::string shown(const std::string& name) {
  auto ref = image::parse_reference(name);
  return ref ? ref->familiar() : name;
}

Result<storage::ImageRecord> find_image(images::Store& store, const std::string& name) {
  auto rec = TRY(store.lookup(name));
  if (!rec) return Error::invalid("No such image: " + shown(name));
  return std::move(*rec);
}

// ---- inspect ------------------------------------------------------------------------------

Result<std::optional<Json>> inspect_image(Context& ctx, const std::string& name) {
  images::Store* store = TRY(ctx.store());
  auto rec = TRY(store->lookup(name));
  if (!rec) return std::optional<Json>();
  image::ImageConfig config = TRY(image::parse_image_config(rec->config));
  ImageView v{&*rec, &config, {}, 0};
  for (const auto& l : TRY(store->db().image_layers(rec->id)))
    v.layer_dirs.push_back(store->root() + "/layers/" + l.chain_id.substr(7));
  v.last_tag_time = TRY(store->db().last_tag_time(rec->id));
  return std::optional<Json>(image_inspect_json(v));
}

// One kind of object `inspect NAME` can show.
struct Inspector {
  std::string type;  // --type value
  // The object's JSON; nullopt when NAME is not one of these. An error (an ambiguous id)
  // ends the search for that name.
  std::function<Result<std::optional<Json>>(Context&, const std::string&)> find;
};

// Tried in this order. docker looks for a container first: containers go in front of images
// when they exist (then networks and volumes).
const std::vector<Inspector>& inspectors() {
  static const std::vector<Inspector> all = {{"container", inspect_container}, {"image", inspect_image}, {"network", inspect_network}, {"volume", inspect_volume}};
  return all;
}

struct InspectOptions {
  std::vector<std::string> names;
  std::string format;
  std::string type;
  bool size = false;
};

void inspect(Context& ctx, const InspectOptions& o, bool generic) {
  // docker inspect exits 1 when a name is unknown; berth's own errors (the template) are 125.
  constexpr int kNotFound = 1;
  std::optional<Template> tmpl;
  if (!o.format.empty()) {
    auto t = Template::parse(o.format);
    if (!t) return print_error(ctx, t.error(), kExitBerthError);
    tmpl = std::move(*t);
  }
  std::vector<const Inspector*> kinds;
  for (const auto& i : inspectors())
    if (o.type.empty() || i.type == o.type) kinds.push_back(&i);
  if (kinds.empty())
    return print_error(ctx, Error::invalid("\"" + o.type + "\" is not a valid value for --type"),
                       kExitBerthError);

  Json found = Json::array();
  std::vector<Error> errors;
  for (const auto& name : o.names) {
    bool hit = false;
    for (const Inspector* k : kinds) {
      auto r = k->find(ctx, name);
      if (!r) {
        errors.push_back(std::move(r).error());
        hit = true;
        break;
      }
      if (*r) {
        found.push_back(std::move(**r));
        hit = true;
        break;
      }
    }
    if (!hit) {
      std::string what = !o.type.empty() ? o.type : generic ? "object" : "image";
      errors.push_back(Error::invalid("No such " + what + ": " + name));
    }
  }
  if (!tmpl) {
    std::printf("%s\n", docker_json(found, 4).c_str());
  } else {
    for (const auto& obj : found) {
      auto text = tmpl->render(obj, /*missing_is_error=*/false);
      if (!text) {
        errors.push_back(std::move(text).error());
        break;
      }
      std::printf("%s\n", text->c_str());
    }
  }
  std::fflush(stdout);
  for (const auto& e : errors) print_error(ctx, e, kNotFound);
}

// ---- history ------------------------------------------------------------------------------

struct HistoryOptions {
  std::string image;
  bool no_trunc = false, quiet = false, human = true;
  std::string format;
};

const Json& history_headers() {
  static const Json h = {{"ID", "IMAGE"},
                         {"CreatedSince", "CREATED"},
                         {"CreatedAt", "CREATED AT"},
                         {"CreatedBy", "CREATED BY"},
                         {"Size", "SIZE"},
                         {"Comment", "COMMENT"}};
  return h;
}

struct HistoryRow {
  int64_t created = -1;  // unix s; -1: unknown
  std::string created_by, comment;
  int64_t size = 0;
};

// The config's history, oldest first, each entry that made a layer paired with that
// layer's size; an image without history gets one row per layer.
std::vector<HistoryRow> history_rows(const image::ImageConfig& c,
                                     const std::vector<storage::LayerRecord>& layers,
                                     int64_t image_created) {
  std::vector<HistoryRow> rows;
  size_t next = 0;
  for (const auto& h : c.history) {
    HistoryRow r;
    if (!h.created.empty()) r.created = image::parse_rfc3339(h.created).value_or(-1);
    r.created_by = h.created_by;
    r.comment = h.comment;
    if (!h.empty_layer && next < layers.size()) r.size = layers[next++].size;
    rows.push_back(std::move(r));
  }
  if (c.history.empty())
    for (const auto& l : layers) rows.push_back({image_created, "", "", l.size});
  return rows;
}

Status history(Context& ctx, const HistoryOptions& o) {
  images::Store* store = TRY(ctx.store());
  storage::ImageRecord rec = TRY(find_image(*store, o.image));
  image::ImageConfig c = TRY(image::parse_image_config(rec.config));
  auto layers = TRY(store->db().image_layers(rec.id));
  std::vector<HistoryRow> rows = history_rows(c, layers, c.created.empty() ? -1 : rec.created);
  RowPrinter out = TRY(RowPrinter::make(
      o.quiet ? "{{.ID}}" : o.format,
      "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", history_headers()));
  int64_t now = now_unix();
  // docker shows the local images of a build's steps: each parent in the chain ends at the
  // history entry its own history ends with (rows follow history one for one).
  std::map<size_t, std::string> ids;
  if (!c.history.empty()) {
    ids[rows.size() - 1] = rec.id;
    std::string parent = rec.parent;
    for (int guard = 0; !parent.empty() && guard < 10000; ++guard) {
      auto p = TRY(store->db().find_by_id(parent));
      if (!p) break;
      auto pc = image::parse_image_config(p->config);
      if (!pc || pc->history.empty() || pc->history.size() > rows.size()) break;
      ids[pc->history.size() - 1] = p->id;
      parent = p->parent;
    }
  }
  for (size_t i = rows.size(); i-- > 0;) {
    const HistoryRow& r = rows[i];
    std::string by = r.created_by;
    std::replace(by.begin(), by.end(), '\t', ' ');
    Json j = Json::object();  // docker's keys, sorted
    j["Comment"] = r.comment;
    j["CreatedAt"] = r.created < 0 ? "0001-01-01T00:00:00Z" : rfc3339_local(r.created);
    j["CreatedBy"] = o.no_trunc ? by : ellipsis(by, 45);
    j["CreatedSince"] = o.human ? Json(created_since(r.created, now)) : j["CreatedAt"];
    auto id = ids.find(i);
    if (i + 1 == rows.size()) j["ID"] = o.no_trunc ? rec.id : short_id(rec.id);
    else j["ID"] = id == ids.end() ? "<missing>" : o.no_trunc ? id->second : short_id(id->second);
    j["Size"] = o.human ? human_size(r.size, 3) : std::to_string(r.size);
    TRY(out.add(j));
  }
  std::fputs(out.finish().c_str(), stdout);
  return ok();
}

// ---- system df ----------------------------------------------------------------------------

std::string reclaimable(int64_t reclaimable, int64_t total) {
  std::string s = human_size(reclaimable, 4);
  if (total > 0) s += " (" + std::to_string(reclaimable * 100 / total) + "%)";
  return s;
}

Json df_row(const char* type, size_t total, int active, int64_t size, std::string reclaim) {
  Json j = Json::object();  // docker's keys, sorted
  j["Active"] = std::to_string(active);
  j["Reclaimable"] = std::move(reclaim);
  j["Size"] = human_size(size, 4);
  j["TotalCount"] = std::to_string(total);
  j["Type"] = type;
  return j;
}

// docker's verbose sections: each a table of its own; containers, volumes and the build
// cache hold nothing yet, so they are headers only.
Status df_verbose(const images::DiskUsage& du) {
  TabWriter images;
  images.write("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n");
  int64_t now = now_unix();
  for (const auto& u : du.images) {
    const auto& r = u.record;
    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& t : r.tags)
      if (auto ref = image::parse_reference(t); ref)
        names.push_back({ref->familiar_name(), ref->tag});
    if (names.empty()) names.push_back({"<none>", "<none>"});
    for (const auto& [repo, tag] : names) {
      images.write(repo + "\t" + tag + "\t" + short_id(r.id) + "\t" +
                   created_since(r.created, now) + "\t" + human_size(r.size, 3) + "\t" +
                   human_size(u.shared_size, 3) + "\t" + human_size(r.size - u.shared_size, 3) +
                   "\t" + std::to_string(u.containers) + "\n");
    }
  }
  std::printf("Images space usage:\n\n%s", images.flush().c_str());
  TabWriter containers, volumes, cache;
  containers.write("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
  volumes.write("VOLUME NAME\tLINKS\tSIZE\n");
  cache.write("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n");
  std::printf("\nContainers space usage:\n\n%s", containers.flush().c_str());
  std::printf("\nLocal Volumes space usage:\n\n%s", volumes.flush().c_str());
  std::printf("\nBuild cache usage: 0B\n\n%s", cache.flush().c_str());
  return ok();
}

Status df(Context& ctx, bool verbose, const std::string& format) {
  images::Store* store = TRY(ctx.store());
  images::DiskUsage du = TRY(images::disk_usage(*store, containers_using_image));
  if (verbose) return df_verbose(du);
  static const Json headers = {{"Type", "TYPE"},
                               {"TotalCount", "TOTAL"},
                               {"Active", "ACTIVE"},
                               {"Size", "SIZE"},
                               {"Reclaimable", "RECLAIMABLE"}};
  RowPrinter out = TRY(RowPrinter::make(
      format, "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", headers));
  TRY(out.add(df_row("Images", du.images.size(), du.active, du.layers_size,
                     reclaimable(du.reclaimable, du.layers_size))));
  // Containers, volumes and the build cache arrive with their issues.
  TRY(out.add(df_row("Containers", 0, 0, 0, "0B")));
  TRY(out.add(df_row("Local Volumes", 0, 0, 0, "0B")));
  TRY(out.add(df_row("Build Cache", 0, 0, 0, "0B")));
  std::fputs(out.finish().c_str(), stdout);
  return ok();
}

}  // namespace

void add_inspect(CLI::App* sub, Context& ctx, bool generic) {
  auto o = std::make_shared<InspectOptions>();
  sub->add_option(generic ? "NAME" : "IMAGE", o->names, "names or ids")->required();
  sub->add_option("-f,--format", o->format, "Go template: '{{.Id}}', '{{json .Config}}'");
  if (generic) {
    sub->add_option("--type", o->type, "only this kind of object: image");
    sub->add_flag("-s,--size", o->size, "accepted for docker compatibility (containers)");
  }
  sub->callback([o, &ctx, generic] { inspect(ctx, *o, generic); });
}

void add_history(CLI::App* sub, Context& ctx) {
  auto o = std::make_shared<HistoryOptions>();
  sub->add_option("IMAGE", o->image, "name or id")->required();
  sub->add_flag("--no-trunc", o->no_trunc, "don't truncate output");
  sub->add_flag("-q,--quiet", o->quiet, "only show image ids");
  sub->add_flag("-H,--human", o->human, "sizes and dates in human form (default true)")
      ->default_val(true);
  sub->add_option("--format", o->format, "'table', 'table TEMPLATE', 'json' or a Go template");
  sub->callback([o, &ctx] { ctx.run([&] { return history(ctx, *o); }); });
}

void add_df(CLI::App* sub, Context& ctx) {
  auto verbose = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>();
  sub->add_flag("-v,--verbose", *verbose, "show space usage per image");
  sub->add_option("--format", *format, "'table', 'table TEMPLATE', 'json' or a Go template");
  sub->callback([=, &ctx] { ctx.run([&] { return df(ctx, *verbose, *format); }); });
}

}  // namespace berth::cli
