// builder.cpp - the build's stages and steps, the cache, and the config instructions
// (see builder.h). COPY/ADD/WORKDIR are in copy.cpp, RUN's container in run_step.cpp.
#include "build/builder.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "base/strings.h"
#include "base/time.h"
#include "build/builder_internal.h"
#include "build/dockerfile.h"
#include "image/config.h"
#include "image/platform.h"
#include "image/reference.h"
#include "images/commit.h"
#include "images/install.h"
#include "storage/sha256.h"

namespace berth::build {

namespace {

// The proxy variables docker passes to RUN without an ARG declaring them, and leaves out of
// the image's history.
const std::set<std::string, std::less<>> kPredefinedArgSet = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string short_id(const std::string& id) {
  return id.substr(id.rfind(':') + 1, 12);
}

std::string json_array(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}

}  // namespace

Result<int64_t> parse_go_duration(std::string_view text) {
  if (text.empty()) return Error::invalid("invalid duration \"\"");
  if (text == "0") return int64_t{0};
  int64_t total = 0;
  std::string_view s = text;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return Error::invalid("invalid duration \"" + std::string(text) + "\"");
    double v = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    double mul = 0;
    if (unit == "ns") mul = 1;
    else if (unit == "us" || unit == "µs") mul = 1e3;
    else if (unit == "ms") mul = 1e6;
    else if (unit == "s") mul = 1e9;
    else if (unit == "m") mul = 60e9;
    else if (unit == "h") mul = 3600e9;
    else return Error::invalid("invalid duration \"" + std::string(text) + "\"");
    double add = v * mul;
    if (add > 9.2e18 || static_cast<double>(total) + add > 9.2e18)
      return Error::invalid("invalid duration \"" + std::string(text) + "\": too long");
    total += static_cast<int64_t>(add);
  }
  return total;
}

// ---- Builder ---------------------------------------------------------------------------

Builder::Builder(containers::Engine& e, const BuildOptions& o)
    : engine_(e), store_(e.store()), opts_(o) {}

void Builder::say(const std::string& line) {
  if (opts_.quiet || !opts_.out) return;
  std::fputs(line.c_str(), opts_.out);
  std::fputc('\n', opts_.out);
  std::fflush(opts_.out);
}

Error Builder::at(const Instruction& ins, const Error& e) const {
  return Error(e.code(), opts_.dockerfile_name + " line " + std::to_string(ins.line) + ": " +
                             ins.original + ": " + e.op(),
               e.object());
}

Vars Builder::scope(const Stage& st) const {
  Vars v;
  for (const auto& [k, val] : st.args)
    if (val) v[k] = *val;
  for (const auto& e : st.config.config.env) {
    auto eq = e.find('=');
    v[e.substr(0, eq)] = eq == std::string::npos ? "" : e.substr(eq + 1);
  }
  return v;
}

Result<std::string> Builder::expand(const Stage& st, const std::string& word) const {
  return expand_word(word, scope(st), df_.escape);
}

std::optional<std::string> Builder::build_arg(const std::string& name) {
  auto it = build_args_.find(name);
  if (it == build_args_.end()) return std::nullopt;
  used_args_.insert(name);
  return it->second;
}

Status Builder::parse_build_args() {
  for (const auto& a : opts_.build_args) {
    auto eq = a.find('=');
    std::string k = a.substr(0, eq);
    if (k.empty() || k.find_first_of(" \t\n") != std::string::npos)
      return Error::invalid("invalid --build-arg '" + a + "': expected KEY=VALUE or KEY");
    if (eq != std::string::npos) {
      build_args_[k] = a.substr(eq + 1);
      continue;
    }
    // docker: `--build-arg K` takes K from the environment; unset, it is ignored.
    for (const auto& e : opts_.environ)
      if (e.compare(0, k.size() + 1, k + "=") == 0) build_args_[k] = e.substr(k.size() + 1);
  }
  return ok();
}

// The cache key of a step: everything its result depends on.
std::string Builder::cache_key(const Stage& st, const std::string& what) const {
  storage::Sha256 h;
  h.update("berth-build-v1\n");
  h.update(st.image_id);
  h.update("\n");
  h.update(what);
  return h.digest();
}

Result<std::optional<std::string>> Builder::cached(const std::string& key) {
  if (opts_.no_cache) return std::optional<std::string>();
  auto id = TRY(store_.db().build_cache_get(key));
  if (!id) return id;
  if (!TRY(store_.db().find_by_id(*id))) return std::optional<std::string>();
  return id;
}

Result<bool> Builder::reuse(Stage& st, const std::string& key) {
  auto hit = TRY(cached(key));
  if (!hit) return false;
  TRY(adopt(st, *hit));
  say(" ---> Using cache");
  say(" ---> " + short_id(*hit));
  ++result_.cached;
  return true;
}

Status Builder::adopt(Stage& st, const std::string& image_id) {
  storage::ImageRecord rec = TRY(store_.find(image_id));
  st.config = TRY(image::parse_image_config(rec.config));
  st.image_id = rec.id;
  return ok();
}

// Records the step's image: the stage's config (already changed by the step), a history
// entry, and the new layer when there is one.
Result<std::string> Builder::commit(Stage& st, const std::string& key, const std::string& created_by,
                                    const images::LayerBlob* layer) {
  image::ImageConfig c = st.config;
  std::string now = now_rfc3339();
  c.created = now;
  c.container.clear();
  bool empty = !layer || layer->digest.empty();
  if (!empty) c.rootfs.diff_ids.push_back(image::parse_digest(layer->digest).value());
  c.history.push_back(image::History{now, "", created_by, "", empty});
  images::InstallRequest ir;
  ir.config = image::serialize(c);
  if (!st.image_id.empty()) ir.layers = TRY(images::image_layer_blobs(store_, st.image_id));
  if (!empty) ir.layers.push_back(*layer);
  ir.parent = st.image_id;
  std::string id = TRY(images::install_image(store_, ir));
  TRY(store_.db().build_cache_put(key, id));
  st.config = std::move(c);
  st.image_id = id;
  return id;
}

// A step that only changes the config: from the cache, or committed.
Status Builder::config_step(Stage& st, const std::string& canonical,
                            const std::function<Status(image::ImageConfig&)>& change) {
  std::string key = cache_key(st, canonical);
  if (TRY(reuse(st, key))) return ok();
  TRY(change(st.config));
  std::string id = TRY(commit(st, key, "/bin/sh -c #(nop)  " + canonical, nullptr));
  say(" ---> " + short_id(id));
  return ok();
}

Result<BuildResult> Builder::run() {
  df_ = TRY(parse_dockerfile(opts_.dockerfile, opts_.dockerfile_name));
  TRY(parse_build_args());
  if (!opts_.platform.empty()) {
    image::Platform host = image::host_platform();
    std::string want = host.os + "/" + host.architecture;
    if (opts_.platform != want && opts_.platform != want + "/" + host.variant)
      return Error::invalid("--platform " + opts_.platform + ": berth builds for this machine's "
                            "platform only (" + want + ")");
  }
  ctx_ = TRY(BuildContext::open(opts_.context_dir, opts_.dockerfile_rel));

  // The instructions to run: the ARGs before the first FROM, then every stage up to the
  // target (all of them, as docker's classic builder does).
  const auto& all = df_.instructions;
  size_t end = all.size();
  if (!opts_.target.empty()) {
    bool found = false;
    for (size_t i = 0; i < all.size() && !found; ++i) {
      if (all[i].keyword != "FROM" || all[i].args.size() != 3) continue;
      if (lower(all[i].args[2]) != lower(opts_.target)) continue;
      found = true;
      end = i + 1;
      while (end < all.size() && all[end].keyword != "FROM") ++end;
    }
    if (!found) return Error::invalid("failed to reach build target " + opts_.target + " in Dockerfile");
  }
  int total = static_cast<int>(end);
  Stage* cur = nullptr;
  for (size_t i = 0; i < end; ++i) {
    const Instruction& ins = all[i];
    if (int sig = interrupted_by()) return interrupted_error(sig);
    say("Step " + std::to_string(i + 1) + "/" + std::to_string(total) + " : " + ins.original);
    ++result_.steps;
    Status s = [&]() -> Status {
      if (ins.keyword == "FROM") {
        stages_.push_back(Stage{});
        cur = &stages_.back();
        return from(*cur, ins);
      }
      if (!cur) {
        if (ins.keyword != "ARG") return Error::invalid("no FROM instruction before " + ins.keyword);
        return global_arg(ins);
      }
      return dispatch(*cur, ins);
    }();
    if (!s) return at(ins, s.error());
    if (int sig = interrupted_by()) return at(ins, interrupted_error(sig));
  }
  if (!cur) return Error::invalid("no FROM instruction in " + opts_.dockerfile_name);
  if (!opts_.labels.empty()) {
    std::string canonical = "LABEL";
    for (const auto& [k, v] : opts_.labels) canonical += " " + k + "=" + v;
    TRY(config_step(*cur, canonical, [&](image::ImageConfig& c) -> Status {
      for (const auto& [k, v] : opts_.labels) c.config.labels[k] = v;
      return ok();
    }));
  }
  if (cur->image_id.empty()) {
    // FROM scratch and nothing else: docker refuses to make an empty image this way too.
    return Error::invalid("the build made no image: the last stage is FROM scratch with no step");
  }
  std::vector<std::string> unused;
  for (const auto& [k, v] : build_args_)
    if (!used_args_.count(k) && !is_predefined_arg(k)) unused.push_back(k);
  if (!unused.empty())
    say("[Warning] One or more build-args [" + join(unused, " ") + "] were not consumed");
  for (const auto& t : opts_.tags) TRY(store_.db().tag(t, cur->image_id));
  result_.image_id = cur->image_id;
  say("Successfully built " + short_id(cur->image_id));
  for (const auto& t : opts_.tags) {
    auto ref = image::parse_reference(t);
    say("Successfully tagged " + (ref ? ref->familiar() : t));
  }
  return result_;
}

// An ARG word ("NAME" or "NAME=default"): its value is the --build-arg when given, else the
// default expanded in `scope`, else `inherited` (a global ARG's value for a stage's
// redeclaration); none when there is none of them.
std::pair<std::string, std::optional<std::string>> Builder::resolve_arg(
    const std::string& word, const Vars& scope, std::optional<std::string> inherited, Status& st) {
  auto eq = word.find('=');
  std::string name = word.substr(0, eq);
  std::optional<std::string> val = std::move(inherited);
  if (eq != std::string::npos) {
    auto v = expand_word(word.substr(eq + 1), scope, df_.escape);
    if (!v) st = std::move(v).error();
    else val = *v;
  }
  if (auto b = build_arg(name)) val = *b;
  return {name, val};
}

Status Builder::global_arg(const Instruction& ins) {
  Vars scope_now;
  for (const auto& [k, v] : global_args_)
    if (v) scope_now[k] = *v;
  for (const auto& w : ins.args) {
    Status st = ok();
    auto [name, val] = resolve_arg(w, scope_now, std::nullopt, st);
    TRY(st);
    global_args_[name] = val;
    if (val) scope_now[name] = *val;
  }
  return ok();
}

Status Builder::from(Stage& st, const Instruction& ins) {
  Vars meta;
  for (const auto& [k, v] : global_args_)
    if (v) meta[k] = *v;
  std::string ref = TRY(expand_word(ins.args.at(0), meta, df_.escape));
  if (ins.args.size() == 3) st.name = lower(ins.args[2]);
  std::string platform;
  for (const auto& f : ins.flags)
    if (f.rfind("platform=", 0) == 0) platform = TRY(expand_word(f.substr(9), meta, df_.escape));
  if (ref.empty()) return Error::invalid("base name (" + ins.args.at(0) + ") should not be blank");
  st.base = ref;
  if (ref == "scratch") {
    image::Platform host = image::host_platform();
    st.config = image::ImageConfig{};
    st.config.architecture = host.architecture;
    st.config.os = host.os;
    st.config.variant = host.variant;
    st.image_id.clear();
    say(" ---> ");
    return ok();
  }
  for (auto it = stages_.begin(); it != stages_.end() && &*it != &st; ++it) {
    if (it->name == lower(ref)) {
      st.config = it->config;
      st.image_id = it->image_id;
      say(" ---> " + short_id(st.image_id));
      return run_triggers(st);
    }
  }
  auto rec = TRY(store_.lookup(ref));
  if (!rec || opts_.pull) {
    if (!opts_.pull_image) return Error(ENOENT, "No such image: " + ref);
    TRY(opts_.pull_image(ref, platform.empty() ? opts_.platform : platform));
    rec = TRY(store_.lookup(ref));
    if (!rec) return Error(ENOENT, "No such image: " + ref);
  }
  TRY(adopt(st, rec->id));
  say(" ---> " + short_id(st.image_id));
  return run_triggers(st);
}

// The base image's ONBUILD triggers run first, as if they followed FROM; the new image does
// not inherit them.
Status Builder::run_triggers(Stage& st) {
  std::vector<std::string> triggers = st.config.config.on_build;
  if (triggers.empty()) return ok();
  say("# Executing " + std::to_string(triggers.size()) + " build trigger" +
      (triggers.size() == 1 ? "" : "s"));
  st.config.config.on_build.clear();
  for (const auto& t : triggers) {
    std::string text = std::string("FROM scratch\n") + t + "\n";
    auto parsed = parse_dockerfile(text, "ONBUILD trigger");
    if (!parsed || parsed->instructions.size() != 2)
      return Error::invalid("invalid ONBUILD trigger in the base image: " + t);
    const Instruction& ins = parsed->instructions[1];
    if (ins.keyword == "ONBUILD" || ins.keyword == "FROM" || ins.keyword == "MAINTAINER")
      return Error::invalid(ins.keyword + " isn't allowed as an ONBUILD trigger");
    TRY(dispatch(st, ins));
  }
  return ok();
}

Status Builder::dispatch(Stage& st, const Instruction& ins) {
  const std::string& k = ins.keyword;
  if (k == "RUN") return run_step(st, ins);
  if (k == "COPY" || k == "ADD") return copy_step(st, ins);
  if (k == "WORKDIR") return workdir_step(st, ins);
  if (k == "ARG") return arg_step(st, ins);
  return config_instruction(st, ins);
}

Status Builder::arg_step(Stage& st, const Instruction& ins) {
  std::string canonical = "ARG";
  for (const auto& w : ins.args) {
    std::string name = w.substr(0, w.find('='));
    auto g = global_args_.find(name);
    Status status = ok();
    auto [n, val] = resolve_arg(w, scope(st), g == global_args_.end() ? std::nullopt : g->second, status);
    TRY(status);
    st.args[n] = val;
    canonical += " " + w;
  }
  // docker's classic builder records an image for an ARG (an empty_layer history entry
  // "ARG name=default" as written): its key holds the declaration, not the value, so a new
  // --build-arg value rebuilds only the RUN steps after it (their keys hold the values) and
  // what follows them.
  return config_step(st, canonical, [](image::ImageConfig&) -> Status { return ok(); });
}

// ENV, LABEL, CMD, ENTRYPOINT, USER, EXPOSE, VOLUME, SHELL, STOPSIGNAL, HEALTHCHECK,
// ONBUILD, MAINTAINER: the config only.
Status Builder::config_instruction(Stage& st, const Instruction& ins) {
  const std::string& k = ins.keyword;
  using Cfg = image::ImageConfig;
  auto shell_of = [&](const Cfg& c) {
    return c.config.shell ? *c.config.shell : std::vector<std::string>{"/bin/sh", "-c"};
  };
  auto command = [&](const Cfg& c, const Instruction& in) -> std::vector<std::string> {
    if (in.json) return in.args;
    std::vector<std::string> v = shell_of(c);
    v.push_back(in.args.empty() ? std::string() : in.args[0]);
    return v;
  };
  if (k == "ENV" || k == "LABEL") {
    std::vector<std::pair<std::string, std::string>> kv;
    for (const auto& [name, value] : ins.kv) {
      std::string n = TRY(expand(st, name));
      std::string v = TRY(expand(st, value));
      if (n.empty()) return Error::invalid(k + " names can not be blank");
      kv.emplace_back(n, v);
    }
    std::string canonical = k;
    for (const auto& [n, v] : kv) canonical += " " + n + "=" + v;
    return config_step(st, canonical, [&](Cfg& c) -> Status {
      for (const auto& [n, v] : kv) {
        if (k == "LABEL") {
          c.config.labels[n] = v;
          continue;
        }
        bool replaced = false;
        for (auto& e : c.config.env)
          if (e.substr(0, e.find('=')) == n) {
            e = n + "=" + v;
            replaced = true;
          }
        if (!replaced) c.config.env.push_back(n + "=" + v);
      }
      return ok();
    });
  }
  if (k == "CMD" || k == "ENTRYPOINT") {
    std::vector<std::string> cmd = command(st.config, ins);
    std::string canonical = k + " " + json_array(cmd);
    bool is_cmd = k == "CMD";
    if (is_cmd) st.cmd_set = true;
    bool reset_cmd = !is_cmd && !st.cmd_set;
    return config_step(st, canonical + (reset_cmd ? " (cmd reset)" : ""), [&](Cfg& c) -> Status {
      if (is_cmd) {
        c.config.cmd = cmd;
      } else {
        c.config.entrypoint = cmd;
        // docker: an ENTRYPOINT resets a CMD inherited from the base image.
        if (reset_cmd) c.config.cmd.reset();
      }
      return ok();
    });
  }
  if (k == "USER" || k == "STOPSIGNAL" || k == "MAINTAINER") {
    std::string v = TRY(expand(st, ins.args.empty() ? std::string() : ins.args[0]));
    if (v.empty()) return Error::invalid(k + " requires exactly one argument");
    return config_step(st, k + " " + v, [&](Cfg& c) -> Status {
      if (k == "USER") c.config.user = v;
      else if (k == "STOPSIGNAL") c.config.stop_signal = v;
      else c.author = v;
      return ok();
    });
  }
  if (k == "EXPOSE") {
    std::set<std::string> ports;
    for (const auto& w : ins.args) {
      for (const auto& p : TRY(expand_words(w, scope(st), df_.escape))) {
        std::string port = p, proto = "tcp";
        if (auto sl = p.find('/'); sl != std::string::npos) {
          port = p.substr(0, sl);
          proto = lower(p.substr(sl + 1));
        }
        if (proto != "tcp" && proto != "udp" && proto != "sctp")
          return Error::invalid("invalid proto: " + proto);
        auto dash = port.find('-');
        auto lo = parse_uint(port.substr(0, dash));
        auto hi = dash == std::string::npos ? lo : parse_uint(port.substr(dash + 1));
        if (!lo || !hi || *lo > 65535 || *hi > 65535 || *hi < *lo || *hi - *lo > 65535)
          return Error::invalid("invalid containerPort: " + port);
        for (uint64_t n = *lo; n <= *hi; ++n) ports.insert(std::to_string(n) + "/" + proto);
      }
    }
    std::string canonical = "EXPOSE";
    for (const auto& p : ports) canonical += " " + p;
    return config_step(st, canonical, [&](Cfg& c) -> Status {
      c.config.exposed_ports.insert(ports.begin(), ports.end());
      return ok();
    });
  }
  if (k == "VOLUME") {
    std::vector<std::string> vols;
    for (const auto& w : ins.args) {
      if (ins.json) vols.push_back(TRY(expand(st, w)));
      else
        for (auto& v : TRY(expand_words(w, scope(st), df_.escape))) vols.push_back(v);
    }
    for (const auto& v : vols)
      if (trim(v).empty()) return Error::invalid("VOLUME specified can not be an empty string");
    if (vols.empty()) return Error::invalid("VOLUME requires at least one argument");
    return config_step(st, "VOLUME " + json_array(vols), [&](Cfg& c) -> Status {
      for (const auto& v : vols) c.config.volumes.insert(v);
      return ok();
    });
  }
  if (k == "SHELL") {
    if (!ins.json || ins.args.empty())
      return Error::invalid("SHELL requires the arguments to be in JSON form");
    std::vector<std::string> sh = ins.args;
    return config_step(st, "SHELL " + json_array(sh), [&](Cfg& c) -> Status {
      c.config.shell = sh;
      return ok();
    });
  }
  if (k == "HEALTHCHECK") return healthcheck(st, ins);
  if (k == "ONBUILD") {
    if (ins.sub.empty()) return Error::invalid("ONBUILD requires at least one argument");
    // The trigger as docker stores it ("RUN make", heredoc bodies included): the parser's.
    std::string text = ins.args.at(0);
    return config_step(st, "ONBUILD " + text, [&](Cfg& c) -> Status {
      c.config.on_build.push_back(text);
      return ok();
    });
  }
  return Error::invalid("unknown instruction: " + k);
}

Status Builder::healthcheck(Stage& st, const Instruction& ins) {
  image::Healthcheck hc;
  if (ins.args.size() == 1 && upper(ins.args[0]) == "NONE" && ins.sub.empty()) {
    hc.test = {"NONE"};
  } else {
    const Instruction& cmd = ins.sub.empty() ? ins : ins.sub[0];
    if (cmd.args.empty()) return Error::invalid("HEALTHCHECK requires at least one argument");
    if (cmd.json) {
      hc.test = {"CMD"};
      hc.test.insert(hc.test.end(), cmd.args.begin(), cmd.args.end());
    } else {
      hc.test = {"CMD-SHELL", cmd.args[0]};
    }
    for (const auto& f : ins.flags) {
      auto eq = f.find('=');
      std::string name = f.substr(0, eq), val = eq == std::string::npos ? "" : f.substr(eq + 1);
      if (name == "retries") {
        auto n = parse_int(val);
        if (!n || *n < 0) return Error::invalid("--retries cannot be negative (" + val + ")");
        hc.retries = static_cast<int>(*n);
        continue;
      }
      int64_t d = TRY(parse_go_duration(val));
      if (d != 0 && d < 1000000)
        return Error::invalid("Interval \"" + name + "\" cannot be less than 1ms");
      if (name == "interval") hc.interval = d;
      else if (name == "timeout") hc.timeout = d;
      else if (name == "start-period") hc.start_period = d;
      else if (name == "start-interval") hc.start_interval = d;
      else return Error::invalid("unknown flag: --" + name);
    }
  }
  std::string canonical = "HEALTHCHECK " + json_array(hc.test) + " " + std::to_string(hc.interval) +
                          " " + std::to_string(hc.timeout) + " " + std::to_string(hc.start_period) +
                          " " + std::to_string(hc.start_interval) + " " + std::to_string(hc.retries);
  return config_step(st, canonical, [&](image::ImageConfig& c) -> Status {
    c.config.healthcheck = hc;
    return ok();
  });
}

namespace {

volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int sig) { g_interrupted = sig; }

// While a build runs, INT/TERM/HUP/QUIT only set a flag that is checked between steps (a RUN
// step's attach catches them itself and kills the step's process), so an interrupted build
// still removes its step container and leaves nothing mounted.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction sa = {};
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < 4; ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~InterruptGuard() {
    for (size_t i = 0; i < 4; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  static constexpr int kSignals[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction old_[4];
};

}  // namespace

int interrupted_by() { return g_interrupted; }

Error interrupted_error(int sig) {
  return Error::invalid("the build was interrupted (" + std::string(::strsignal(sig)) + ")");
}

bool is_predefined_arg(std::string_view name) { return kPredefinedArgSet.count(name) > 0; }

Result<BuildResult> build(containers::Engine& engine, const BuildOptions& opts) {
  InterruptGuard guard;
  Builder b(engine, opts);
  return b.run();
}

}  // namespace berth::build
